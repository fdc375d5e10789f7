// The event bus against real RabbitMQ and FerretDB/MongoDB (docs/architecture.md, events): no event lost or
// applied twice while connections drop, the broker restarts, a consumer or a publisher is
// killed; failing handlers retried then parked; malformed messages parked unhandled;
// duplicates applied once.
//
// "Applied once" is measured, not assumed: the test handler's effect is an insert into
// `effects` keyed by the event id, so a repeated attempt collides and is counted apart
// (duplicateAttempts) instead of silently merging; handler invocations and the inbox's skipped
// redeliveries are counted too, and every count is printed. The duplicates test asserts on the
// inbox itself (its collections, the bus's `duplicate` outcome counter) and on one handler run
// per event, so the effect's unique key is never what makes it pass.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { expect } from 'chai';
import { type Db, MongoClient } from 'mongodb';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import {
  AMQP_PREFIX,
  AMQP_URL,
  MONGO_URL,
  RUN_ID,
  TEST_RETRY_DELAYS_MS,
  deleteTopology,
  dropDatabase,
  startTestService,
} from '../../../tools/testing/service-harness.js';
import { createTokenIssuer } from '../../../tools/testing/tokens.js';
import { contractService } from '../../contract/main.js';
import { logKey } from '../data/sequenced-log.js';
import { newId } from '../ids.js';
import { type EventMetrics, createEventMetrics } from '../metrics.js';
import type { CloudEvent } from './cloud-event.js';
import { EventBus, HEADERS } from './event-bus.js';
import { Inbox } from './inbox.js';
import { CountingInbox, type EffectCounters, contractChanged, effectHandler } from './test-support/fixtures.js';

const execFileAsync = promisify(execFile);
const CONSUMER_SCRIPT = fileURLToPath(new URL('./test-support/consumer.ts', import.meta.url));
const APPEND_SCRIPT = fileURLToPath(new URL('./test-support/append-and-die.ts', import.meta.url));
const PREFETCH = 20;

// ---------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns something truthy; fails with `what` and the last value at the deadline. */
async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs: number, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(intervalMs);
  }
}

async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('rabbitmqctl', args, { timeout: 120_000 });
  return stdout;
}

/** Pids of the broker's connections whose client-provided name is `name` (3.10 has no user_provided_name column). */
async function connectionPids(name: string): Promise<string[]> {
  const out = await rabbitmqctl('list_connections', '-q', '--no-table-headers', 'pid', 'client_properties');
  return out
    .split('\n')
    .filter((line) => line.includes(`{"connection_name","${name}"}`))
    .map((line) => line.split('\t')[0]!.trim());
}

/** Brings the broker back (idempotent) and waits until it serves again. */
async function ensureRabbitRunning(): Promise<void> {
  await rabbitmqctl('start_app');
  await rabbitmqctl('await_startup');
}

/** A pino logger that counts messages by text (e.g. the bus's disconnect warnings); echoes them with TEST_LOG_LEVEL. */
function capturingLogger(): { log: Logger; count(msg: string): number; eventIds(msg: string): string[] } {
  const counts = new Map<string, number>();
  const ids = new Map<string, string[]>();
  const echo = process.env.TEST_LOG_LEVEL && process.env.TEST_LOG_LEVEL !== 'silent';
  const log = pino(
    { level: echo ? process.env.TEST_LOG_LEVEL! : 'warn' },
    {
      write(line: string) {
        const { msg, eventId } = JSON.parse(line) as { msg?: string; eventId?: string };
        if (msg) counts.set(msg, (counts.get(msg) ?? 0) + 1);
        if (msg && eventId) ids.set(msg, [...(ids.get(msg) ?? []), eventId]);
        if (echo) process.stderr.write(line);
      },
    },
  );
  return { log, count: (msg) => counts.get(msg) ?? 0, eventIds: (msg) => ids.get(msg) ?? [] };
}
const DISCONNECTED = 'disconnected from RabbitMQ; reconnecting';
const REPUBLISHED = 'connection lost before the confirm; publishing again';

/** One test's own prefix, databases and buses; `cleanup()` removes all of them, also after a failure. */
class Scenario {
  readonly prefix: string;
  private readonly dbNames = new Set<string>();
  private readonly buses: EventBus[] = [];
  private readonly services = new Set<string>();
  private readonly children: ChildProcess[] = [];
  private readonly mongo = new MongoClient(MONGO_URL, { serverSelectionTimeoutMS: 5_000 });
  private amqp?: amqplib.ChannelModel;
  private channel?: amqplib.Channel;
  /** Runs first at cleanup (e.g. bring the broker back before deleting queues). */
  readonly firstAtCleanup: (() => Promise<void>)[] = [];

  constructor(readonly name: string) {
    this.prefix = `${AMQP_PREFIX}_${name}`;
  }

