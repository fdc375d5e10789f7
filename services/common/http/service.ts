// createService(): the HTTP process every Payspec service runs. It owns everything that is not
// the API itself — ids, logs, metrics, health, spec and docs, 404s, errors, graceful shutdown —
// and mounts the generated router that serves the API through the service's delegate.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import cors from 'cors';
import express, { type Router } from 'express';
import type { Logger } from 'pino';
import { absolutePath as swaggerUiPath } from 'swagger-ui-dist';
import { challengeFor } from '../auth/bearer-jwt.js';
import { type TrustProxy, redactSecrets } from '../config.js';
import { type Metrics, createMetrics } from '../metrics.js';
import { problemErrorHandler, writeProblem } from './errors.js';
import type { InFlight } from './in-flight.js';
import { problem } from './problem.js';
import { requestContext } from './request-context.js';

export interface ServiceOptions {
  name: string;
  /** The bundled spec, served at /openapi.json and rendered at /docs. */
  spec: object;
  /** The generated router (`create<Api>Router(delegate, options)`). */
  api: Router;
  log: Logger;
  host?: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Named checks for /health/ready; each throws when its dependency is not usable. */
  readiness?: Record<string, () => Promise<void>>;
  /** The service's metrics registry (created here when not given), served at /metrics. */
  metrics?: Metrics;
  /** Delegate calls the router tracks; shutdown waits for them after the server has closed. */
  inFlight?: InFlight;
  /** Run in order after the HTTP server has drained (close consumers, then the database). */
  onShutdown?: (() => Promise<void>)[];
  shutdownTimeoutMs?: number;
  /** Origins whose browser pages may call the service (CORS); `'*'`: any. None by default. */
  corsOrigins?: '*' | readonly string[];
  /** Express's `trust proxy`: which proxies' X-Forwarded-For sets the client address (req.ip). Off by default. */
  trustProxy?: TrustProxy;
}

/** What a browser on an allowed origin may send, and read from the answers (CORS). */
export const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'idempotency-key', 'x-request-id', 'x-correlation-id'];
export const CORS_EXPOSED_HEADERS = [
  'location',
  'x-request-id',
  'x-correlation-id',
  'idempotency-replayed',
  'idempotent-replayed',
  'www-authenticate',
  'retry-after',
];
const CORS_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

export interface Service {
  readonly name: string;
  readonly app: express.Express;
  /** Base URL once started, e.g. http://127.0.0.1:8081 */
  url: string;
  start(): Promise<void>;
  /** Graceful: stop accepting, finish in-flight requests (bounded), then the onShutdown hooks. */
  stop(): Promise<void>;
}

