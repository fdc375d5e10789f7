// The console's pages call every API on the console's own origin, under /api/<service>/: this
// passes each request through to its service unchanged (method, path, headers, body) and its
// answer back. One origin means no CORS preflights and one address to publish; every check —
// tokens, validation, idempotency — stays in the service that owns the API.
import { Router } from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import type { Logger } from 'pino';
import { problem } from '../common/http/problem.js';
import { CONSOLE_APIS, type ConsoleApi } from './console-config.js';

export function apiProxy(upstreams: Record<ConsoleApi, string>, log: Logger): Router {
  const router = Router();
  for (const api of CONSOLE_APIS) {
    router.use(
      `/api/${api}`,
      createProxyMiddleware({
        target: upstreams[api],
        // The services see the browser's address in X-Forwarded-For (used with TRUST_PROXY).
        xfwd: true,
        proxyTimeout: 30_000,
        on: {
          error(err, req, res) {
            log.warn({ api, err: (err as Error).message, path: req.url }, 'API unreachable');
            // A socket (an upgrade) has nothing to answer; an HTTP response gets a problem.
            if (!('writeHead' in res) || res.headersSent) return void res.end();
            const body = problem(502, 'api-unreachable', `The ${api} service did not answer; try again.`);
            res.writeHead(502, { 'content-type': 'application/problem+json' });
            res.end(JSON.stringify(body));
          },
        },
      }),
    );
  }
  return router;
}
