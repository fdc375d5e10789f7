// Child process for billing-run.test.ts: a billing instance that starts a period's run and dies
// (SIGKILL: no shutdown, nothing flushed) once it has issued KILL_AFTER invoices — what a crash
// or an OOM-kill mid-run leaves behind. It builds what main.ts builds for a run — the
// BillingRepository with its Outbox, the BillingRunner — on the service's database, and runs the
// production code; only the runner's onInvoice hook is used to die.
//   env: MONGO_URL, MONGO_DB, PERIOD, KILL_AFTER
// It writes nothing to stdout; stderr says why when it could not reach its kill point (exit 1).
import { pino } from 'pino';
import { Outbox } from '../../common/events/outbox.js';
import { connectMongo } from '../../common/mongo.js';
import { BillingRepository } from '../billing-repository.js';
import { BillingRunner } from '../billing-run.js';

const giveUp = (why: string): never => {
  process.stderr.write(`run-and-die: ${why}\n`);
  process.exit(1);
};

const { MONGO_URL, MONGO_DB, PERIOD, KILL_AFTER } = process.env;
if (!MONGO_URL || !MONGO_DB || !PERIOD || !KILL_AFTER) giveUp('MONGO_URL, MONGO_DB, PERIOD and KILL_AFTER are required');
const killAfter = Number(KILL_AFTER);

const database = await connectMongo(MONGO_URL!, MONGO_DB!);
const outbox = new Outbox(database.db);
const repository = new BillingRepository(database.db, outbox);
outbox.register(repository.outboxSources());
const runner = new BillingRunner({
  repository,
  log: pino({ level: 'silent' }),
  clock: () => new Date(),
  announce: () => {},
  staleAfterMs: 60_000,
  batchSize: 50,
  progressEvery: 5,
  onInvoice: (issued) => {
    if (issued >= killAfter) process.kill(process.pid, 'SIGKILL');
  },
});
const { created } = await runner.start(PERIOD!, 'operator');
if (!created) giveUp(`the run of ${PERIOD} existed already`);
await runner.launch(`run_${PERIOD}`);
giveUp(`the run ended before ${killAfter} invoices`);
