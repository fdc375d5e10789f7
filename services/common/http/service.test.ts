// createService over real HTTP, for what browsers, proxies and clients see: CORS (CORS_ORIGINS),
// the client address behind a proxy (TRUST_PROXY), and a WWW-Authenticate challenge on every 401.
import { expect } from 'chai';
import express from 'express';
import { pino } from 'pino';
import { type TestService, startTestService } from '../../../tools/testing/service-harness.js';
import { createTokenIssuer } from '../../../tools/testing/tokens.js';
import { paymentGatewayService } from '../../payment-gateway/main.js';
import { bearerJwt } from '../auth/bearer-jwt.js';
import { HttpProblem } from './problem.js';
import { type Service, type ServiceOptions, createService } from './service.js';

const APP = 'http://localhost:3000';

/** A hand-made router standing in for a generated one: /me authenticates like a secured operation. */
async function testApi() {
  const issuer = await createTokenIssuer();
  const verify = bearerJwt({ issuer: 'payspec-identity', audience: 'payspec', jwks: issuer.jwks });
  const api = express.Router();
  api.get('/me', async (req, res, next) => {
    try {
      res.json({ subject: (await verify(req)).subject });
    } catch (err) {
      next(err);
    }
  });
  api.post('/things', (_req, res) => {
    res.status(201).set('location', '/things/1').json({ id: '1' });
  });
  // A delegate answering 401 itself (like sign-in with a wrong password), with no challenge of its own.
  api.post('/sign-in', (_req, res) => {
    res.status(401).type('application/problem+json').send(JSON.stringify({ status: 401, code: 'invalid-credentials' }));
  });
  api.get('/thrown-401', () => {
    throw new HttpProblem(401, 'unknown-user', 'The token names an account that does not exist.');
  });
  api.get('/ip', (req, res) => {
    res.json({ ip: req.ip });
  });
  const expired = await issuer.sign('user-1', { expiresIn: Math.floor(Date.now() / 1000) - 60 });
  return { api, token: await issuer.sign('user-1'), expired };
}

async function started(options: Partial<ServiceOptions>): Promise<Service> {
  const { api } = await testApi();
  const service = createService({ name: 'browser-test', spec: {}, api, log: pino({ level: 'silent' }), port: 0, ...options });
  await service.start();
  return service;
}

