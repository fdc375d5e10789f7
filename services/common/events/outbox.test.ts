// The outbox and its relay on the real database and broker: an event the bus refuses (it fails
// its schema) is parked in the outbox with the reason and counted, while the events around it
// are published; a marker whose state never appeared is dropped after the abandon time; and a
// relay pass reads only the markers, so it costs what is pending.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { type Db, MongoClient } from 'mongodb';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { type EventProbe, startEventProbe } from '../../../tools/testing/event-probe.js';
import { AMQP_URL, MONGO_URL, TEST_RETRY_DELAYS_MS, deleteTopology, testDatabaseName } from '../../../tools/testing/service-harness.js';
import { newId } from '../ids.js';
import { createEventMetrics } from '../metrics.js';
import { EventBus } from './event-bus.js';
import { Outbox, type OutboxSource } from './outbox.js';
import { OutboxRelay } from './outbox-relay.js';
import { contractChanged } from './test-support/fixtures.js';
import { eventually } from '../../../tools/testing/wait.js';

describe('Outbox and relay (integration)', () => {
  const prefix = `test_outbox_${randomUUID().slice(0, 8)}`;
  let client: MongoClient;
  let db: Db;
  let probe: EventProbe;
  let bus: EventBus;
  let registry: Registry;

  before(async () => {
    client = await new MongoClient(MONGO_URL).connect();
    db = client.db(testDatabaseName('outbox'));
    probe = await startEventProbe('outbox-probe', ['contract.subscribed'], prefix);
    registry = new Registry();
    bus = new EventBus({ url: AMQP_URL, prefix, service: 'contract', log: pino({ level: 'silent' }), retryDelaysMs: TEST_RETRY_DELAYS_MS, metrics: createEventMetrics(registry) });
  });
  after(async () => {
    await bus?.close();
    await probe?.stop();
    await deleteTopology(prefix, 'contract');
    await db?.dropDatabase();
    await client?.close();
  });

  it('parks an event its schema refuses, with the reason, and publishes the others', async () => {
    const states = new Map<string, ReturnType<typeof contractChanged> | 'broken'>();
    const source: OutboxSource = async (key) => {
      const state = states.get(key);
      if (state === undefined) return 'missing';
      const data = state === 'broken' ? ({ contractId: key } as never) : state;
      return { type: 'contract.subscribed', data, meta: { id: `evt-${key}`, correlationId: key } };
    };
    const outbox = new Outbox(db).register({ test: source });
    const keys = [newId('ctr'), newId('ctr'), newId('ctr')];
    for (const [i, key] of keys.entries()) {
      await outbox.add('test', key);
      states.set(key, i === 1 ? 'broken' : contractChanged(key));
    }
    const relay = new OutboxRelay(bus, outbox, pino({ level: 'silent' }), { pollIntervalMs: 50 });
    relay.start();
    try {
      const received = await probe.waitFor((e) => keys.includes((e.data as { contractId: string }).contractId), 2);
      expect(received.map((e) => (e.data as { contractId: string }).contractId).sort()).to.deep.equal([keys[0], keys[2]].sort());
      // The relay may reach the refused marker after the two others: wait for it to be parked.
      await eventually(async () => relay.parked, (parked) => parked === 1, 'the refused event parked');
    } finally {
      await relay.stop();
    }
    expect(await outbox.size(), 'nothing left pending').to.equal(0);
    const parked = await db.collection<{ _id: string; reason: string }>('outbox_parked').findOne({ _id: `test/${keys[1]}` });
    expect(parked?.reason).to.match(/refusing to publish contract\.subscribed: .*/);
    expect(await registry.metrics()).to.match(/^outbox_parked_total\{type="contract\.subscribed"\} 1$/m);
  });

  it('waits for a marker whose state is not written yet, and drops it once that state can no longer appear', async () => {
    let now = new Date('2026-11-29T12:00:00Z');
    const outbox = new Outbox(db, { abandonAfterMs: 60_000, now: () => now }).register({ nothing: async () => 'missing' });
    await outbox.add('nothing', 'never-written');
    expect(await outbox.pending(10)).to.deep.equal([]);
    expect(await outbox.size(), 'kept while the write may still come').to.equal(1);
    now = new Date(now.getTime() + 61_000);
    expect(await outbox.pending(10)).to.deep.equal([]);
    expect(await outbox.size(), 'dropped after the abandon time').to.equal(0);
  });
});
