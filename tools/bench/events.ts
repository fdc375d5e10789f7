// Events end to end through the bus (part of `make bench`): how many events per second flow
// publish with confirms → consume → inbox check and write → ack, next to the broker's own rate
// for the same messages (plain amqplib publish with confirms, no validation, no consumer) and to
// bare Express's req/s measured in the same run.
//
//   npx tsx tools/bench/events.ts [--events 10000] [--duration 5] [--connections 50] [--warmup 1] [--timeout 30]
//
// The load flags are the baseline's. It deletes its queues, exchange and inbox database at the
// end (also on failure and Ctrl-C). Run alone, it prints its section of docs/benchmarks.md.
import amqplib from 'amqplib';
import { pino } from 'pino';
import type { EventPayloads } from '../../generated/events/types.js';
import { DEFAULT_PREFETCH, EventBus } from '../../services/common/events/event-bus.js';
import { Inbox } from '../../services/common/events/inbox.js';
import { deleteTopology } from '../testing/service-harness.js';
import { UNOPENABLE_SEALED_IBAN } from '../../services/common/events/test-support/fixtures.js';
import { Cleanup, type LoadOptions, amqpUrl, loadRoute, log, openBenchDatabase, parseBenchOptions, startServer } from './harness.js';
import type { DatabaseInfo } from './report.js';
import { BASELINE_ROUTE, type Row, type Scenario, toRow } from './results.js';
import { isMain, runAlone } from './scenarios.js';

const SCRIPT = 'tools/bench/events.ts';
const RETRIES = [1_000];
/** Events not handled this long after the last publish count as errors. */
const HANDLE_TIMEOUT_MS = 120_000;
const silent = pino({ level: 'silent' });

export const EVENTS_ROWS = {
  broker: 'broker alone: amqplib publish + confirm',
  publish: 'bus publish (validate + confirm)',
  endToEnd: 'bus end to end (publish → consume → inbox → ack)',
} as const;

export interface EventsOptions {
  events: number;
  /** The baseline's load. */
  load: LoadOptions;
}

export interface EventsDetails {
  events: number;
  load: LoadOptions;
  amqpHost: string;
  prefetch: number;
  database: DatabaseInfo;
  /** The broker's own publish rate, events/s: the other yardstick. */
  brokerRate: number;
}

const payload = (i: number) => contractSubscribed(`ctr_${i.toString(36).padStart(26, '0')}`, i);

/** A `contract.subscribed` payload for contract `id` (the i-th of a run: customers cycle through 50). */
export function contractSubscribed(id: string, i: number): EventPayloads['contract.subscribed'] {
  const at = new Date().toISOString();
  return {
    contractId: id,
    version: 1,
    at,
    actor: 'bench',
    contract: {
      id,
      customer: { id: `cust-${i % 50}`, name: 'ACME', billingEmail: 'accounts@example.com', userId: 'usr_00000000000000000000000000' },
      status: 'active',
      validFrom: '2026-01-01',
      validTo: '2026-12-31',
      currency: 'EUR',
      creditLimit: 500_000,
      mandate: { reference: `R${i}`, ibanMasked: 'FR76 **** **** **** **** ***0 189', signedOn: '2025-12-01' },
      version: 1,
      createdAt: at,
      updatedAt: at,
    },
    mandateIbanSealed: UNOPENABLE_SEALED_IBAN,
  };
}

/** The broker alone: raw publishes with confirms to a queue nobody consumes. */
async function brokerPublishRate(prefix: string, count: number): Promise<number> {
  const connection = await amqplib.connect(amqpUrl());
  try {
    const channel = await connection.createConfirmChannel();
    const queue = `${prefix}.raw`;
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    try {
      const body = Buffer.from(JSON.stringify({ data: payload(0) }));
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        if (!channel.sendToQueue(queue, body, { persistent: true })) await new Promise((resolve) => channel.once('drain', resolve));
      }
      await channel.waitForConfirms();
      return count / ((performance.now() - started) / 1000);
    } finally {
      await channel.deleteQueue(queue);
    }
  } finally {
    await connection.close();
  }
}

export async function runEvents({ events: count, load }: EventsOptions): Promise<Scenario<EventsDetails>> {
  const cleanup = new Cleanup();
  try {
    const db = await openBenchDatabase(cleanup);
    const prefix = db.dbName;
    const baselineServer = await startServer('baseline', 'tools/bench/baseline-server.ts', {}, '/hello');
    cleanup.add(() => baselineServer.stop());
    const baselineResult = await loadRoute({ name: BASELINE_ROUTE, server: baselineServer, method: 'GET', path: '/hello' }, load);
    await baselineServer.stop();
    const baseline = baselineResult.reqPerSec;

    cleanup.add(() => deleteTopology(prefix, 'bench-consumer', RETRIES));
    const consumer = new EventBus({ url: amqpUrl(), prefix, service: 'bench-consumer', log: silent, inbox: new Inbox(db.mongo.db(prefix)), retryDelaysMs: RETRIES });
    cleanup.add(() => consumer.close());
    const publisher = new EventBus({ url: amqpUrl(), prefix, service: 'bench-publisher', log: silent });
    cleanup.add(() => publisher.close());
    let handled = 0;
    let allHandled: () => void = () => {};
    const done = new Promise<void>((resolve) => (allHandled = resolve));
    consumer.subscribe('contract.subscribed', async () => {
      if (++handled === count) allHandled();
    });
    await consumer.start();

    log(`broker's own publish rate (${count} persistent messages, confirms)…`);
    const broker = await brokerPublishRate(prefix, count);

    log(`${count} events end to end through the bus…`);
    const payloads = Array.from({ length: count }, (_, i) => payload(i));
    const started = performance.now();
    await Promise.all(payloads.map((data) => publisher.publish('contract.subscribed', data, { correlationId: prefix })));
    const published = performance.now();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, HANDLE_TIMEOUT_MS)))]);
    clearTimeout(timer);
    const finished = performance.now();
    const lost = count - handled;
    if (lost > 0) log(`${lost} of ${count} events not handled ${HANDLE_TIMEOUT_MS / 1000} s after the last publish`);

    const measure = (name: string, rate: number, completed: number, errors = 0): Row => ({ name, unit: 'events', rate, non2xx: 0, errors, timeouts: 0, completed, baseline });
    const rows: Row[] = [
      toRow(baselineResult, baseline),
      measure(EVENTS_ROWS.broker, broker, count),
      measure(EVENTS_ROWS.publish, count / ((published - started) / 1000), count),
      measure(EVENTS_ROWS.endToEnd, handled / ((finished - started) / 1000), handled, lost),
    ];
    for (const row of rows) log(`${row.name}: ${Math.round(row.rate)}/s`);
    return {
      rows,
      details: { events: count, load, amqpHost: new URL(amqpUrl()).host, prefetch: DEFAULT_PREFETCH, database: db.database, brokerRate: broker },
      command: `npx tsx ${SCRIPT} --events ${count} --duration ${load.duration} --connections ${load.connections} --warmup ${load.warmup} --timeout ${load.timeout}`,
    };
  } finally {
    await cleanup.run();
  }
}

export const EVENTS_DEFAULTS: EventsOptions = { events: 10_000, load: { duration: 5, connections: 50, warmup: 1, timeout: 30 } };

if (isMain(import.meta.url)) {
  const { load, extra } = parseBenchOptions(SCRIPT, EVENTS_DEFAULTS.load, { events: { default: String(EVENTS_DEFAULTS.events), meta: 'n' } });
  void runAlone('events', () => runEvents({ events: Number(extra.events), load }));
}
