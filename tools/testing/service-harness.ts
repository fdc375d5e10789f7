// Starts a real service for integration tests: on an ephemeral port, against the real
// MongoDB-compatible server (FerretDB locally), in a database of its own that is dropped after.
import { randomBytes } from 'node:crypto';
import amqplib from 'amqplib';
import { MongoClient } from 'mongodb';
import { consumersOf, topologyNames } from '../../services/common/events/event-bus.js';
import { type ServiceDefinition, type StartOptions, startService } from '../../services/common/bootstrap.js';
import type { Service } from '../../services/common/http/service.js';
import type { TokenIssuer } from './tokens.js';

export const MONGO_URL = process.env.MONGO_URL ?? `mongodb://127.0.0.1:${process.env.FERRETDB_PORT ?? 27017}`;
/** One id per test process: database names (and exchange/queue prefixes) carry it, so runs never meet. */
export const RUN_ID = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
/** Exchange and queue names of this run start with it. */
export const AMQP_PREFIX = `test_${RUN_ID}`;
/** Short retry delays, so tests see a failing message parked in a second or so. */
export const TEST_RETRY_DELAYS_MS = [100, 200, 400];

export interface TestService {
  service: Service;
  url: string;
  dbName: string;
  env: Record<string, string>;
  /** Stops the service; the database stays (for a restart) until drop(). */
  stop(): Promise<void>;
  /** Drops the service's test database and its queues. */
  drop(): Promise<void>;
}

export function testDatabaseName(service: string): string {
  return `test_${RUN_ID}_${service.replace(/-/g, '_')}`;
}

export async function startTestService(
  definition: ServiceDefinition,
  issuer: TokenIssuer,
  overrides: Record<string, string> = {},
  options: StartOptions = {},
): Promise<TestService> {
  const dbName = overrides.MONGO_DB ?? testDatabaseName(definition.name);
  const env = {
    MONGO_URL,
    MONGO_DB: dbName,
    PORT: '0',
    AUTH_JWKS: JSON.stringify(issuer.jwks),
    VALIDATE_RESPONSES: 'true',
    AMQP_URL,
    AMQP_PREFIX,
    EVENT_RETRY_DELAYS_MS: TEST_RETRY_DELAYS_MS.join(','),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  };
  const service = await startService(definition, env, options);
  return {
    service,
    url: service.url,
    dbName,
    env,
    stop: () => service.stop(),
    drop: async () => {
      await dropDatabase(dbName);
      await deleteTopology(env.AMQP_PREFIX, definition.name);
    },
  };
}

export async function withMongo<T>(use: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(MONGO_URL, { serverSelectionTimeoutMS: 5_000 });
  try {
    await client.connect();
    return await use(client);
  } finally {
    await client.close();
  }
}

export function dropDatabase(name: string): Promise<void> {
  return withMongo(async (client) => {
    await client.db(name).dropDatabase();
  });
}

/** Deletes a service's queues (and the prefix's exchange) that a test run declared. */
export async function deleteTopology(prefix: string, service: string, retryDelaysMs = TEST_RETRY_DELAYS_MS): Promise<void> {
  const names = topologyNames(prefix, service, retryDelaysMs);
  const connection = await amqplib.connect(AMQP_URL);
  try {
    const channel = await connection.createChannel();
    // The producer also declared its consumers' queues (see consumersOf).
    const consumerQueues = [...consumersOf(service).keys()].map((consumer) => topologyNames(prefix, consumer, []).queue);
    for (const queue of [names.queue, names.parking, ...names.retries.map((r) => r.queue), ...consumerQueues]) await channel.deleteQueue(queue);
    await channel.deleteExchange(names.exchange);
    await channel.close();
  } finally {
    await connection.close();
  }
}