describe('createService: CORS, trust proxy, WWW-Authenticate (integration over HTTP)', () => {
  describe('CORS_ORIGINS', () => {
    let service: Service;
    before(async () => {
      service = await started({ corsOrigins: [APP, 'https://console.example.com'] });
    });
    after(() => service.stop());

    it('lets an allowed origin read the answer and the useful response headers', async () => {
      const res = await fetch(`${service.url}/things`, { method: 'POST', headers: { origin: APP } });
      expect(res.status).to.equal(201);
      expect(res.headers.get('access-control-allow-origin')).to.equal(APP);
      expect(res.headers.get('vary')).to.match(/origin/i);
      const exposed = res.headers.get('access-control-expose-headers')!.split(',');
      expect(exposed).to.include.members(['location', 'x-request-id', 'idempotency-replayed', 'www-authenticate', 'retry-after']);
      expect(res.headers.get('access-control-allow-credentials'), 'bearer tokens, never cookies').to.equal(null);
    });

    it('gives another origin no CORS headers (its browser refuses the answer)', async () => {
      const res = await fetch(`${service.url}/things`, { method: 'POST', headers: { origin: 'https://evil.example' } });
      expect(res.headers.get('access-control-allow-origin')).to.equal(null);
      expect(res.headers.get('access-control-expose-headers')).to.equal(null);
      expect(res.headers.get('vary'), 'caches keep the answers per origin').to.match(/origin/i);
      const preflight = await fetch(`${service.url}/me`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
      expect(preflight.headers.get('access-control-allow-origin')).to.equal(null);
      expect(preflight.headers.get('access-control-allow-methods')).to.equal(null);
      expect(preflight.status, 'not answered by CORS, still not by authentication').not.to.equal(401);
    });

    it('answers a preflight before authentication: 204 with the methods and headers, never 401', async () => {
      const res = await fetch(`${service.url}/me`, {
        method: 'OPTIONS',
        headers: { origin: APP, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization,idempotency-key,content-type' },
      });
      expect(res.status).to.equal(204);
      expect(res.headers.get('access-control-allow-origin')).to.equal(APP);
      expect(res.headers.get('access-control-allow-methods')!.split(',')).to.include.members(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
      expect(res.headers.get('access-control-allow-headers')!.split(',')).to.have.members([
        'authorization',
        'content-type',
        'idempotency-key',
        'x-request-id',
        'x-correlation-id',
      ]);
      expect(res.headers.get('access-control-max-age')).to.equal('600');
      expect(res.headers.get('www-authenticate')).to.equal(null);
    });

    it('still authenticates the real request that follows the preflight', async () => {
      const res = await fetch(`${service.url}/me`, { headers: { origin: APP } });
      expect(res.status).to.equal(401);
      expect(res.headers.get('access-control-allow-origin'), 'so the page can read the problem').to.equal(APP);
    });

    it('"*" allows any origin; none configured (the default) adds no CORS headers at all', async () => {
      const any = await started({ corsOrigins: '*' });
      const none = await started({});
      try {
        const fromAny = await fetch(`${any.url}/things`, { method: 'POST', headers: { origin: 'https://whoever.example' } });
        expect(fromAny.headers.get('access-control-allow-origin')).to.equal('*');
        const preflight = await fetch(`${any.url}/me`, { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': 'GET' } });
        expect(preflight.status).to.equal(204);
        const fromNone = await fetch(`${none.url}/things`, { method: 'POST', headers: { origin: APP } });
        expect(fromNone.headers.get('access-control-allow-origin')).to.equal(null);
      } finally {
        await any.stop();
        await none.stop();
      }
    });
  });

  describe('TRUST_PROXY', () => {
    it('takes the client address from X-Forwarded-For only when the proxy is trusted', async () => {
      const behindProxy = await started({ trustProxy: 'loopback' });
      const direct = await started({});
      const allHops = await started({ trustProxy: true });
      try {
        const ip = async (service: Service, forwardedFor: string) =>
          ((await (await fetch(`${service.url}/ip`, { headers: { 'x-forwarded-for': forwardedFor } })).json()) as { ip: string }).ip;
        expect(await ip(behindProxy, '203.0.113.7')).to.equal('203.0.113.7');
        // A client forging the header in front of the proxy: the proxy appends the real address.
        expect(await ip(behindProxy, '198.51.100.1, 203.0.113.7')).to.equal('203.0.113.7');
        expect(await ip(direct, '203.0.113.7'), 'off by default: the header is anyone\'s to forge').to.equal('127.0.0.1');
        expect(await ip(allHops, '198.51.100.1, 203.0.113.7')).to.equal('198.51.100.1');
      } finally {
        await behindProxy.stop();
        await direct.stop();
        await allHops.stop();
      }
    });
  });

  describe('WWW-Authenticate', () => {
    let service: Service;
    let token: string;
    let expired: string;
    before(async () => {
      const built = await testApi();
      ({ token, expired } = built);
      service = createService({ name: 'auth-test', spec: {}, api: built.api, log: pino({ level: 'silent' }), port: 0 });
      await service.start();
    });
    after(() => service.stop());

    it('challenges a request without a token with the realm and no error code (RFC 6750 §3.1)', async () => {
      const res = await fetch(`${service.url}/me`);
      expect(res.status).to.equal(401);
      expect(res.headers.get('www-authenticate')).to.equal('Bearer realm="payspec"');
    });

    it('says invalid_token when the token sent is malformed, forged or expired', async () => {
      for (const authorization of ['Bearer not-a-jwt', `Bearer ${token.slice(0, -4)}AAAA`, `Bearer ${expired}`, 'Basic dXNlcjpwYXNz']) {
        const res = await fetch(`${service.url}/me`, { headers: { authorization } });
        expect(res.status, authorization).to.equal(401);
        expect(res.headers.get('www-authenticate'), authorization).to.match(/^Bearer realm="payspec", error="invalid_token", error_description="[^"]+"$/);
      }
      expect((await fetch(`${service.url}/me`, { headers: { authorization: `Bearer ${token}` } })).status).to.equal(200);
    });

    it('adds a challenge to a 401 written without one (a delegate\'s answer, a thrown problem)', async () => {
      const signIn = await fetch(`${service.url}/sign-in`, { method: 'POST' });
      expect(signIn.status).to.equal(401);
      expect(signIn.headers.get('www-authenticate')).to.equal('Bearer realm="payspec"');
      const thrown = await fetch(`${service.url}/thrown-401`, { headers: { authorization: `Bearer ${token}` } });
      expect(thrown.status).to.equal(401);
      expect(thrown.headers.get('www-authenticate')).to.match(/^Bearer realm="payspec", error="invalid_token"/);
      expect((await fetch(`${service.url}/things`, { method: 'POST' })).headers.get('www-authenticate'), 'only on 401s').to.equal(null);
    });
  });

  it('logs a failed readiness check without the credentials of a URL in its message', async () => {
    const lines: string[] = [];
    const { api } = await testApi();
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const service = createService({
      name: 'ready-test',
      spec: {},
      api,
      log,
      port: 0,
      readiness: {
        mongodb: async () => {
          throw new Error('connection to mongodb://payspec:s3cr3t@db.internal:27017 closed');
        },
      },
    });
    await service.start();
    try {
      const res = await fetch(`${service.url}/health/ready`);
      expect(res.status).to.equal(503);
      expect(await res.json()).to.deep.equal({ status: 'unavailable', checks: { mongodb: 'unavailable' } });
      expect(lines.join('')).to.include('mongodb://payspec:***@db.internal:27017').and.not.include('s3cr3t');
    } finally {
      await service.stop();
    }
  });

  it('points the docs page\'s "Try it out" at the server that served it unless the spec names it', async () => {
    // The page's script, run against stand-ins for the browser's fetch, location and Swagger UI.
    const serversSeen = async (servers: { url: string }[] | undefined, page: string) => {
      const service = await started({ spec: { openapi: '3.1.0', ...(servers ? { servers } : {}) } });
      try {
        const html = await (await fetch(`${service.url}/docs`)).text();
        const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
        const spec = await (await fetch(`${service.url}/openapi.json`)).json();
        let shown: { spec: { servers?: { url: string }[] } } | undefined;
        new Function('fetch', 'location', 'SwaggerUIBundle', 'window', script)(
          async () => ({ json: async () => spec }),
          new URL(page),
          (options: typeof shown) => (shown = options),
          {},
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
        return shown!.spec.servers?.map((s) => s.url);
      } finally {
        await service.stop();
      }
    };
    expect(await serversSeen([{ url: 'http://localhost:8081' }], 'http://127.0.0.1:8081/docs')).to.deep.equal(['http://127.0.0.1:8081', 'http://localhost:8081']);
    expect(await serversSeen(undefined, 'http://127.0.0.1:8081/docs')).to.deep.equal(['http://127.0.0.1:8081']);
    expect(await serversSeen([{ url: '/' }], 'https://api.example.com/docs'), 'a relative server is this one already').to.deep.equal(['/']);
  });
});

describe('createService from the environment: the payment gateway with CORS_ORIGINS and TRUST_PROXY (integration)', function () {
  this.timeout(30_000);
  let gateway: TestService;
  const password = 'correct horse battery staple';
  const email = `cors-${Date.now().toString(36)}@example.com`;
  const post = (path: string, body: object, headers: Record<string, string> = {}) =>
    fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  before(async () => {
    gateway = await startTestService(paymentGatewayService, await createTokenIssuer(), {
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '1',
      CORS_ORIGINS: APP,
      TRUST_PROXY: 'loopback',
      SIGN_IN_MAX_FAILURES_PER_ACCOUNT: '1000',
      SIGN_IN_MAX_FAILURES_PER_CLIENT: '2',
    });
    const signUp = await post('/auth/sign-up', { email, password, firstName: 'Ada', lastName: 'Lovelace', phone: '+447700900999', role: 'customer' });
    expect(signUp.status).to.equal(201);
  });
  after(async () => {
    await gateway?.stop();
    await gateway?.drop();
  });

  it('serves the runtime\'s gauges on /metrics: outbox size and lag, backlog per reconciler, parked-queue depth', async () => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series}{`) || l.startsWith(`${series} `));
      expect(line, `${series} on /metrics`).to.be.a('string');
      return Number(line!.slice(line!.lastIndexOf(' ') + 1));
    };
    expect(value('outbox_pending')).to.be.at.least(0);
    expect(value('outbox_lag_seconds')).to.be.at.least(0);
    // One series per reconciler the gateway declares (main.ts), each a count read from its pending work.
    for (const reconciler of ['wallet-transfers', 'payments', 'direct-debits']) {
      expect(text).to.match(new RegExp(`^reconciler_backlog\\{[^}]*reconciler="${reconciler}"[^}]*\\} \\d+$`, 'm'));
    }
    // The gateway consumes billing.payment-requested, so it has a parking queue: read from RabbitMQ, empty here.
    expect(value('events_parked_depth')).to.equal(0);
  });

  it('answers a browser\'s preflight for a secured operation, then challenges the request without a token', async () => {
    const preflight = await fetch(`${gateway.url}/me`, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).to.equal(204);
    expect(preflight.headers.get('access-control-allow-origin')).to.equal(APP);
    const me = await fetch(`${gateway.url}/me`, { headers: { origin: APP } });
    expect(me.status).to.equal(401);
    expect(me.headers.get('www-authenticate')).to.equal('Bearer realm="payspec"');
    expect(me.headers.get('access-control-expose-headers')).to.include('www-authenticate');
  });

  it('challenges a bad token, a wrong password at sign-in and a bad refresh token', async () => {
    const badToken = await fetch(`${gateway.url}/me`, { headers: { authorization: 'Bearer a.b.c' } });
    expect(badToken.status).to.equal(401);
    expect(badToken.headers.get('www-authenticate')).to.match(/^Bearer realm="payspec", error="invalid_token"/);
    const wrongPassword = await post('/auth/sign-in', { email, password: 'not the password at all' }, { 'x-forwarded-for': '192.0.2.50' });
    expect(wrongPassword.status).to.equal(401);
    expect(wrongPassword.headers.get('www-authenticate')).to.equal('Bearer realm="payspec"');
    const badRefresh = await post('/auth/refresh', { refreshToken: 'x'.repeat(43) });
    expect(badRefresh.status).to.equal(401);
    expect(badRefresh.headers.get('www-authenticate')).to.equal('Bearer realm="payspec"');
  });

  it('limits sign-ins per client by the address the proxy forwards, not the proxy\'s own', async () => {
    const attempt = (client: string, n: number) => post('/auth/sign-in', { email: `nobody-${n}@example.com`, password: 'wrong password 42' }, { 'x-forwarded-for': client });
    expect((await attempt('203.0.113.1', 1)).status).to.equal(401);
    expect((await attempt('203.0.113.1', 2)).status).to.equal(401);
    const limited = await attempt('203.0.113.1', 3);
    expect(limited.status, 'the third failure from one client').to.equal(429);
    expect(limited.headers.get('retry-after')).to.match(/^\d+$/);
    expect((await attempt('203.0.113.2', 4)).status, 'another client behind the same proxy is not limited').to.equal(401);
  });
});
