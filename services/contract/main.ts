// The contract service: serves specs/contract.yaml through createContractDelegate.
import { fileURLToPath } from 'node:url';
import spec from '../../generated/contract/spec.json' with { type: 'json' };
import { createContractRouter } from '../../generated/contract/router.js';
import { type ServiceDefinition, runMain } from '../common/bootstrap.js';
import { Outbox, outboxIndexes } from '../common/events/outbox.js';
import { OutboxRelay } from '../common/events/outbox-relay.js';
import { createContractDelegate } from './contract-delegate.js';
import { ContractRepository, contractIndexes } from './contract-repository.js';

export const contractService: ServiceDefinition = {
  name: 'contract',
  defaultPort: 8081,
  spec,
  indexes: { ...contractIndexes, ...outboxIndexes },
  async createApi({ db, log, routerOptions, bus, onShutdown }) {
    // Every change is announced: an outbox marker per change, relayed to the bus.
    const outbox = new Outbox(db);
    const repository = new ContractRepository(db, outbox);
    outbox.register(repository.outboxSources());
    const relay = new OutboxRelay(bus, outbox, log.child({ component: 'outbox-relay' }));
    relay.start();
    onShutdown(() => relay.stop());
    return createContractRouter(createContractDelegate({ repository, onChange: () => relay.notify() }), routerOptions);
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(contractService);
