// Child process for event-bus.test.ts: the contract service's write path cut short. It appends a
// contract's creation with ContractRepository.append (an outbox marker first, then the change)
// and SIGKILLs itself at once: no relay ever ran here.
//   env: MONGO_URL, BUS_DB, CONTRACT_ID
import { ContractRepository, contractIndexes } from '../../../contract/contract-repository.js';
import { connectMongo, ensureIndexes } from '../../mongo.js';
import { mandateSealer } from '../../sealed-values.js';
import { Outbox, outboxIndexes } from '../outbox.js';
import { storedContract } from './fixtures.js';

const contractId = process.env.CONTRACT_ID!;
const database = await connectMongo(process.env.MONGO_URL!, process.env.BUS_DB!);
await ensureIndexes(database.db, { ...contractIndexes, ...outboxIndexes });
const outbox = new Outbox(database.db);
const repository = new ContractRepository(database.db, outbox, mandateSealer({}, {}).sealer);
outbox.register(repository.outboxSources());
const contract = storedContract(contractId);
const result = await repository.append({
  contractId,
  version: 1,
  type: 'subscribed',
  status: 'active',
  at: contract.createdAt,
  actor: 'op-crash-test',
  requestId: `req-${contractId}`,
  correlationId: `corr-${contractId}`,
  contract,
});
if (!result.appended) throw new Error('the change was already there');
process.kill(process.pid, 'SIGKILL');
