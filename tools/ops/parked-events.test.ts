// The operators' parked-events tool against a real broker: a failing handler's message is
// parked, listed with its reason, and handled once replayed after the fix.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createEventMetrics } from '../../services/common/metrics.js';
import { EventBus } from '../../services/common/events/event-bus.js';
import { Inbox } from '../../services/common/events/inbox.js';
import { AMQP_PREFIX, AMQP_URL, MONGO_URL, TEST_RETRY_DELAYS_MS, deleteTopology, testDatabaseName } from '../testing/service-harness.js';
import { listParked, replayParked } from './parked-events.js';
import { UNOPENABLE_SEALED_IBAN } from '../../services/common/events/test-support/fixtures.js';

/** The tool as `make parked` / `make replay-parked` run it. */
const runTool = (args: string[], prefix: string) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'tools/ops/parked-events.ts', ...args], { env: { ...process.env, AMQP_URL, AMQP_PREFIX: prefix } });

const until = async <T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

describe('parked events tool (integration)', function () {
  this.timeout(30_000);
  const prefix = `${AMQP_PREFIX}_parked`;
  const service = 'parking-probe';
  let mongo: MongoClient;
  let bus: EventBus;
  let broken = true;
  const registry = new Registry();
  const metrics = createEventMetrics(registry);
  const consumed = async (outcome: string) =>
    (await metrics.consumed.get()).values.find((v) => v.labels.outcome === outcome && v.labels.type === 'contract.cancelled')?.value ?? 0;
  const handled: string[] = [];

  before(async () => {
    mongo = await new MongoClient(MONGO_URL).connect();
    bus = new EventBus({
      url: AMQP_URL,
      prefix,
      service,
      log: pino({ level: 'silent' }),
      inbox: new Inbox(mongo.db(testDatabaseName(service))),
      retryDelaysMs: TEST_RETRY_DELAYS_MS,
      metrics,
    });
    bus.subscribe('contract.cancelled', async (event) => {
      if (broken) throw new Error('billing database is read-only');
      handled.push(event.id);
    });
    await bus.start();
  });

  after(async () => {
    await bus?.close();
    await mongo?.db(testDatabaseName(service)).dropDatabase();
    await mongo?.close();
    await deleteTopology(prefix, service);
  });

  it('lists a parked message with its reason without removing it, and replays it once fixed', async () => {
    const at = new Date().toISOString();
    const contract = {
      id: 'ctr_0123456789abcdefghjkmnpqrs',
      customer: { id: 'cust-1', name: 'ACME', billingEmail: 'accounts@example.com', userId: 'usr_00000000000000000000000001' },
      status: 'cancelled' as const,
      validFrom: '2026-01-01',
      validTo: '2026-12-31',
      currency: 'EUR',
      creditLimit: 1000,
      mandate: { reference: 'R1', ibanMasked: 'FR76 **** 0189', signedOn: '2025-12-01' },
      version: 2,
      createdAt: at,
      updatedAt: at,
    };
    const event = await bus.publish('contract.cancelled', { contractId: contract.id, version: 2, at, actor: 'op', contract, mandateIbanSealed: UNOPENABLE_SEALED_IBAN }, { correlationId: 'corr-parked' });

    const parked = await until(() => listParked(AMQP_URL, prefix, service), (list) => list.length === 1);
    expect(parked).to.have.length(1);
    expect(parked[0]).to.include({ messageId: event.id, type: 'contract.cancelled', attempts: TEST_RETRY_DELAYS_MS.length + 1 });
    expect(parked[0]!.reason).to.include('billing database is read-only');
    // Listing again still finds it: listing does not consume.
    expect(await listParked(AMQP_URL, prefix, service)).to.have.length(1);
    expect(handled).to.deep.equal([]);

    broken = false;
    expect(await replayParked(AMQP_URL, prefix, service, 'some-other-id')).to.deep.equal([]);
    expect(await replayParked(AMQP_URL, prefix, service, event.id)).to.deep.equal([event.id]);
    await until(async () => handled.length, (n) => n === 1);
    expect(handled).to.deep.equal([event.id]);
    expect(await listParked(AMQP_URL, prefix, service)).to.deep.equal([]);
    // What /metrics shows an operator: three retries, one parking, then one handled.
    expect([await consumed('retried'), await consumed('parked'), await consumed('handled')]).to.deep.equal([TEST_RETRY_DELAYS_MS.length, 1, 1]);
  });

  it('says "nothing parked for <service>" when its parking queue is empty or was never declared', async () => {
    // A producer-only service (contract) never declares a parking queue: that is not an error.
    expect(await listParked(AMQP_URL, prefix, 'never-consumed')).to.deep.equal([]);
    expect(await replayParked(AMQP_URL, prefix, 'never-consumed', 'all')).to.deep.equal([]);
    expect((await runTool(['list', '--service', 'never-consumed'], prefix)).stdout).to.equal('nothing parked for never-consumed\n');
    expect((await runTool(['replay', '--service', 'never-consumed', '--id', 'all'], prefix)).stdout).to.equal('nothing parked for never-consumed\n');
    // A consumer whose parking queue exists but holds nothing (the first test replayed its one message).
    expect((await runTool(['list', '--service', service], prefix)).stdout).to.equal(`nothing parked for ${service}\n`);
    const show = await runTool(['show', '--service', 'never-consumed', '--id', 'evt-1'], prefix).catch((err: { code: number; stderr: string }) => err);
    expect(show).to.include({ code: 1 });
    expect((show as { stderr: string }).stderr).to.include('no parked message evt-1 for never-consumed');
  });
});
