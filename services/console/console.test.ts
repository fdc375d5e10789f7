// The console service against real RabbitMQ, FerretDB and HTTP: its pages and their security
// headers, the pass-through of /api/<service>/ to each service (and a problem when one is down),
// and its own API — parked events listed with their reasons and replayed — called through the
// generated client and checked against specs/console.yaml, with schema-derived invalid requests.
import { once } from 'node:events';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createConsoleClient } from '../../generated/console/client.js';
import spec from '../../generated/console/spec.json' with { type: 'json' };
import { eventCatalog } from '../../generated/events/catalog.js';
import { type OpenApiSpec, createContractCheckingMiddleware, getCoverageSummary, runInvalidRequests, skipUnlessWholeFileRuns } from '../../tools/contract-testing/index.js';
import { AMQP_PREFIX, AMQP_URL, MONGO_URL, TEST_RETRY_DELAYS_MS, type TestService, deleteTopology, startTestService, testDatabaseName } from '../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer, forgedToken } from '../../tools/testing/tokens.js';
import { eventually } from '../../tools/testing/wait.js';
import { EventBus } from '../common/events/event-bus.js';
import { Inbox } from '../common/events/inbox.js';
import { contractChanged } from '../common/events/test-support/fixtures.js';
import { createEventMetrics } from '../common/metrics.js';
import { consoleService } from './main.js';
import { CONSUMING_SERVICES } from './parked-events-delegate.js';
import { publishInvalidEvent } from './test-support/operator.js';

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  forwardedFor?: string;
  body: string;
}

