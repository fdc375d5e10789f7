// Starting a service the same way everywhere: configuration, logger, database and indexes,
// token verification, the generated router, then createService(). A service's main.ts only
// says which API it serves and how to build its delegate, and declares what else it needs —
// the events its outbox builds (outbox.register), its event handlers (bus.subscribe), its
// reconcilers (reconcile) — and the runtime runs, meters and stops them.
import type { Router } from 'express';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { bearerJwt } from './auth/bearer-jwt.js';
import { type CommonConfig, commonSpecs, jwksSource, loadConfig, redactSecrets, redactUrl } from './config.js';
import { IdempotentCommands, idempotencyIndexes } from './data/idempotency.js';
import type { PendingWork } from './data/pending-set.js';
import { Reconciler } from './data/reconciler.js';
import { EventBus } from './events/event-bus.js';
import { Inbox, inboxIndexes } from './events/inbox.js';
import { Outbox, outboxIndexes } from './events/outbox.js';
import { OutboxRelay } from './events/outbox-relay.js';
import { InFlight } from './http/in-flight.js';
import type { RouterOptions, SecurityHandler } from './http/operation-router.js';
import { type Service, createService, stopOnSignals } from './http/service.js';
import { createLogger } from './logger.js';
import { createEventMetrics, createMetrics, createRuntimeGauges } from './metrics.js';
import { type IndexPlan, connectMongo, ensureIndexes } from './mongo.js';

export interface ServiceDefinition {
  name: string;
  defaultPort: number;
  spec: object;
  indexes: IndexPlan;
  /**
   * Build the API router from the generated `create<Api>Router` and the service's delegate,
   * subscribe the service's event handlers on `bus`, and register what must stop on shutdown
   * (it runs before the bus and the database close).
   */
  createApi(deps: ServiceDeps): Promise<Router> | Router;
  /**
   * True for the token issuer: it verifies tokens with its own live keys (set in createApi),
   * not against AUTH_JWKS_URL / AUTH_JWKS / AUTH_JWKS_FILE like every other service.
   */
  issuesTokens?: boolean;
}

export interface ServiceDeps {
  /** The environment the service was started with, for its own settings beyond CommonConfig. */
  env: NodeJS.ProcessEnv;
  /** What time it is for the service's rules (the real clock, but for tests). */
  clock: () => Date;
  db: Db;
  log: Logger;
  config: CommonConfig;
  routerOptions: RouterOptions;
  /** Subscribe the service's event handlers here (before it starts). */
  bus: EventBus;
  /** The service's outbox: repositories add markers to it and register the sources that build their events. */
  outbox: Outbox;
  /** Call after a write that owes an event, so the relay publishes it now rather than at its next poll. */
  announce(): void;
  /** Idempotent commands (POSTs with an Idempotency-Key): scoped, hashed, answers stored and replayed. */
  idempotency: IdempotentCommands;
  /** Declares a reconciler for a set of pending work; the runtime runs it every RECONCILE_INTERVAL_MS. */
  reconcile(spec: { name: string; pending: PendingWork; settle: (id: string, now: Date) => Promise<void> }): void;
  onShutdown(hook: () => Promise<void>): void;
}

export interface StartOptions {
  /** The service's clock for its rules (windows, expiries); tests move it instead of waiting. */
  clock?: () => Date;
}

