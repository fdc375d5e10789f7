// The console service: serves the web console's pages (public/, bundled from web/ by build.ts),
// passes /api/<service>/… through to each service (api-proxy.ts), and serves specs/console.yaml —
// what operators need that belongs to no one service (parked events) — through
// createParkedEventsDelegate.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';
import spec from '../../generated/console/spec.json' with { type: 'json' };
import { createConsoleRouter } from '../../generated/console/router.js';
import { type ServiceDefinition, runMain } from '../common/bootstrap.js';
import { apiProxy } from './api-proxy.js';
import { BUNDLE, PUBLIC_DIR, buildConsole } from './build.js';
import { loadConsoleConfig } from './console-config.js';
import { createParkedEventsDelegate } from './parked-events-delegate.js';

/** The pages load only what the console itself serves; nothing else may frame them. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

export const consoleService: ServiceDefinition = {
  name: 'console',
  defaultPort: 8085,
  spec,
  indexes: {},
  async createApi({ env, log, config, clock, routerOptions }) {
    const upstreams = loadConsoleConfig(env);
    // The image carries a built bundle; anywhere else the pages are built from source now.
    if (env.NODE_ENV !== 'production' || !existsSync(BUNDLE)) await buildConsole();
    const router = Router();
    router.use(apiProxy(upstreams, log));
    router.use((_req, res, next) => {
      res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
      next();
    });
    router.use(express.static(PUBLIC_DIR, { index: 'index.html', maxAge: 0 }));
    router.use(createConsoleRouter(createParkedEventsDelegate({ amqpUrl: config.AMQP_URL, amqpPrefix: config.AMQP_PREFIX, clock }), routerOptions));
    return router;
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(consoleService);
