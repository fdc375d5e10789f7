// The shared runtime: pure helpers, and createService's own behaviour over real HTTP.
import { connect } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import { pino } from 'pino';
import { ConfigError, commonSpecs, loadConfig } from './config.js';
import { toPointer } from './http/errors.js';
import { InFlight } from './http/in-flight.js';
import { type Service, createService } from './http/service.js';
import { idForIdempotencyKey, newId, requestHash } from './ids.js';
import { decodeCursor, encodeCursor, toPage } from './pagination.js';
import { eventually } from '../../tools/testing/wait.js';

/** True when a new TCP connection to the port is refused (one that gets through is closed at once). */
function connectionRefused(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('services/common (unit)', () => {
  describe('config', () => {
    it('applies defaults that work locally', () => {
      const config = loadConfig(commonSpecs('payment-gateway', 8080), {});
      expect(config.PORT).to.equal(8080);
      expect(config.MONGO_DB).to.equal('payspec_payment_gateway');
      expect(config.VALIDATE_RESPONSES).to.equal(false);
    });

    it('fails fast naming every invalid variable', () => {
      const load = () => loadConfig(commonSpecs('contract', 8081), { PORT: 'eighty', LOG_LEVEL: 'loud', MONGO_URL: 'not a url' });
      expect(load).to.throw(ConfigError).with.property('message').that.matches(/PORT/).and.matches(/LOG_LEVEL/).and.matches(/MONGO_URL/);
    });

    it('accepts port 0 (any free port) but not 65536', () => {
      expect(loadConfig(commonSpecs('contract', 8081), { PORT: '0' }).PORT).to.equal(0);
      expect(() => loadConfig(commonSpecs('contract', 8081), { PORT: '65536' })).to.throw(/PORT/);
    });
  });

  describe('ids', () => {
    it('makes prefixed random ids of 26 base32 characters', () => {
      const ids = new Set(Array.from({ length: 1000 }, () => newId('ctr')));
      expect(ids.size).to.equal(1000);
      for (const id of ids) expect(id).to.match(/^ctr_[0-9a-z]{26}$/);
    });

    it('derives the same id from the same caller and idempotency key, and another from any other', () => {
      const id = idForIdempotencyKey('ctr', 'op-1', 'key-1');
      expect(id).to.match(/^ctr_[0-9a-z]{26}$/);
      expect(idForIdempotencyKey('ctr', 'op-1', 'key-1')).to.equal(id);
      expect(idForIdempotencyKey('ctr', 'op-2', 'key-1')).not.to.equal(id);
      expect(idForIdempotencyKey('ctr', 'op-1', 'key-2')).not.to.equal(id);
    });

    it('hashes request bodies ignoring key order but not values', () => {
      expect(requestHash({ a: 1, b: { c: [1, 2], d: 'x' } })).to.equal(requestHash({ b: { d: 'x', c: [1, 2] }, a: 1 }));
      expect(requestHash({ a: 1, b: { c: [2, 1] } })).not.to.equal(requestHash({ a: 1, b: { c: [1, 2] } }));
    });
  });

  describe('pagination', () => {
    it('round-trips cursors and refuses ones it did not issue with a 400 problem', () => {
      const cursor = encodeCursor({ createdAt: '2026-01-01T00:00:00.000Z', id: 'ctr_x' });
      expect(decodeCursor(cursor, { createdAt: 'string', id: 'string' })).to.deep.equal({ createdAt: '2026-01-01T00:00:00.000Z', id: 'ctr_x' });
      for (const bad of ['!!', encodeCursor({ version: 3 }), Buffer.from('not json').toString('base64url')]) {
        expect(() => decodeCursor(bad, { createdAt: 'string', id: 'string' })).to.throw().with.nested.property('problem.status', 400);
      }
    });

    it('builds a page from limit + 1 rows', () => {
      const page = toPage([1, 2, 3], 2, (n) => n * 10, (n) => ({ n }));
      expect(page.data).to.deep.equal([10, 20]);
      expect(page.hasMore).to.equal(true);
      expect(decodeCursor(page.nextCursor, { n: 'number' })).to.deep.equal({ n: 2 });
      expect(toPage([1], 2, (n) => n, (n) => ({ n }))).to.deep.equal({ data: [1], hasMore: false });
    });
  });

  it('turns validator error paths into pointers into { body, query, path, headers }', () => {
    expect(toPointer('/body/mandate/iban')).to.equal('/body/mandate/iban');
    expect(toPointer('.query.limit')).to.equal('/query/limit');
    expect(toPointer('/params/contractId')).to.equal('/path/contractId');
    expect(toPointer(undefined)).to.equal('');
    expect(toPointer('/colour'), 'oneOf body errors come without their location').to.equal('/body/colour');
  });
});

describe('createService (integration over HTTP)', () => {
  let service: Service;
  let releaseSlow: () => void = () => {};
  let slowStarted: () => void = () => {};

  before(async () => {
    // A hand-made router stands in for a generated one: this tests the runtime, not an API.
    const api = express.Router();
    api.get('/slow', async (_req, res) => {
      await new Promise<void>((resolve) => {
        releaseSlow = resolve;
        slowStarted();
      });
      res.json({ done: true });
    });
    api.get('/boom', () => {
      throw new Error('secret internal detail: db password is hunter2');
    });
    service = createService({
      name: 'runtime-test',
      spec: { openapi: '3.1.0', info: { title: 'runtime test', version: '1' }, paths: {} },
      api,
      log: pino({ level: 'silent' }),
      port: 0,
      readiness: { always: async () => {} },
      shutdownTimeoutMs: 5_000,
    });
    await service.start();
  });

  it('serves health, metrics, the spec and the docs page', async () => {
    const live = await fetch(`${service.url}/health/live`);
    expect(await live.json()).to.deep.equal({ status: 'ok' });
    const ready = await fetch(`${service.url}/health/ready`);
    expect(await ready.json()).to.deep.equal({ status: 'ok', checks: { always: 'ok' } });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).to.include('http_request_duration_seconds');
    expect(await (await fetch(`${service.url}/openapi.json`)).json()).to.have.property('openapi', '3.1.0');
    const docs = await fetch(`${service.url}/docs`);
    expect(docs.headers.get('content-type')).to.match(/text\/html/);
    expect((await fetch(`${service.url}/docs/swagger-ui-bundle.js`)).status).to.equal(200);
  });

  it('answers an unknown route with a 404 problem and echoes request and correlation ids', async () => {
    const res = await fetch(`${service.url}/nowhere`, { headers: { 'x-request-id': 'req-123', 'x-correlation-id': 'corr-9' } });
    expect(res.status).to.equal(404);
    expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(res.headers.get('x-request-id')).to.equal('req-123');
    expect(res.headers.get('x-correlation-id')).to.equal('corr-9');
    expect(await res.json()).to.include({ status: 404, code: 'route-not-found', requestId: 'req-123' });
  });

  it('replaces unsafe incoming ids instead of echoing them', async () => {
    const res = await fetch(`${service.url}/nowhere`, { headers: { 'x-request-id': 'a b <script>' } });
    expect(res.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
  });

  it('answers a thrown error with a 500 problem that reveals nothing internal', async () => {
    const res = await fetch(`${service.url}/boom`);
    expect(res.status).to.equal(500);
    const text = await res.text();
    expect(text).not.to.match(/hunter2|secret|stack|\.ts:\d+/);
    expect(JSON.parse(text)).to.include({ status: 500, code: 'internal-error' });
  });

  it('shuts down gracefully: in-flight requests finish, new connections are refused', async () => {
    const started = new Promise<void>((resolve) => (slowStarted = resolve));
    const inFlight = fetch(`${service.url}/slow`);
    await started; // the request is in its handler
    const stopped = service.stop();
    const port = Number(new URL(service.url).port);
    await eventually(() => connectionRefused(port), (refused) => refused, 'a new connection during shutdown to be refused', 5_000, 10);
    releaseSlow();
    const res = await inFlight;
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ done: true });
    await stopped;
  });
});