  db(suffix: string): Db {
    const dbName = `test_${RUN_ID}_bus_${this.name}_${suffix}`;
    this.dbNames.add(dbName);
    return this.mongo.db(dbName);
  }

  bus(service: string, options: { log?: Logger; inbox?: Inbox; metrics?: EventMetrics } = {}): EventBus {
    const bus = new EventBus({
      url: AMQP_URL,
      prefix: this.prefix,
      service,
      log: options.log ?? pino({ level: 'silent' }),
      ...(options.inbox ? { inbox: options.inbox } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
      prefetch: PREFETCH,
      retryDelaysMs: TEST_RETRY_DELAYS_MS,
    });
    this.buses.push(bus);
    this.services.add(service);
    return bus;
  }

  /** A plain amqplib channel, to look at queues and to publish raw bytes. */
  async raw(): Promise<amqplib.Channel> {
    if (!this.channel) {
      this.amqp = await amqplib.connect(AMQP_URL);
      this.channel = await this.amqp.createChannel();
    }
    return this.channel;
  }

  async messageCount(queue: string): Promise<number> {
    return (await (await this.raw()).checkQueue(queue)).messageCount;
  }

  track(child: ChildProcess): ChildProcess {
    this.children.push(child);
    return child;
  }

  /** A service whose queues (under this prefix) must go at cleanup, declared by another process or bus. */
  addService(service: string): void {
    this.services.add(service);
  }

  async cleanup(): Promise<void> {
    for (const hook of this.firstAtCleanup) await hook();
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.allSettled(this.buses.map((bus) => bus.close()));
    await this.amqp?.close().catch(() => {});
    await this.mongo.close();
    for (const service of this.services) await deleteTopology(this.prefix, service).catch(() => {});
    for (const dbName of this.dbNames) await dropDatabase(dbName);
  }
}

/** Publishes `contract.subscribed` with a stable id; on a rejection, publishes the same event again (as the outbox relay would). */
async function publishStable(bus: EventBus, id: string, stats: { confirmed: number; rejected: number }): Promise<void> {
  const data = contractChanged();
  for (;;) {
    try {
      await bus.publish('contract.subscribed', data, { id, correlationId: `corr-${id}` });
      stats.confirmed++;
      return;
    } catch {
      stats.rejected++;
      await sleep(100);
    }
  }
}

/** Asserts from the consumer's database that each of `ids` was applied, and nothing else: its effect and its inbox record. */
async function assertAppliedOnce(db: Db, ids: string[], label: string) {
  const effects = await db.collection<{ _id: string }>('effects').find({}, { projection: { _id: 1 } }).toArray();
  const applied = new Set(effects.map((e) => e._id));
  const published = new Set(ids);
  const lost = ids.filter((id) => !applied.has(id));
  const unexpected = [...applied].filter((id) => !published.has(id));
  const inboxRecords = await db.collection('inbox').countDocuments();
  expect(lost, `${label}: events never applied`).to.deep.equal([]);
  expect(unexpected, `${label}: effects of events never published`).to.deep.equal([]);
  expect(effects.length, `${label}: effect documents`).to.equal(ids.length);
  expect(inboxRecords, `${label}: inbox records`).to.equal(ids.length);
  return { effects: effects.length, distinct: applied.size, lost: lost.length, inboxRecords };
}

// ---------------------------------------------------------------------------------------------

describe('EventBus on RabbitMQ and FerretDB (integration)', function () {
  this.timeout(60_000);

  describe('1,000 events through a broken connection', () => {
    const TOTAL = 1_000;

    interface Disruption {
      /** Runs once 300 publishes are confirmed, while publishing goes on. */
      strike(): Promise<void>;
      /** Runs after the last publish was issued: ends the disruption (e.g. restarts the broker). */
      recover(): Promise<void>;
    }

    /**
     * A publisher bus and a consumer bus in this process. Publishing runs at a steady pace
     * (~500/s) through the strike, so publishes are in flight when it lands; events from
     * `gateAt` on wait until the strike is done, so some are surely published while it lasts.
     */
    async function run(name: string, gateAt: number, prepare: (s: Scenario) => Promise<Disruption>) {
      const s = new Scenario(name);
      try {
        const db = s.db('consumer');
        const consumerLog = capturingLogger();
        const publisherLog = capturingLogger();
        const counters: EffectCounters = { invocations: 0, effects: 0, duplicateAttempts: 0, duplicateIds: [] };
        const inbox = new CountingInbox(db);
        const consumer = s.bus('consumer', { log: consumerLog.log, inbox });
        consumer.subscribe('contract.subscribed', effectHandler(db, counters));
        const publisher = s.bus('publisher', { log: publisherLog.log });
        await consumer.start();
        await waitFor('the publisher to connect', () => publisher.isConnected(), 10_000);
        const disruption = await prepare(s);

        const ids = Array.from({ length: TOTAL }, (_, i) => `${name}-${i}-${randomUUID()}`);
        const stats = { confirmed: 0, rejected: 0 };
        let issued = 0;
        const started = Date.now();
        const snapshot = () => ({ issued, confirmed: stats.confirmed, handled: counters.effects, ms: Date.now() - started });
        let atStrike: ReturnType<typeof snapshot> | undefined;
        let afterStrike: ReturnType<typeof snapshot> | undefined;
        const struck = waitFor('300 confirmed publishes', () => stats.confirmed >= 300, 30_000, 2).then(async () => {
          atStrike = snapshot();
          await disruption.strike();
          afterStrike = snapshot();
        });
        const publishes: Promise<void>[] = [];
        for (let i = 0; i < TOTAL; i++) {
          if (i === gateAt) await struck;
          publishes.push(publishStable(publisher, ids[i]!, stats));
          issued++;
          if (i % 10 === 9) await sleep(20);
        }
        await struck;
        await disruption.recover();
        await waitFor('every publish confirmed', () => stats.confirmed === TOTAL, 60_000, 50);
        await Promise.all(publishes);
        const publishedMs = Date.now() - started;
        await waitFor(`${TOTAL} effects`, () => counters.effects >= TOTAL, 60_000, 50);
        const handledMs = Date.now() - started;
        // Closing the consumer returns whatever it still held unacked; nothing may be left to redeliver.
        await consumer.close();
        await publisher.close();
        const left = await s.messageCount(consumer.topology.queue);
        const parked = await s.messageCount(consumer.topology.parking);
        const summary = await assertAppliedOnce(db, ids, name);
        const report = {
          published: TOTAL,
          confirmed: stats.confirmed,
          publishRejections: stats.rejected,
          unconfirmedResentByBus: publisherLog.count(REPUBLISHED),
          atStrike,
          afterStrike,
          ...summary,
          handlerInvocations: counters.invocations,
          duplicateEffectAttempts: counters.duplicateAttempts,
          inboxSkippedRedeliveries: inbox.skipped,
          consumerDisconnects: consumerLog.count(DISCONNECTED),
          publisherDisconnects: publisherLog.count(DISCONNECTED),
          leftInQueue: left,
          parked,
          publishedMs,
          handledMs,
        };
        console.log(`      [${name}]`, JSON.stringify(report));
        expect(afterStrike!.issued, 'struck mid-stream (publisher)').to.be.below(TOTAL);
        expect(afterStrike!.handled, 'struck mid-stream (consumer)').to.be.below(TOTAL);
        expect(stats.rejected, 'publish() never failed: it waited through the disconnection').to.equal(0);
        expect(consumerLog.count(DISCONNECTED), 'the consumer lost its connection').to.be.at.least(1);
        expect(publisherLog.count(DISCONNECTED), 'the publisher lost its connection').to.be.at.least(1);
        expect(counters.effects, 'effects applied (in memory)').to.equal(TOTAL);
        expect(counters.invocations, 'invocations = effects + repeated attempts').to.equal(counters.effects + counters.duplicateAttempts);
        // Redeliveries of events handled before the strike (how many depends on which acks were
        // in flight) come a reconnection later, and the inbox skips them. Only a copy the
        // publisher sent again may meet its original in flight.
        const resent = new Set(publisherLog.eventIds(REPUBLISHED));
        expect(counters.duplicateIds!.filter((id) => !resent.has(id)), 'repeated attempts of events the publisher did not resend').to.deep.equal([]);
        expect(left, 'messages left in the queue').to.equal(0);
        expect(parked, 'messages parked').to.equal(0);
        return report;
      } finally {
        await s.cleanup();
      }
    }

    it('loses nothing and applies each once when both connections are closed mid-stream', async function () {
      this.timeout(60_000);
      await run('connclose', 900, async (s) => {
        const names = [`${s.prefix}.publisher`, `${s.prefix}.consumer`];
        const before = await Promise.all(names.map(connectionPids));
        for (const [i, pids] of before.entries()) expect(pids, `connection ${names[i]}`).to.have.length(1);
        return {
          strike: async () => {
            await Promise.all(before.flat().map((pid) => rabbitmqctl('close_connection', pid, 'test: closed mid-stream')));
          },
          // Both come back, under new connections.
          recover: async () => {
            for (const [i, name] of names.entries()) {
              await waitFor(
                `${name} to reconnect`,
                async () => {
                  const now = await connectionPids(name);
                  return now.length === 1 && now[0] !== before[i]![0];
                },
                20_000,
                200,
              );
            }
          },
        };
      });
    });

    it('loses nothing and applies each once while RabbitMQ is stopped and started', async function () {
      this.timeout(90_000);
      let downMs = 0;
      try {
        await run('brokerrestart', 600, async (s) => {
          s.firstAtCleanup.push(ensureRabbitRunning);
          let stopping = 0;
          return {
            strike: async () => {
              stopping = Date.now();
              await rabbitmqctl('stop_app');
            },
            // Events 600… were published while the broker was down (they waited in memory); now it comes back.
            recover: async () => {
              await ensureRabbitRunning();
              downMs = Date.now() - stopping;
              console.log(`      [brokerrestart] broker down for ${downMs} ms (stop_app → await_startup)`);
            },
          };
        });
      } finally {
        await ensureRabbitRunning();
      }
    });
  });

  it('applies each event once when the consumer process is SIGKILLed mid-batch and restarted', async function () {
    this.timeout(60_000);
    const TOTAL = 1_000;
    const LEASE_MS = 30_000;
    const s = new Scenario('sigkill');
    try {
      const db = s.db('consumer');
      const env = {
        ...process.env,
        AMQP_URL,
        MONGO_URL,
        BUS_PREFIX: s.prefix,
        BUS_SERVICE: 'consumer',
        BUS_DB: db.databaseName,
        HANDLER_DELAY_MS: '2',
        PREFETCH: String(PREFETCH),
        // The inbox lease (= handler time-out): what the killed process had claimed runs again once it has passed.
        HANDLER_TIMEOUT_MS: String(LEASE_MS),
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        RETRY_DELAYS_MS: TEST_RETRY_DELAYS_MS.join(','),
      };
      /** `clockAheadMs`: how far ahead of real time the process's inbox clock runs. */
      const startConsumer = async (clockAheadMs = 0) => {
        const child = s.track(
          spawn(process.execPath, ['--import', 'tsx', CONSUMER_SCRIPT], { env: { ...env, INBOX_CLOCK_AHEAD_MS: String(clockAheadMs) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
        );
        const state = { ready: false, handled: 0, stopped: undefined as (EffectCounters & { outcomes: Record<string, number> }) | undefined };
        child.on('message', (m: { kind: string; invocations?: number; outcomes?: Record<string, number> } & Partial<EffectCounters>) => {
          if (m.kind === 'ready') state.ready = true;
          if (m.kind === 'handled') state.handled = m.invocations!;
          if (m.kind === 'stopped') state.stopped = m as EffectCounters & { outcomes: Record<string, number> };
        });
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
        await waitFor('the consumer process to be ready', () => state.ready || child.exitCode !== null, 20_000, 20);
        expect(child.exitCode, 'consumer process exited at start').to.equal(null);
        return { child, state, exited };
      };

      s.addService('consumer');
      const first = await startConsumer();
      const publisher = s.bus('publisher');
      const ids = Array.from({ length: TOTAL }, (_, i) => `sigkill-${i}-${randomUUID()}`);
      const stats = { confirmed: 0, rejected: 0 };
      const started = Date.now();
      await Promise.all(ids.map((id) => publishStable(publisher, id, stats)));
      await waitFor('the first consumer to handle 300', () => first.state.handled >= 300, 30_000, 1);
      first.child.kill('SIGKILL');
      const reportedAtKill = first.state.handled;
      const exit = await first.exited;
      expect(exit.signal).to.equal('SIGKILL');

      // Restarted as if the lease had passed since the kill: its inbox clock runs one lease ahead,
      // so the claims the killed process left are expired now, instead of the test waiting them out.
      const second = await startConsumer(LEASE_MS);
      await waitFor(`${TOTAL} effects`, async () => (await db.collection('effects').countDocuments()) >= TOTAL, 40_000, 100);
      const handledMs = Date.now() - started;
      second.child.kill('SIGTERM');
      const secondExit = await second.exited;
      expect(secondExit.code, 'graceful stop of the restarted consumer').to.equal(0);
      const left = await s.messageCount(`${s.prefix}.consumer`);
      const parked = await s.messageCount(`${s.prefix}.consumer.parking`);

      const summary = await assertAppliedOnce(db, ids, 'sigkill');
      // Per process (by pid): a write the killed process had already sent may land after its death.
      const byProcess = async (pid: number) => {
        const [invocations, effects, duplicateAttempts, inboxSkips] = await Promise.all(
          ['invocations', 'effects', 'duplicate_attempts', 'inbox_skips'].map((c) => db.collection(c).countDocuments({ pid })),
        );
        // Invocations cut short by the kill: started (logged) but neither applied nor collided.
        return { pid, invocations: invocations!, effects: effects!, duplicateAttempts: duplicateAttempts!, inboxSkips: inboxSkips!, interrupted: invocations! - effects! - duplicateAttempts! };
      };
      const killed = await byProcess(first.child.pid!);
      const restarted = await byProcess(second.child.pid!);
      const report = {
        published: TOTAL,
        publishRejections: stats.rejected,
        reportedHandledAtKill: reportedAtKill,
        ...summary,
        handlerInvocations: killed.invocations + restarted.invocations,
        duplicateEffectAttempts: killed.duplicateAttempts + restarted.duplicateAttempts,
        inboxSkippedRedeliveries: killed.inboxSkips + restarted.inboxSkips,
        killed,
        restarted,
        restartedInMemory: second.state.stopped,
        leftInQueue: left,
        parked,
        handledMs,
      };
      console.log('      [sigkill]', JSON.stringify(report));
      expect(killed.effects, 'killed mid-batch: some applied by the first process').to.be.above(0).and.below(TOTAL);
      expect(killed.effects + restarted.effects, 'every effect by one of the two processes').to.equal(TOTAL);
      expect(restarted.interrupted, 'the restarted process finished everything it started').to.equal(0);
      expect(killed.interrupted, 'interrupted invocations bounded by prefetch').to.be.within(0, PREFETCH);
      expect(restarted.duplicateAttempts, 'repeated attempts bounded by what was in flight at the kill').to.be.at.most(PREFETCH);
      expect(killed.duplicateAttempts, 'no repeated attempt before the kill').to.equal(0);
      // No delivery was put off for a live claim: the lease had passed (by the restarted process's clock).
      expect(second.state.stopped?.outcomes.deferred ?? 0, 'deliveries deferred by the restarted process').to.equal(0);
      expect(second.state.stopped, 'the restarted process counted the same in memory').to.deep.include({
        invocations: restarted.invocations,
        effects: restarted.effects,
        duplicateAttempts: restarted.duplicateAttempts,
      });
      expect(stats.rejected).to.equal(0);
      expect(left).to.equal(0);
      expect(parked).to.equal(0);
    } finally {
      await s.cleanup();
    }
  });

  it('publishes a change whose writer was SIGKILLed before publishing, once the contract service restarts', async function () {
    this.timeout(60_000);
    const s = new Scenario('outbox');
    try {
      const contractDb = s.db('contract');
      const consumerDb = s.db('consumer');
      const received: CloudEvent[] = [];
      const inbox = new CountingInbox(consumerDb);
      const consumer = s.bus('consumer', { inbox });
      consumer.subscribe('contract.subscribed', async (event) => {
        received.push(event);
      });
      await consumer.start(); // the queue is bound before anything is written

      const contractId = newId('ctr');
      const child = s.track(
        spawn(process.execPath, ['--import', 'tsx', APPEND_SCRIPT], {
          env: { ...process.env, MONGO_URL, BUS_DB: contractDb.databaseName, CONTRACT_ID: contractId },
          stdio: ['ignore', 'inherit', 'inherit'],
        }),
      );
      const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      expect(exit, 'the writer killed itself after the write').to.deep.equal({ code: null, signal: 'SIGKILL' });
      const changeId = logKey(contractId, 1);
      const record = await contractDb.collection('contract_changes').findOne({ _id: changeId as never });
      expect(record, 'the change was stored').to.not.equal(null);
      const marker = () => contractDb.collection('outbox').findOne({ _id: `contract.change/${changeId}` as never });
      expect(await marker(), 'its event is owed (an outbox marker)').to.not.equal(null);
      expect(await s.messageCount(consumer.topology.queue), 'nothing was published by the writer').to.equal(0);
      expect(received).to.have.length(0);

      const started = Date.now();
      const issuer = await createTokenIssuer();
      const svc = await startTestService(contractService, issuer, { MONGO_DB: contractDb.databaseName, AMQP_PREFIX: s.prefix });
      s.addService('contract');
      try {
        await waitFor('contract.subscribed from the restarted service', () => received.length >= 1, 20_000);
        const receivedMs = Date.now() - started;
        await waitFor('the outbox marker acknowledged', async () => (await marker()) === null, 10_000, 50);
        const [event] = received;
        console.log('      [outbox]', JSON.stringify({ changeId, writerExit: exit, eventId: event!.id, type: event!.type, source: event!.source, receivedMs, received: received.length }));
        expect(event!.id).to.equal(changeId);
        expect(event!.type).to.equal('contract.subscribed');
        expect(event!.source).to.equal('payspec/contract');
        expect(event!.correlationid).to.equal(`corr-${contractId}`);
        expect(event!.causationid).to.equal(`req-${contractId}`);
        const data = event!.data as { contractId: string; version: number; contract: { mandate: Record<string, unknown> } };
        expect(data.contractId).to.equal(contractId);
        expect(data.version).to.equal(1);
        expect(data.contract.mandate, 'the full IBAN never leaves the service').to.not.have.property('iban');
      } finally {
        await svc.stop();
      }
      // Published once. A second copy would be skipped by the inbox, not added to `received`, so
      // count the copies the inbox saw; and rather than wait a while for one, send a sentinel
      // after the service (and its relay) stopped: on the same queue, it comes after any copy.
      const sentinel = await s.bus('publisher').publish('contract.subscribed', contractChanged(), { correlationId: 'corr-sentinel' });
      await waitFor('the sentinel published after the service stopped', () => received.some((e) => e.id === sentinel.id), 10_000);
      expect(received.map((e) => e.id), 'published once').to.deep.equal([changeId, sentinel.id]);
      expect(inbox.skipped, 'copies of the event the inbox skipped').to.equal(0);
    } finally {
      await s.cleanup();
    }
  });

  it('retries a handler that always throws with growing delays, then parks the message with the reason, while other events flow', async function () {
    this.timeout(30_000);
    const s = new Scenario('parking');
    try {
      const db = s.db('consumer');
      const GOOD = 300;
      const BAD = 3;
      const counters: EffectCounters = { invocations: 0, effects: 0, duplicateAttempts: 0 };
      const effect = effectHandler(db, counters);
      const goodHandledAt: number[] = [];
      const badAttempts = new Map<string, { attempt: number; at: number }[]>();
      const consumer = s.bus('consumer', { inbox: new CountingInbox(db) });
      consumer.subscribe('contract.subscribed', async (event) => {
        await effect(event);
        goodHandledAt.push(Date.now());
      });
      consumer.subscribe('contract.suspended', async (event, ctx) => {
        badAttempts.set(event.id, [...(badAttempts.get(event.id) ?? []), { attempt: ctx.attempt, at: Date.now() }]);
        throw new Error(`boom: cannot suspend ${event.data.contractId}`);
      });
      await consumer.start();
      const publisher = s.bus('publisher');
      const badIds = Array.from({ length: BAD }, (_, i) => `bad-${i}-${randomUUID()}`);
      const goodIds = Array.from({ length: GOOD }, (_, i) => `good-${i}-${randomUUID()}`);
      const started = Date.now();
      for (const id of badIds) await publisher.publish('contract.suspended', contractChanged(), { id, correlationId: id });
      // Good events spread over the retry window (~700 ms), not all before it.
      const stats = { confirmed: 0, rejected: 0 };
      const publishes: Promise<void>[] = [];
      for (const [i, id] of goodIds.entries()) {
        publishes.push(publishStable(publisher, id, stats));
        if (i % 10 === 9) await sleep(40);
      }
      await Promise.all(publishes);
      await waitFor(`${BAD} parked`, async () => (await s.messageCount(consumer.topology.parking)) >= BAD, 15_000, 50);
      const parkedMs = Date.now() - started;
      await waitFor(`${GOOD} good effects`, () => counters.effects >= GOOD, 15_000);
      const channel = await s.raw();
      const parked: amqplib.GetMessage[] = [];
      for (;;) {
        const message = await channel.get(consumer.topology.parking, { noAck: true });
        if (!message) break;
        parked.push(message);
      }
      const firstFailure = Math.min(...[...badAttempts.values()].map((a) => a[0]!.at));
      const lastFailure = Math.max(...[...badAttempts.values()].map((a) => a.at(-1)!.at));
      const goodDuringRetries = goodHandledAt.filter((t) => t > firstFailure && t < lastFailure).length;
      const report = {
        badEvents: BAD,
        attemptsPerBadEvent: [...badAttempts.values()].map((a) => a.map((x) => x.attempt).join(',')),
        retrySpanMs: [...badAttempts.values()].map((a) => a.at(-1)!.at - a[0]!.at),
        parked: parked.length,
        reasons: parked.map((m) => m.properties.headers?.[HEADERS.parkedReason]),
        goodPublished: GOOD,
        goodApplied: counters.effects,
        goodHandledWhileRetrying: goodDuringRetries,
        parkedMs,
      };
      console.log('      [parking]', JSON.stringify(report));
      expect(parked.map((m) => m.properties.messageId).sort()).to.deep.equal([...badIds].sort());
      for (const id of badIds) {
        const attempts = badAttempts.get(id)!;
        expect(attempts.map((a) => a.attempt), `attempts of ${id}`).to.deep.equal([1, 2, 3, 4]);
        // Each retry waited at least its delay (TTL expiry is never early).
        for (const [i, delay] of TEST_RETRY_DELAYS_MS.entries()) expect(attempts[i + 1]!.at - attempts[i]!.at, `delay before attempt ${i + 2}`).to.be.at.least(delay - 5);
      }
      for (const message of parked) {
        const headers = message.properties.headers ?? {};
        expect(headers[HEADERS.parkedReason]).to.match(/^handler failed 4 times: boom: cannot suspend ctr_/);
        expect(headers[HEADERS.attempt]).to.equal(4);
        expect(headers[HEADERS.lastError]).to.match(/^boom: cannot suspend/);
        expect(headers[HEADERS.routingKey], 'the original routing key is kept').to.equal('contract.suspended');
        expect(Date.parse(String(headers[HEADERS.parkedAt]))).to.be.within(started, Date.now());
        expect((JSON.parse(message.content.toString()) as CloudEvent).id, 'the message is kept as it was').to.equal(message.properties.messageId);
      }
      expect(counters.effects, 'every good event applied').to.equal(GOOD);
      expect(counters.invocations).to.equal(GOOD);
      expect(goodDuringRetries, 'good events handled while the bad ones were retried').to.be.above(0);
      expect(await db.collection('inbox').countDocuments({ _id: { $in: badIds as never[] } }), 'no inbox record for a failed event').to.equal(0);
      expect(await s.messageCount(consumer.topology.queue)).to.equal(0);
    } finally {
      await s.cleanup();
    }
  });

  it('parks malformed messages (not JSON, payload against the schema, envelope incomplete) with a reason, never calling the handler', async function () {
    this.timeout(30_000);
    const s = new Scenario('malformed');
    try {
      const db = s.db('consumer');
      const calls: string[] = [];
      const consumer = s.bus('consumer', { inbox: new CountingInbox(db) });
      consumer.subscribe('contract.subscribed', async (event) => {
        calls.push(event.id);
      });
      await consumer.start();
      const channel = await s.raw();
      const envelope = (id: string, data: unknown) => ({
        specversion: '1.0',
        id,
        source: 'payspec/test',
        type: 'contract.subscribed',
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        correlationid: `corr-${id}`,
        data,
      });
      const { id: _id, source: _source, time: _time, ...incomplete } = envelope('incomplete', contractChanged());
      const badData = { ...contractChanged(), contractId: 'not-a-contract-id', version: 0, extra: true };
      const raws: [string, Buffer][] = [
        ['not-json', Buffer.from('{"specversion":"1.0","id":"x", this is not JSON')],
        ['bad-data', Buffer.from(JSON.stringify(envelope('bad-data', badData)))],
        ['bad-envelope', Buffer.from(JSON.stringify(incomplete))],
      ];
      for (const [messageId, content] of raws) {
        channel.publish(consumer.topology.exchange, 'contract.subscribed', content, { persistent: true, messageId, contentType: 'application/cloudevents+json' });
      }
      // A valid event after them: the consumer goes on.
      const good = await s.bus('publisher').publish('contract.subscribed', contractChanged(), { correlationId: 'corr-good' });
      await waitFor('3 parked', async () => (await s.messageCount(consumer.topology.parking)) >= raws.length, 10_000, 50);
      await waitFor('the valid event handled', () => calls.length >= 1, 10_000);
      const parked = new Map<string, amqplib.GetMessage>();
      for (;;) {
        const message = await channel.get(consumer.topology.parking, { noAck: true });
        if (!message) break;
        parked.set(String(message.properties.messageId), message);
      }
      const reasons = Object.fromEntries([...parked].map(([id, m]) => [id, String(m.properties.headers?.[HEADERS.parkedReason])]));
      console.log('      [malformed]', JSON.stringify({ published: raws.length + 1, parked: parked.size, handlerCalls: calls.length, reasons }));
      expect([...parked.keys()].sort()).to.deep.equal(['bad-data', 'bad-envelope', 'not-json']);
      expect(reasons['not-json']).to.equal('malformed JSON');
      expect(reasons['bad-data']).to.match(/^invalid contract\.subscribed payload: /);
      expect(reasons['bad-data']).to.include('data/contractId must match pattern');
      expect(reasons['bad-data']).to.include('data/version must be >= 1');
      expect(reasons['bad-data']).to.include('must NOT have additional properties');
      expect(reasons['bad-envelope']).to.match(/^invalid envelope: /);
      for (const attr of ['id', 'source', 'time']) expect(reasons['bad-envelope']).to.include(`must have required property '${attr}'`);
      for (const message of parked.values()) {
        expect(message.properties.headers?.[HEADERS.routingKey]).to.equal('contract.subscribed');
        expect(message.properties.headers?.[HEADERS.attempt], 'parked at once, no retries').to.equal(undefined);
      }
      expect(parked.get('not-json')!.content.toString()).to.equal(raws[0]![1].toString());
      expect(calls, 'the handler saw only the valid event').to.deep.equal([good.id]);
    } finally {
      await s.cleanup();
    }
  });

  it('applies an event delivered twice only once (redelivered after handling, and twice at the same time): the inbox skips every copy', async function () {
    this.timeout(30_000);
    const s = new Scenario('duplicates');
    try {
      const db = s.db('consumer');
      // The handler's effect is keyed by the event id, so even a second run would not add a second
      // effect: that backstop must never be what holds here. What is asserted is the inbox itself
      // (its collections, the bus's `duplicate` outcome) and that the handler ran once per id.
      const counters: EffectCounters = { invocations: 0, effects: 0, duplicateAttempts: 0, duplicateIds: [] };
      const metrics = createEventMetrics(new Registry());
      const consumer = s.bus('consumer', { inbox: new Inbox(db), metrics });
      const perId = new Map<string, number>();
      const effect = effectHandler(db, counters);
      consumer.subscribe('contract.subscribed', async (event) => {
        perId.set(event.id, (perId.get(event.id) ?? 0) + 1);
        await effect(event);
      });
      await consumer.start();
      const publisher = s.bus('publisher');
      /** The bus's outcome counters for these deliveries (events_consumed_total{type="contract.subscribed"}). */
      const outcomes = async () => {
        const values = (await metrics.consumed.get()).values.filter((v) => v.labels.type === 'contract.subscribed');
        const of = (outcome: string) => values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
        return { handled: of('handled'), duplicate: of('duplicate'), deferred: of('deferred'), retried: of('retried'), parked: of('parked') };
      };
      /** Deliveries the bus has finished with: handled, or skipped as a duplicate (a deferred one comes round again). */
      const settled = async () => {
        const o = await outcomes();
        return o.handled + o.duplicate;
      };

      // Sequential: the second copy arrives after the first was handled and recorded.
      const data = contractChanged();
      const once = `dup-seq-${randomUUID()}`;
      await publisher.publish('contract.subscribed', data, { id: once, correlationId: once });
      await waitFor('the first copy handled', async () => (await outcomes()).handled === 1, 10_000);
      expect(await db.collection('inbox').countDocuments({ _id: once as never }), 'the first copy is recorded in the inbox').to.equal(1);
      await publisher.publish('contract.subscribed', data, { id: once, correlationId: once });
      await waitFor('the second copy settled', async () => (await settled()) >= 2, 10_000);
      const sequential = { invocations: perId.get(once), ...(await outcomes()) };
      expect(sequential, 'a redelivery after handling is skipped by the inbox').to.deep.include({ invocations: 1, handled: 1, duplicate: 1 });

      // Concurrent: 100 events, each published twice back to back (both copies may be in flight together).
      const CONCURRENT = 100;
      const ids = Array.from({ length: CONCURRENT }, (_, i) => `dup-par-${i}-${randomUUID()}`);
      await Promise.all(
        ids.flatMap((id) => {
          const payload = contractChanged();
          return [0, 1].map(() => publisher.publish('contract.subscribed', payload, { id, correlationId: id }));
        }),
      );
      const deliveries = 2 + 2 * CONCURRENT;
      await waitFor(`${deliveries} deliveries handled or skipped`, async () => (await settled()) >= deliveries, 15_000);
      await consumer.close();
      const all = [once, ...ids];
      const final = await outcomes();
      const claims = await db.collection<{ _id: string; attempt: number }>('inbox_claims').find({}).toArray();
      const recorded = await db.collection<{ _id: string }>('inbox').find({}, { projection: { _id: 1 } }).toArray();
      const takeovers = await db.collection('inbox_takeovers').countDocuments();
      const summary = await assertAppliedOnce(db, all, 'duplicates');
      const report = {
        deliveries,
        outcomes: final,
        ...summary,
        inboxClaims: claims.length,
        inboxTakeovers: takeovers,
        handlerInvocations: counters.invocations,
        duplicateEffectAttempts: counters.duplicateAttempts,
        sequentialCase: sequential,
      };
      console.log('      [duplicates]', JSON.stringify(report));
      // The bus: every event handled once, every second copy skipped as a duplicate (some after a
      // deferral, when it came while the first was running), nothing else.
      expect(final.handled, 'deliveries handled').to.equal(all.length);
      expect(final.duplicate, 'deliveries skipped as duplicates (events_consumed_total{outcome="duplicate"})').to.equal(all.length);
      expect(final.retried + final.parked, 'deliveries retried or parked').to.equal(0);
      // The inbox: one claim per event, never taken over (a takeover runs the handler again), and
      // one handled record per event.
      expect(claims.map((c) => c._id).sort(), 'inbox_claims: one per event').to.deep.equal([...all].sort());
      expect(claims.filter((c) => c.attempt !== 1).map((c) => c._id), 'claims taken over').to.deep.equal([]);
      expect(takeovers, 'inbox_takeovers').to.equal(0);
      expect(recorded.map((r) => r._id).sort(), 'inbox: one record per event').to.deep.equal([...all].sort());
      // The handler: run once per event, so its own unique key never had to stop a second effect.
      expect([...perId].filter(([, n]) => n !== 1), 'events whose handler ran more than once').to.deep.equal([]);
      expect(counters.invocations, 'handler invocations').to.equal(all.length);
      expect(counters.duplicateIds, 'second runs stopped only by the effect\'s unique key').to.deep.equal([]);
      expect(await s.messageCount(consumer.topology.queue)).to.equal(0);
    } finally {
      await s.cleanup();
    }
  });
});