/** A stand-in for a service behind the console: answers 201 with what it received. */
async function startUpstream(): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, forwardedFor: req.headers['x-forwarded-for'] as string | undefined, body });
    res.writeHead(201, { 'content-type': 'application/json', location: '/things/1' });
    res.end(JSON.stringify({ received: body.length }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('Console service (integration)', function () {
  this.timeout(60_000);
  let issuer: TokenIssuer;
  let consoleSvc: TestService;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let consumer: EventBus;
  let mongo: MongoClient | undefined;
  const consumerMetrics = createEventMetrics(new Registry());
  /** How many contract.cancelled deliveries billing's consumer parked. */
  const parkedCount = async () =>
    (await consumerMetrics.consumed.get()).values.find((v) => v.labels.outcome === 'parked' && v.labels.type === 'contract.cancelled')?.value ?? 0;
  let brokenHandler = true;
  const handled: string[] = [];
  const client = (token?: string) =>
    createConsoleClient({ baseUrl: consoleSvc.url, ...(token ? { token } : {}), middleware: [createContractCheckingMiddleware({ api: 'console', spec: spec as OpenApiSpec })] });
  const operator = async () => client(await issuer.sign('op-console', { roles: ['operator'] }));

  before(async () => {
    issuer = await createTokenIssuer();
    upstream = await startUpstream();
    consoleSvc = await startTestService(consoleService, issuer, {
      PAYMENT_GATEWAY_URL: upstream.url,
      // Nothing listens there: the pass-through answers a problem.
      CONTRACT_URL: 'http://127.0.0.1:9',
    });
    // Billing's consumer, with a handler that fails until fixed: its events end up parked.
    consumer = new EventBus({
      url: AMQP_URL,
      prefix: AMQP_PREFIX,
      service: 'billing',
      log: pino({ level: 'silent' }),
      inbox: new Inbox((mongo = await new MongoClient(MONGO_URL).connect()).db(testDatabaseName('console-billing'))),
      retryDelaysMs: TEST_RETRY_DELAYS_MS,
      metrics: consumerMetrics,
    });
    consumer.subscribe('contract.cancelled', async (event) => {
      if (brokenHandler) throw new Error('billing database is read-only');
      handled.push(event.id);
    });
    await consumer.start();
  });

  after(async () => {
    await consumer?.close();
    upstream?.server.close();
    await consoleSvc?.stop();
    await consoleSvc?.drop();
    await mongo?.db(testDatabaseName('console-billing')).dropDatabase();
    await mongo?.close();
    await deleteTopology(AMQP_PREFIX, 'billing');
  });

  it('serves the console page with a strict content security policy, and its bundle', async () => {
    const page = await fetch(`${consoleSvc.url}/`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.match(/^text\/html/);
    expect(page.headers.get('content-security-policy')).to.include("default-src 'self'").and.include("frame-ancestors 'none'");
    const html = await page.text();
    expect(html).to.include('<script type="module" src="/dist/console.js">');
    const bundle = await fetch(`${consoleSvc.url}/dist/console.js`);
    expect(bundle.status).to.equal(200);
    expect(bundle.headers.get('content-type')).to.match(/javascript/);
    // The generated clients are in it: the pages call the APIs under /api/<service>/.
    expect(await bundle.text()).to.include('/api/payment-gateway');
  });

  it('passes /api/<service>/ through to the service: method, path, query, headers and body, and the answer back', async () => {
    const body = JSON.stringify({ amount: 2500, currency: 'EUR' });
    const answer = await fetch(`${consoleSvc.url}/api/payment-gateway/payments?limit=5`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer abc', 'idempotency-key': 'k-1' },
      body,
    });
    expect(answer.status).to.equal(201);
    expect(answer.headers.get('location')).to.equal('/things/1');
    expect(await answer.json()).to.deep.equal({ received: body.length });
    const seen = upstream.seen.at(-1)!;
    expect(seen).to.include({ method: 'POST', url: '/payments?limit=5', authorization: 'Bearer abc', body });
    expect(seen.forwardedFor).to.match(/127\.0\.0\.1/);
  });

  it('answers 502 problem+json when the service behind is down, and 404 for an API it does not pass through', async () => {
    const down = await fetch(`${consoleSvc.url}/api/contract/contracts`);
    expect(down.status).to.equal(502);
    expect(down.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(await down.json()).to.include({ status: 502, code: 'api-unreachable' });
    const unknown = await fetch(`${consoleSvc.url}/api/acquiring-bank/charges`);
    expect(unknown.status).to.equal(404);
  });

  it('lists a parked event with its reason (operators only), and replays it into its service once the cause is fixed', async () => {
    const event = await consumer.publish('contract.cancelled', contractChanged(undefined, 2) as never, { correlationId: 'corr-console' });
    const ops = await operator();
    const parked = await eventually(
      async () => (await ops.GET('/parked-events', { params: { query: { service: 'billing' } } })).data?.data ?? [],
      (list) => list.some((e) => e.messageId === event.id),
      'the event parked',
      20_000,
    );
    const entry = parked.find((e) => e.messageId === event.id)!;
    expect(entry).to.include({ service: 'billing', type: 'contract.cancelled', attempts: TEST_RETRY_DELAYS_MS.length + 1 });
    expect(entry.reason).to.include('billing database is read-only');
    expect((entry.event as { id: string }).id).to.equal(event.id);
    // Listing takes nothing away; every consuming service is listed when none is named.
    const all = await ops.GET('/parked-events', {});
    expect(all.data!.data.map((e) => e.messageId)).to.include(event.id);
    expect(handled).to.deep.equal([]);

    const customer = client(await issuer.sign('usr-c', { roles: ['customer'] }));
    expect((await customer.GET('/parked-events', {})).response.status).to.equal(403);
    expect((await customer.POST('/parked-events/{service}/{messageId}/replay', { params: { path: { service: 'billing', messageId: event.id } } })).response.status).to.equal(403);

    brokenHandler = false;
    const replay = await ops.POST('/parked-events/{service}/{messageId}/replay', { params: { path: { service: 'billing', messageId: event.id } } });
    expect(replay.response.status).to.equal(200);
    expect(replay.data).to.include({ service: 'billing', messageId: event.id });
    await eventually(async () => handled.length, (n) => n === 1, 'the replayed event handled');
    expect(handled).to.deep.equal([event.id]);
    expect((await ops.GET('/parked-events', { params: { query: { service: 'billing' } } })).data!.data).to.deep.equal([]);
    // Replayed once: not parked any more.
    const again = await ops.POST('/parked-events/{service}/{messageId}/replay', { params: { path: { service: 'billing', messageId: event.id } } });
    expect(again.response.status).to.equal(404);
    expect(again.error).to.include({ code: 'parked-event-not-found' });
  });

  it('replays an event its service parks again at once (an invalid one) exactly once, and lists it again', async () => {
    const messageId = await publishInvalidEvent(AMQP_PREFIX, 'contract.cancelled', { contractId: 'not-a-contract' });
    const ops = await operator();
    const listed = async () => (await ops.GET('/parked-events', { params: { query: { service: 'billing' } } })).data!.data.filter((e) => e.messageId === messageId);
    const [first] = await eventually(listed, (list) => list.length === 1, 'the invalid event parked');
    expect(first!.reason).to.match(/contractId|must/);
    const parkedBefore = await parkedCount();
    const replay = await ops.POST('/parked-events/{service}/{messageId}/replay', { params: { path: { service: 'billing', messageId } } });
    expect(replay.response.status).to.equal(200);
    // Parked again by billing (still invalid), once: the replay did not take it a second time.
    const [again] = await eventually(listed, (list) => list.length === 1 && list[0]!.parkedAt !== first!.parkedAt, 'the event parked again');
    expect(again).to.include({ messageId, attempts: 1 });
    expect(await listed()).to.have.length(1);
    expect(await parkedCount()).to.equal(parkedBefore + 1);
  });

  it("names, as the services that may hold parked events, exactly the event catalog's consumers", () => {
    const consumers = new Set(Object.values(eventCatalog).flatMap((e) => e.consumers));
    expect([...CONSUMING_SERVICES].sort()).to.deep.equal([...consumers].sort());
    const enumInSpec = (spec as unknown as { components: { schemas: { ServiceName: { enum: string[] } } } }).components.schemas.ServiceName.enum;
    expect([...enumInSpec].sort()).to.deep.equal([...consumers].sort());
  });

  describe('contract tests derived from the spec', () => {
    it('answers every schema-derived invalid request with a 4xx problem+json, never a 5xx', async () => {
      const token = await issuer.sign('op-console', { roles: ['operator'] });
      const forged = await forgedToken('op-console', ['operator']);
      const valid: Record<string, Parameters<typeof runInvalidRequests>[0]['valid']> = {
        listParkedEvents: { query: { service: 'billing', limit: 10 } },
        replayParkedEvent: { path: { service: 'billing', messageId: 'evt_01jd8w4k6m8n0p2q4r6s8t0v3y' } },
      };
      let cases = 0;
      const failures: string[] = [];
      for (const [operationId, validRequest] of Object.entries(valid)) {
        const result = await runInvalidRequests({ api: 'console', baseUrl: consoleSvc.url, spec: spec as OpenApiSpec, operationId, valid: validRequest, tokens: { valid: token, forged } });
        cases += result.cases;
        failures.push(...result.failures);
      }
      expect(failures).to.deep.equal([]);
      expect(cases).to.be.greaterThan(8);
    });

    it('has exercised every operation of the spec with a success status', function () {
      skipUnlessWholeFileRuns(this);
      const api = getCoverageSummary().apis.find((a) => a.api === 'console');
      const missing = api!.operations.filter((op) => !op.statuses.some((s) => s.exercised && s.key.startsWith('2'))).map((op) => op.operationId);
      expect(missing).to.deep.equal([]);
    });
  });
});
