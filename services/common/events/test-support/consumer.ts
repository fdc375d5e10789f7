// Child process for event-bus.test.ts: a consumer of `contract.subscribed` whose handler's
// effect is an insert keyed by the event id. The test SIGKILLs it mid-batch and starts it again.
// It reports each handled event over IPC; since a SIGKILL loses what was not yet sent, every
// invocation, colliding effect attempt and inbox skip is also written to the database.
// The inbox's clock can run ahead (INBOX_CLOCK_AHEAD_MS): a process restarted with the inbox
// lease as its lead sees the claims the killed one left as expired at once, as it would once the
// lease had passed, without the test waiting it out. Its delivery outcomes (the bus's counters)
// come with the final report.
//   env: AMQP_URL, MONGO_URL, BUS_PREFIX, BUS_SERVICE, BUS_DB, PREFETCH, HANDLER_DELAY_MS, HANDLER_TIMEOUT_MS,
//        INBOX_CLOCK_AHEAD_MS, LOG_LEVEL, RETRY_DELAYS_MS
import { Registry } from 'prom-client';
import { createLogger } from '../../logger.js';
import { createEventMetrics } from '../../metrics.js';
import { connectMongo } from '../../mongo.js';
import { EventBus } from '../event-bus.js';
import { CountingInbox, type EffectCounters, effectHandler } from './fixtures.js';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const database = await connectMongo(env('MONGO_URL'), env('BUS_DB'));
const skips = database.db.collection<{ eventId: string; pid: number }>('inbox_skips');
const counters: EffectCounters = { invocations: 0, effects: 0, duplicateAttempts: 0 };
const metrics = createEventMetrics(new Registry());
const clockAheadMs = Number(process.env.INBOX_CLOCK_AHEAD_MS ?? 0);
const bus = new EventBus({
  url: env('AMQP_URL'),
  prefix: env('BUS_PREFIX'),
  service: env('BUS_SERVICE'),
  log: createLogger(env('BUS_SERVICE'), process.env.LOG_LEVEL ?? 'silent'),
  inbox: new CountingInbox(
    database.db,
    async (eventId) => {
      await skips.insertOne({ eventId, pid: process.pid });
    },
    { leaseMs: Number(process.env.HANDLER_TIMEOUT_MS ?? 30_000), now: () => new Date(Date.now() + clockAheadMs) },
  ),
  retryDelaysMs: (process.env.RETRY_DELAYS_MS ?? '100,200,400').split(',').map(Number),
  prefetch: Number(process.env.PREFETCH ?? 20),
  metrics,
});
const effect = effectHandler(database.db, counters, { delayMs: Number(process.env.HANDLER_DELAY_MS ?? 0), log: true });
bus.subscribe('contract.subscribed', async (event) => {
  await effect(event);
  process.send?.({ kind: 'handled', invocations: counters.invocations, eventId: event.id });
});
await bus.start();
process.send?.({ kind: 'ready', pid: process.pid });

process.once('SIGTERM', () => {
  void (async () => {
    await bus.close();
    await database.close();
    const outcomes = Object.fromEntries((await metrics.consumed.get()).values.map((v) => [v.labels.outcome, v.value]));
    process.send?.({ kind: 'stopped', ...counters, outcomes }, () => process.exit(0));
  })();
});