export function createService(options: ServiceOptions): Service {
  const { log } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', options.trustProxy ?? false);
  const metrics = options.metrics ?? createMetrics(options.name);
  let server: Server | undefined;
  let stopping: Promise<void> | undefined;

  app.use((req, res, next) => {
    const ctx = requestContext(req, res, log);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      ctx.log[res.statusCode >= 500 ? 'error' : 'info'](
        { method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms: Math.round(ms * 10) / 10 },
        'request',
      );
    });
    next();
  });
  // Every 401 carries a challenge (RFC 9110 §15.5.2), also one a delegate returns without it.
  app.use((req, res, next) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: typeof res, ...args: unknown[]) {
      const status = typeof args[0] === 'number' ? args[0] : res.statusCode;
      if (status === 401 && !res.hasHeader('www-authenticate')) res.setHeader('www-authenticate', challengeFor(req));
      return writeHead.apply(this, args as Parameters<typeof writeHead>);
    } as typeof writeHead;
    next();
  });
  app.use(metrics.middleware);
  if (options.corsOrigins === '*' || (options.corsOrigins && options.corsOrigins.length > 0)) {
    const allowed = options.corsOrigins === '*' ? undefined : new Set(options.corsOrigins);
    // The answer depends on the Origin, allowed or not: caches must keep them apart.
    if (allowed) app.use((_req, res, next) => void (res.vary('Origin'), next()));
    // Before any route and before authentication: a preflight carries no token and is answered here.
    // Another origin gets no CORS header at all (and its preflight goes on to the 404/405 of the API).
    app.use(
      cors({
        origin: allowed ? (origin, done) => done(null, origin !== undefined && allowed.has(origin) ? origin : false) : '*',
        methods: CORS_METHODS,
        allowedHeaders: CORS_ALLOWED_HEADERS,
        exposedHeaders: CORS_EXPOSED_HEADERS,
        maxAge: 600,
      }),
    );
  }

  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', async (_req, res) => {
    const checks: Record<string, string> = {};
    await Promise.all(
      Object.entries(options.readiness ?? {}).map(async ([name, check]) => {
        try {
          await check();
          checks[name] = 'ok';
        } catch (err) {
          checks[name] = 'unavailable';
          log.warn({ check: name, err: redactSecrets((err as Error).message) }, 'readiness check failed');
        }
      }),
    );
    const ready = !stopping && Object.values(checks).every((c) => c === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(options.spec);
  });
  app.get('/docs', (_req, res) => {
    res.type('html').send(docsPage(options.name));
  });
  app.use('/docs', express.static(swaggerUiPath(), { index: false }));

  app.use(options.api);

  app.use((req, res) => writeProblem(req, res, problem(404, 'route-not-found', `No route ${req.method} ${req.path}.`), log));
  app.use(problemErrorHandler(log));

  const service: Service = {
    name: options.name,
    app,
    url: '',
    async start() {
      server = app.listen(options.port, options.host ?? '127.0.0.1');
      await once(server, 'listening');
      // Keep-alive shorter than typical proxies' so they never reuse a socket we are closing.
      server.keepAliveTimeout = 5_000;
      const { address, port } = server.address() as AddressInfo;
      service.url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
      log.info({ url: service.url }, `${options.name} listening`);
    },
    stop() {
      stopping ??= (async () => {
        const timeoutMs = options.shutdownTimeoutMs ?? 10_000;
        // One budget for the whole stop: requests, delegate calls and every hook share it, so a
        // stop ends in time even with the broker or the database gone (a hook that overruns is
        // left behind and the next one runs).
        const deadline = Date.now() + timeoutMs;
        const left = () => Math.max(0, deadline - Date.now());
        if (server) {
          const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
          // close() drops the connections idle now; keep-alive ones that finish their request
          // later would linger until their timeout, so sweep them as they go idle.
          const sweep = setInterval(() => server!.closeIdleConnections(), 50);
          const timer = setTimeout(() => {
            log.warn({ timeoutMs }, 'shutdown timeout: closing remaining connections');
            server!.closeAllConnections();
          }, timeoutMs);
          await closed;
          clearInterval(sweep);
          clearTimeout(timer);
        }
        if (options.inFlight && !(await options.inFlight.drain(left()))) {
          log.warn({ running: options.inFlight.size }, 'shutdown timeout: closing with delegate calls still running');
        }
        for (const [index, hook] of (options.onShutdown ?? []).entries()) {
          // Every hook gets a moment even past the deadline: the last ones close the connections.
          const budgetMs = Math.max(left(), MIN_HOOK_MS);
          let timer: NodeJS.Timeout | undefined;
          try {
            const outcome = await Promise.race([
              hook().then(() => 'done' as const),
              new Promise<'timed-out'>((resolve) => {
                timer = setTimeout(() => resolve('timed-out'), budgetMs);
              }),
            ]);
            if (outcome === 'timed-out') log.warn({ hook: index, budgetMs }, 'shutdown hook did not finish in time; going on without it');
          } catch (err) {
            log.error({ err }, 'shutdown hook failed');
          } finally {
            clearTimeout(timer);
          }
        }
        log.info(`${options.name} stopped`);
      })();
      return stopping;
    },
  };
  return service;
}

/** What a shutdown hook gets at least, once the budget is spent (closing a connection takes that). */
const MIN_HOOK_MS = 250;

function docsPage(name: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Payspec ${name} API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    // "Try it out" calls the server this page came from unless the spec names it already (the
    // spec's own servers stay selectable): same origin, so no CORS is needed, however the host
    // is spelled (127.0.0.1 or localhost, behind a proxy or not).
    fetch('/openapi.json').then((r) => r.json()).then((spec) => {
      const servers = spec.servers || [];
      if (!servers.some((s) => new URL(s.url, location.href).origin === location.origin)) {
        spec.servers = [{ url: location.origin, description: 'This server' }].concat(servers);
      }
      window.ui = SwaggerUIBundle({ spec, dom_id: '#swagger-ui' });
    });
  </script>
</body>
</html>
`;
}

/** Runs a started service until SIGTERM/SIGINT, then stops it gracefully and exits. */
export function stopOnSignals(service: Service, log: Logger): void {
  const stop = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'shutting down');
    service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
