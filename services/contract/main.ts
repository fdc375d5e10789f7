// The contract service: serves specs/contract.yaml through createContractDelegate.
import { fileURLToPath } from 'node:url';
import spec from '../../generated/contract/spec.json' with { type: 'json' };
import { createContractRouter } from '../../generated/contract/router.js';
import { type ServiceDefinition, runMain } from '../common/bootstrap.js';
import { OutboxRelay } from '../common/events/outbox-relay.js';
import { createContractDelegate } from './contract-delegate.js';
import { ContractRepository, contractIndexes } from './contract-repository.js';

export const contractService: ServiceDefinition = {
  name: 'contract',
  defaultPort: 8081,
  spec,
  indexes: contractIndexes,
  async createApi({ db, log, routerOptions, bus, onShutdown }) {
    const repository = new ContractRepository(db);
    // Changes a crash left unprojected are applied before serving reads.
    const recovered = await repository.projectPending();
    if (recovered > 0) log.warn({ recovered }, 'projected contract changes left by an interrupted write');
    // Every change is announced: the change records are the outbox, relayed to the bus.
    const relay = new OutboxRelay(bus, repository, log.child({ component: 'outbox-relay' }));
    relay.start();
    onShutdown(() => relay.stop());
    return createContractRouter(createContractDelegate({ repository, onChange: () => relay.notify() }), routerOptions);
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(contractService);
