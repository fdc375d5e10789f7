// make bench (events part): how many events per second flow end to end through the bus —
// publish with confirms → consume → inbox check and write → ack — for 10,000 events, next to
// the broker's own rate for the same messages (plain amqplib publish with confirms, no
// validation, no consumer). Not a test: it prints figures and writes docs/benchmarks.md.
//
//   npx tsx tools/bench/events.ts [--events N]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import amqplib from 'amqplib';
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import type { EventPayloads } from '../../generated/events/types.js';
import { DEFAULT_PREFETCH, EventBus } from '../../services/common/events/event-bus.js';
import { Inbox } from '../../services/common/events/inbox.js';
import { deleteTopology } from '../testing/service-harness.js';
import { describeDatabase, machineDetails, writeDocSection } from './report.js';
import { UNOPENABLE_SEALED_IBAN } from '../../services/common/events/test-support/fixtures.js';

const { values } = parseArgs({ options: { events: { type: 'string', default: '10000' } } });
const COUNT = Number(values.events);
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MONGO_URL = process.env.MONGO_URL ?? `mongodb://127.0.0.1:${process.env.FERRETDB_PORT ?? 27017}`;
const RUN = `bench_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const RETRIES = [1_000];
const log = pino({ level: 'silent' });

function payload(i: number): EventPayloads['contract.subscribed'] {
  const at = new Date().toISOString();
  const id = `ctr_${i.toString(36).padStart(26, '0')}`;
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
async function brokerPublishRate(): Promise<number> {
  const connection = await amqplib.connect(AMQP_URL);
  const channel = await connection.createConfirmChannel();
  const queue = `${RUN}.raw`;
  await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  const body = Buffer.from(JSON.stringify({ data: payload(0) }));
  const started = performance.now();
  for (let i = 0; i < COUNT; i++) {
    if (!channel.sendToQueue(queue, body, { persistent: true })) await new Promise((resolve) => channel.once('drain', resolve));
  }
  await channel.waitForConfirms();
  const seconds = (performance.now() - started) / 1000;
  await channel.deleteQueue(queue);
  await connection.close();
  return COUNT / seconds;
}

async function main(): Promise<void> {
  const loadBefore = machineDetails();
  const mongo = await new MongoClient(MONGO_URL).connect();
  const consumer = new EventBus({ url: AMQP_URL, prefix: RUN, service: 'bench-consumer', log, inbox: new Inbox(mongo.db(RUN)), retryDelaysMs: RETRIES });
  const publisher = new EventBus({ url: AMQP_URL, prefix: RUN, service: 'bench-publisher', log });
  try {
    let handled = 0;
    let allHandled: () => void = () => {};
    const done = new Promise<void>((resolve) => (allHandled = resolve));
    consumer.subscribe('contract.subscribed', async () => {
      if (++handled === COUNT) allHandled();
    });
    await consumer.start();

    console.error(`[bench] broker's own publish rate (${COUNT} persistent messages, confirms)…`);
    const broker = await brokerPublishRate();

    console.error(`[bench] ${COUNT} events end to end through the bus…`);
    const payloads = Array.from({ length: COUNT }, (_, i) => payload(i));
    const started = performance.now();
    await Promise.all(payloads.map((data) => publisher.publish('contract.subscribed', data, { correlationId: RUN })));
    const published = performance.now();
    await done;
    const finished = performance.now();

    const publishRate = COUNT / ((published - started) / 1000);
    const endToEnd = COUNT / ((finished - started) / 1000);
    const rows = [
      ['broker alone: amqplib publish + confirm', broker, 1],
      ['bus publish (validate + confirm)', publishRate, publishRate / broker],
      ['bus end to end (publish → consume → inbox → ack)', endToEnd, endToEnd / broker],
    ] as const;
    const table = [
      '| measure | events/s | vs broker alone |',
      '|---|---:|---:|',
      ...rows.map(([name, rate, ratio]) => `| ${name} | ${Math.round(rate).toLocaleString('en')} | ${ratio.toFixed(2)}× |`),
    ].join('\n');
    console.log(table);
    const database = await describeDatabase(mongo);
    writeDocSection(
      'events',
      [
        '## Events: end to end through the bus',
        '',
        `Written by \`make bench\` (\`npx tsx tools/bench/events.ts --events ${COUNT}\`). Do not edit between the markers.`,
        '',
        `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
        ...loadBefore,
        `- Broker: RabbitMQ at ${new URL(AMQP_URL).host}; quorum queues, persistent messages, publisher confirms, prefetch ${DEFAULT_PREFETCH}`,
        `- Inbox database: ${database.description}`,
        `- ${COUNT.toLocaleString('en')} \`contract.subscribed\` events published concurrently by one bus, consumed by another in the same process`,
        '',
        table,
        '',
        'End to end, each event is validated twice (publish and consume, ajv) and costs two inbox',
        'inserts (the claim and the record) before its ack, batched with the other deliveries in hand',
        '(one insertMany each per turn of the event loop); the gap between the',
        'bus publish rate and the end-to-end rate is the consumer side, the gap between the broker',
        'alone and the bus publish rate is validation, the envelope and amqp-connection-manager.',
      ].join('\n'),
    );
  } finally {
    await consumer.close();
    await publisher.close();
    await mongo.db(RUN).dropDatabase();
    await mongo.close();
    await deleteTopology(RUN, 'bench-consumer', RETRIES);
  }
}

await main();
