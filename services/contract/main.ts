// The contract service: serves specs/contract.yaml through createContractDelegate.
import { fileURLToPath } from 'node:url';
import spec from '../../generated/contract/spec.json' with { type: 'json' };
import { createContractRouter } from '../../generated/contract/router.js';
import { type ServiceDefinition, runMain } from '../common/bootstrap.js';
import { createContractDelegate } from './contract-delegate.js';
import { ContractRepository, contractIndexes } from './contract-repository.js';

export const contractService: ServiceDefinition = {
  name: 'contract',
  defaultPort: 8081,
  spec,
  indexes: contractIndexes,
  async createApi({ db, routerOptions, outbox, idempotency, announce }) {
    // Every change is announced: the repository writes an outbox marker per change and builds
    // the event from the stored change.
    const repository = new ContractRepository(db, outbox);
    outbox.register(repository.outboxSources());
    return createContractRouter(createContractDelegate({ repository, commands: idempotency, onChange: announce }), routerOptions);
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(contractService);