export async function startService(definition: ServiceDefinition, env: NodeJS.ProcessEnv = process.env, options: StartOptions = {}): Promise<Service> {
  const config = loadConfig(commonSpecs(definition.name, definition.defaultPort), env);
  const log = createLogger(definition.name, config.LOG_LEVEL);
  const database = await connectMongo(config.MONGO_URL, config.MONGO_DB).catch((err: unknown) => {
    // The driver's messages name hosts, not credentials; the URL is shown with its password masked.
    const reason = redactSecrets(err instanceof Error ? err.message : String(err), [config.MONGO_URL]);
    throw new Error(`MONGO_URL: cannot connect to ${redactUrl(config.MONGO_URL)}: ${reason}`, { cause: err });
  });
  const inbox = new Inbox(database.db, { leaseMs: config.EVENT_HANDLER_TIMEOUT_MS });
  const metrics = createMetrics(definition.name);
  const bus = new EventBus({
    url: config.AMQP_URL,
    prefix: config.AMQP_PREFIX,
    service: definition.name,
    log: log.child({ component: 'event-bus' }),
    inbox,
    prefetch: config.EVENT_PREFETCH,
    retryDelaysMs: config.EVENT_RETRY_DELAYS_MS,
    metrics: createEventMetrics(metrics.registry),
  });
  const hooks: (() => Promise<void>)[] = [];
  const inFlight = new InFlight();
  const outbox = new Outbox(database.db);
  const relay = new OutboxRelay(bus, outbox, log.child({ component: 'outbox-relay' }));
  const reconcilers: Reconciler[] = [];
  try {
    await ensureIndexes(database.db, { ...inboxIndexes, ...outboxIndexes, ...idempotencyIndexes, ...definition.indexes });
    // Bearer tokens are verified against the issuer's keys — for services whose spec has them
    // (the issuer verifies with its own keys; a simulator with only an API key needs none).
    const usesBearer = 'bearerAuth' in ((definition.spec as { components?: { securitySchemes?: object } }).components?.securitySchemes ?? {});
    const security: Record<string, SecurityHandler> =
      definition.issuesTokens || !usesBearer ? {} : { bearerAuth: bearerJwt({ issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, ...jwksSource(config) }) };
    const api = await definition.createApi({
      env,
      clock: options.clock ?? (() => new Date()),
      db: database.db,
      log,
      config,
      routerOptions: { security, validateResponses: config.VALIDATE_RESPONSES, bodyLimit: config.BODY_LIMIT_BYTES, log, inFlight },
      bus,
      outbox,
      idempotency: new IdempotentCommands(database.db, definition.name),
      announce: () => relay.notify(),
      reconcile: ({ name, pending, settle }) => {
        reconcilers.push(
          new Reconciler(database.db, {
            name,
            pending,
            settle: async (id, now) => {
              await settle(id, now);
              relay.notify();
            },
            minAgeMs: config.RECONCILE_AFTER_MS,
            intervalMs: config.RECONCILE_INTERVAL_MS,
            log: log.child({ component: 'reconciler', reconciler: name }),
          }),
        );
      },
      onShutdown: (hook) => hooks.push(hook),
    });
    if (outbox.hasSources) relay.start();
    for (const reconciler of reconcilers) reconciler.start();
    // Stopped before the service's own hooks: nothing new is written while they finish.
    hooks.unshift(() => relay.stop(), ...reconcilers.map((r) => () => r.stop()));
    createRuntimeGauges(metrics.registry, {
      outboxSize: () => outbox.size(),
      outboxOldestAt: () => outbox.oldestAt(),
      reconcilerBacklogs: async () => Object.fromEntries(await Promise.all(reconcilers.map(async (r) => [r.name, await r.backlog()] as const))),
      parkedDepth: () => bus.parkedDepth(),
    });
    await bus.start();
    hooks.push(purgeInboxHourly(inbox, config.INBOX_RETENTION_DAYS, log));
    const service = createService({
      name: definition.name,
      spec: definition.spec,
      api,
      log,
      host: config.HOST,
      port: config.PORT,
      corsOrigins: config.CORS_ORIGINS,
      trustProxy: config.TRUST_PROXY,
      readiness: {
        mongodb: database.ping,
        rabbitmq: async () => {
          if (!bus.isConnected()) throw new Error('not connected');
        },
      },
      inFlight,
      metrics,
      // The service's own hooks (relays, consumers' users) stop first, then the bus, then the database.
      onShutdown: [...hooks, () => bus.close(), database.close],
      shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    });
    await service.start();
    return service;
  } catch (err) {
    for (const hook of hooks) await hook().catch(() => {});
    await bus.close().catch(() => {});
    await database.close();
    throw err;
  }
}

/** Forgets handled event ids past the retention, once an hour; returns the stopper. */
function purgeInboxHourly(inbox: Inbox, retentionDays: number, log: Logger): () => Promise<void> {
  const timer = setInterval(() => {
    inbox
      .purge(new Date(Date.now() - retentionDays * 86_400_000))
      .then((purged) => purged > 0 && log.info({ purged }, 'purged old inbox records'))
      .catch((err: unknown) => log.warn({ err }, 'purging the inbox failed'));
  }, 3_600_000);
  timer.unref();
  return async () => clearInterval(timer);
}

/** For a service's main.ts: start it, stop gracefully on SIGTERM/SIGINT, exit 1 with the reason if it cannot start. */
export function runMain(definition: ServiceDefinition): void {
  startService(definition).then(
    (service) => stopOnSignals(service, createLogger(definition.name, process.env.LOG_LEVEL ?? 'info')),
    (err: unknown) => {
      const reason = err instanceof Error ? err.message : String(err);
      console.error(`${definition.name} failed to start: ${redactSecrets(reason, Object.values(process.env))}`);
      process.exit(1);
    },
  );
}