describe('createService shutdown with a client that hung up', () => {
  it('waits for the delegate call of a request whose client left before closing the database', async () => {
    /** Delegate calls, telling when shutdown starts waiting for them and how that wait ended. */
    class WatchedInFlight extends InFlight {
      waiting = false;
      drained: boolean | undefined;
      override async drain(timeoutMs: number): Promise<boolean> {
        this.waiting = true;
        this.drained = await super.drain(timeoutMs);
        return this.drained;
      }
    }
    const inFlight = new WatchedInFlight();
    const order: string[] = [];
    let release: () => void = () => {};
    let entered: () => void = () => {};
    const inDelegate = new Promise<void>((resolve) => (entered = resolve));
    const api = express.Router();
    api.get('/work', async (_req, res) => {
      // What the generated router does for every operation.
      await inFlight.track(
        new Promise<void>((resolve) => {
          release = resolve;
          entered();
        }).then(() => order.push('delegate finished')),
      );
      res.json({});
    });
    const service = createService({
      name: 'inflight-test',
      spec: {},
      api,
      log: pino({ level: 'silent' }),
      port: 0,
      inFlight,
      onShutdown: [async () => void order.push('database closed')],
    });
    await service.start();
    const client = new AbortController();
    const request = fetch(`${service.url}/work`, { signal: client.signal }).catch(() => 'aborted');
    await inDelegate;
    client.abort();
    expect(await request).to.equal('aborted');
    const stopped = service.stop();
    // Not a pause to see that nothing happens: shutdown has got as far as waiting for the delegate
    // call (or, were it not waiting, has closed the database already).
    await eventually(async () => inFlight.waiting || order.length > 0, (held) => held, 'shutdown to wait for the delegate call', 5_000, 10);
    expect(order, 'nothing closed while the delegate runs').to.deep.equal([]);
    expect(inFlight.size, 'the delegate call still running').to.equal(1);
    release();
    await stopped;
    expect(order).to.deep.equal(['delegate finished', 'database closed']);
    expect(inFlight.drained, 'shutdown saw the delegate call finish (it did not give up on it)').to.equal(true);
  });
});
