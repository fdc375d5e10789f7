// The contract service: serves specs/contract.yaml through createContractDelegate.
import { fileURLToPath } from 'node:url';
import spec from '../../generated/contract/spec.json' with { type: 'json' };
import { createContractRouter } from '../../generated/contract/router.js';
import { type ServiceDefinition, runMain } from '../common/bootstrap.js';
import { loadConfig } from '../common/config.js';
import { MANDATE_SEAL_DEV_KEY_WARNING, mandateSealSpecs, mandateSealer } from '../common/sealed-values.js';
import { createContractDelegate } from './contract-delegate.js';
import { ContractRepository, contractIndexes } from './contract-repository.js';

export const contractService: ServiceDefinition = {
  name: 'contract',
  defaultPort: 8081,
  spec,
  indexes: contractIndexes,
  async createApi({ env, log, db, routerOptions, outbox, idempotency, announce }) {
    // Events carry the mandate's IBAN sealed for the payment gateway (billing passes it on).
    const { sealer, devKey } = mandateSealer(loadConfig(mandateSealSpecs(), env), env);
    if (devKey) log.warn(MANDATE_SEAL_DEV_KEY_WARNING);
    // Every change is announced: the repository writes an outbox marker per change and builds
    // the event from the stored change.
    const repository = new ContractRepository(db, outbox, sealer);
    outbox.register(repository.outboxSources());
    return createContractRouter(createContractDelegate({ repository, commands: idempotency, onChange: announce }), routerOptions);
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(contractService);
