// A test's ear on the bus: a consumer of its own (queue, inbox database) that records every
// event of the given types, so a test can wait for what a service announces.
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import type { EventType } from '../../generated/events/types.js';
import type { CloudEvent } from '../../services/common/events/cloud-event.js';
import { EventBus } from '../../services/common/events/event-bus.js';
import { Inbox } from '../../services/common/events/inbox.js';
import { AMQP_PREFIX, AMQP_URL, MONGO_URL, TEST_RETRY_DELAYS_MS, deleteTopology, testDatabaseName } from './service-harness.js';

export interface EventProbe {
  readonly received: CloudEvent[];
  /** The received events `match` selects, once there are `count` of them or `timeoutMs` passed. */
  waitFor(match: (event: CloudEvent) => boolean, count: number, timeoutMs?: number): Promise<CloudEvent[]>;
  /** Stops consuming and deletes the probe's queues and database. */
  stop(): Promise<void>;
}

export async function startEventProbe(name: string, types: EventType[], prefix = AMQP_PREFIX): Promise<EventProbe> {
  const mongo = await new MongoClient(MONGO_URL).connect();
  const dbName = testDatabaseName(name);
  const received: CloudEvent[] = [];
  const bus = new EventBus({
    url: AMQP_URL,
    prefix,
    service: name,
    log: pino({ level: 'silent' }),
    inbox: new Inbox(mongo.db(dbName)),
    retryDelaysMs: TEST_RETRY_DELAYS_MS,
  });
  for (const type of types) {
    bus.subscribe(type, async (event) => {
      received.push(event);
    });
  }
  await bus.start();
  return {
    received,
    async waitFor(match, count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const events = received.filter(match);
        if (events.length >= count || Date.now() > deadline) return events;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      await bus.close();
      await mongo.db(dbName).dropDatabase();
      await mongo.close();
      await deleteTopology(prefix, name);
    },
  };
}
