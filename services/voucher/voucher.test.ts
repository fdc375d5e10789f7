// Vouchers end to end (issue 11): the real payment gateway (customers, tokens, phone numbers),
// the voucher-provider simulator (time-scaled ×0.01), the voucher service, FerretDB and RabbitMQ;
// every response checked against specs/voucher.yaml; webhooks received by a test endpoint that
// verifies them with the `standardwebhooks` package. The provider's scenario is the phone
// number's last digit: 0–3 fast, 4–5 slow, 6 very slow, 7 never, 8 wrong verifier, 9 replay.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo } from 'node:net';
import { type Server, createServer } from 'node:http';
import { expect } from 'chai';
import type { Schemas } from '../../generated/voucher/delegate.js';
import spec from '../../generated/voucher/spec.json' with { type: 'json' };
import { type OpenApiSpec, getCoverageSummary, runInvalidRequests, skipUnlessWholeFileRuns } from '../../tools/contract-testing/index.js';
import { type EventProbe, startEventProbe } from '../../tools/testing/event-probe.js';
import { type TestService, startTestService, testDatabaseName } from '../../tools/testing/service-harness.js';
import { forgedToken } from '../../tools/testing/tokens.js';
import { eventually } from '../../tools/testing/wait.js';
import { CallbackUrlGuard, post } from './callback-url-guard.js';
import { type Customer, type VoucherPlatform, startVoucherPlatform } from './test-support/voucher-platform.js';
import { voucherService } from './main.js';
import { retryDelayMs, verifierMatches } from './voucher-domain.js';

describe('Vouchers (integration)', function () {
  this.timeout(60_000);
  let platform: VoucherPlatform;
  let probe: EventProbe;

  before(async () => {
    probe = await startEventProbe('voucher-events-probe', ['voucher.requested', 'voucher.issued', 'voucher.failed']);
    platform = await startVoucherPlatform();
  });
  after(async () => {
    await platform?.stop();
    await probe?.stop();
  });

  /** A customer with a webhook secret, trusted by the receiver on its own path. */
  async function withWebhooks(lastDigit: number, answers?: number[]) {
    const customer = await platform.customer(lastDigit);
    const { data, response } = await customer.api.POST('/webhook-secrets', {});
    expect(response.status).to.equal(201);
    expect(data!.secret).to.match(/^whsec_/);
    const path = `/hooks/${customer.id}`;
    platform.receiver.trust(path, data!.secret);
    if (answers) platform.receiver.answer(path, answers);
    return { ...customer, callbackUrl: `${platform.receiver.origin}${path}`, path };
  }

  const request = (customer: Customer, body: Schemas['VoucherRequest'], key = randomUUID()) =>
    customer.api.POST('/vouchers', { params: { header: { 'Idempotency-Key': key } }, body });
  const read = (customer: Customer, id: string) => customer.api.GET('/vouchers/{voucherId}', { params: { path: { voucherId: id } } });
  const settled = (customer: Customer, id: string, timeoutMs = 10_000) =>
    eventually(async () => (await read(customer, id)).data!, (v) => v.status !== 'PENDING', `voucher ${id} settled`, timeoutMs);
  const deliveredTo = (path: string) => platform.receiver.received.filter((m) => m.path === path);

  describe('the fast path: the code in the provider\'s answer', () => {
    it('answers 202 PENDING at once, stores the code, announces it, and delivers it once by webhook and once by SMS', async () => {
      const ada = await withWebhooks(1);
      const key = randomUUID();
      const { data, response } = await request(ada, { phoneNumber: ada.phone, callbackUrl: ada.callbackUrl }, key);
      expect(response.status).to.equal(202);
      expect(data).to.include({ status: 'PENDING', message: 'Your request is being processed within 30 seconds.' });
      expect(response.headers.get('location')).to.equal(`/vouchers/${data!.id}`);
      const id = data!.id;

      const voucher = await settled(ada, id);
      expect(voucher).to.include({ status: 'ISSUED', providerStatus: 'SUCCESS', phoneNumber: ada.phone });
      expect(voucher.voucherCode).to.match(/^VC-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/);
      expect(voucher.statusHistory.map((h) => h.status)).to.deep.equal(['PENDING', 'ISSUED']);

      const events = await probe.waitFor((e) => (e.data as { voucherId?: string }).voucherId === id, 2);
      expect(events.map((e) => e.type).sort()).to.deep.equal(['voucher.issued', 'voucher.requested']);
      // The code is the product: never in an event.
      expect(JSON.stringify(events)).to.not.include(voucher.voucherCode!);

      const webhooks = await eventually(async () => deliveredTo(ada.path), (w) => w.length >= 1, 'webhook delivered');
      expect(webhooks).to.have.length(1);
      expect(webhooks[0]).to.include({ verified: true, webhookId: `msg_${id}_issued` });
      expect(webhooks[0]!.payload).to.deep.include({ type: 'voucher.issued' });
      expect(webhooks[0]!.payload!.data).to.include({ voucherId: id, status: 'ISSUED', voucherCode: voucher.voucherCode, phoneNumber: ada.phone });
      const delivered = await eventually(async () => (await read(ada, id)).data!.delivery, (d) => d?.status === 'DELIVERED', 'delivery recorded');
      expect(delivered).to.include({ attempts: 1, lastResponseStatus: 204 });

      const sms = await eventually(() => platform.sms(), (all) => all.some((m) => m.reference === id), 'SMS written');
      expect(sms.filter((m) => m.reference === id)).to.deep.equal([{ to: ada.phone, reference: id, text: `Your voucher code: ${voucher.voucherCode}`, at: (sms.find((m) => m.reference === id) as { at?: string }).at }]);

      // The same key and body: the first answer again; another body: 409.
      const again = await request(ada, { phoneNumber: ada.phone, callbackUrl: ada.callbackUrl }, key);
      expect(again.response.status).to.equal(202);
      expect(again.data!.id).to.equal(id);
      const other = await request(ada, { phoneNumber: ada.phone }, key);
      expect(other.response.status).to.equal(409);
      expect((other.error as { code: string }).code).to.equal('idempotency-key-reused');
      // Still one request at the provider, one webhook, one SMS.
      expect(deliveredTo(ada.path)).to.have.length(1);
      expect((await platform.sms()).filter((m) => m.reference === id)).to.have.length(1);
    });

    it('makes one voucher for concurrent requests with one key', async () => {
      const bob = await platform.customer(2);
      const key = randomUUID();
      const answers = await Promise.all(Array.from({ length: 8 }, () => request(bob, { phoneNumber: bob.phone }, key)));
      expect(new Set(answers.map((a) => a.response.status))).to.deep.equal(new Set([202]));
      expect(new Set(answers.map((a) => a.data!.id)).size).to.equal(1);
      await settled(bob, answers[0]!.data!.id);
      const list = await bob.api.GET('/vouchers', { params: { query: { phoneNumber: bob.phone } } });
      expect(list.data!.data.map((v) => v.id)).to.deep.equal([answers[0]!.data!.id]);
    });
  });

  describe('the late callback, proven by the code verifier (S256)', () => {
    it('slow: acknowledged with a challenge, then the code by callback (SUCCESS), delivered', async () => {
      const cy = await withWebhooks(4);
      const { data } = await request(cy, { phoneNumber: cy.phone, callbackUrl: cy.callbackUrl });
      const voucher = await settled(cy, data!.id);
      expect(voucher).to.include({ status: 'ISSUED', providerStatus: 'SUCCESS' });
      expect(voucher.statusHistory.at(-1)!.reason).to.equal('provider-callback-success');
      const atProvider = await platform.providerRequest(data!.id);
      expect(atProvider!.callbacks.map((c) => [c.outcome, c.httpStatus])).to.deep.equal([['acknowledged', 204]]);
      await eventually(async () => deliveredTo(cy.path), (w) => w.length === 1 && w[0]!.verified, 'webhook delivered');
    });

    it('very slow: the code after 30 s (scaled) is LATE_SUCCESS', async () => {
      const di = await platform.customer(6);
      const { data } = await request(di, { phoneNumber: di.phone });
      const voucher = await settled(di, data!.id);
      expect(voucher).to.include({ status: 'ISSUED', providerStatus: 'LATE_SUCCESS' });
    });

    it('a wrong verifier is refused (403) and nothing is stored; the request then fails at its deadline and the client is told', async () => {
      const ed = await withWebhooks(8);
      const { data } = await request(ed, { phoneNumber: ed.phone, callbackUrl: ed.callbackUrl });
      const id = data!.id;
      const refused = await eventually(() => platform.providerRequest(id), (r) => (r?.callbacks.length ?? 0) > 0, 'the provider called back');
      expect(refused!.callbacks.map((c) => [c.outcome, c.httpStatus])).to.deep.equal([['refused', 403]]);
      expect((await read(ed, id)).data!.status).to.equal('PENDING');
      const voucher = await settled(ed, id);
      expect(voucher).to.include({ status: 'FAILED', failureReason: 'provider-deadline' });
      expect(voucher.voucherCode).to.equal(undefined);
      const webhooks = await eventually(async () => deliveredTo(ed.path), (w) => w.length >= 1, 'failure delivered');
      expect(webhooks.map((w) => [w.webhookId, w.payload?.type, w.payload?.data.status])).to.deep.equal([[`msg_${id}_failed`, 'voucher.failed', 'FAILED']]);
      await probe.waitFor((e) => e.type === 'voucher.failed' && (e.data as { voucherId: string }).voucherId === id, 1);
    });

    it('a replayed callback is refused (409) and changes nothing', async () => {
      const flo = await withWebhooks(9);
      const { data } = await request(flo, { phoneNumber: flo.phone, callbackUrl: flo.callbackUrl });
      const id = data!.id;
      const first = await settled(flo, id);
      const atProvider = await eventually(() => platform.providerRequest(id), (r) => (r?.callbacks.length ?? 0) >= 2, 'the provider replayed');
      expect(atProvider!.callbacks.map((c) => [c.outcome, c.httpStatus])).to.deep.equal([
        ['acknowledged', 204],
        ['refused', 409],
      ]);
      const { delivery: _before, ...firstSeen } = first;
      const { delivery: _after, ...nowSeen } = (await read(flo, id)).data!;
      expect(nowSeen, 'the replay changed nothing').to.deep.equal(firstSeen);
      await eventually(async () => deliveredTo(flo.path), (w) => w.length === 1, 'one webhook');
      expect(deliveredTo(flo.path)).to.have.length(1);
    });

    it('never: the request fails after the deadline (voucher.failed)', async () => {
      const gus = await platform.customer(7);
      const { data } = await request(gus, { phoneNumber: gus.phone });
      const voucher = await settled(gus, data!.id);
      expect(voucher).to.include({ status: 'FAILED', failureReason: 'provider-deadline' });
      expect(voucher.statusHistory.map((h) => h.status)).to.deep.equal(['PENDING', 'FAILED']);
    });

    it('refuses callbacks for unknown requests (404) and with a verifier of another challenge (403)', async () => {
      const anon = platform.client();
      const verifier = 'a'.repeat(43);
      const unknown = await anon.POST('/provider-callbacks', { body: { reference: 'vch_00000000000000000000000000', codeVerifier: verifier, status: 'SUCCESS', voucherCode: 'VC-FAKE' } });
      expect(unknown.response.status).to.equal(404);
      const hal = await platform.customer(7); // never called back: the challenge waits
      const { data } = await request(hal, { phoneNumber: hal.phone });
      const forged = await anon.POST('/provider-callbacks', { body: { reference: data!.id, codeVerifier: verifier, status: 'SUCCESS', voucherCode: 'VC-FORGED-CODE' } });
      expect(forged.response.status).to.equal(403);
      expect((forged.error as { code: string }).code).to.equal('code-verifier-mismatch');
      expect((await read(hal, data!.id)).data!.status).to.equal('PENDING');
    });
  });

  describe('the provider callback endpoint, with the test as the provider', () => {
    // A second voucher service whose provider is this test: it acknowledges with a challenge of a
    // verifier the test keeps, so the test can send the callback itself.
    // It also plays the HTTP SMS provider (SMS_SENDER=http).
    let scripted: TestService;
    let server: Server;
    const verifier = randomBytes(32).toString('base64url');
    const smsSent: { authorization?: string; body: { to: string; text: string; reference: string } }[] = [];
    before(async () => {
      server = createServer((req, res) => {
        let raw = '';
        req.on('data', (c: Buffer) => (raw += c.toString()));
        req.on('end', () => {
          if (req.url === '/sms') {
            smsSent.push({ ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), body: JSON.parse(raw) as (typeof smsSent)[number]['body'] });
            res.writeHead(202).end();
            return;
          }
          const { reference } = JSON.parse(raw) as { reference: string };
          res.writeHead(202, { 'content-type': 'application/json' }).end(
            JSON.stringify({ reference, status: 'PROCESSING', codeChallenge: createHash('sha256').update(verifier).digest('base64url'), codeChallengeMethod: 'S256', message: 'later' }),
          );
        });
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const port = (server.address() as AddressInfo).port;
      scripted = await startTestService(voucherService, platform.issuer, {
        ...platform.voucherEnv,
        PORT: '0',
        MONGO_DB: testDatabaseName('voucher-scripted'),
        AMQP_PREFIX: `${platform.voucherEnv.AMQP_PREFIX}_scripted`,
        VOUCHER_PROVIDER_URL: `http://127.0.0.1:${port}`,
        VOUCHER_DEADLINE_MS: '300',
        SMS_SENDER: 'http',
        SMS_HTTP_URL: `http://127.0.0.1:${port}/sms`,
        SMS_HTTP_TOKEN: 'sms-test-token',
      });
    });
    after(async () => {
      await scripted?.stop();
      await scripted?.drop();
      server?.close();
    });

    it('stores the code of a callback whose verifier matches (204) and sends it by the HTTP SMS provider, then refuses its replay (409); a failed request answers 410', async () => {
      const rae = await platform.customer(0);
      const api = platform.client(rae.token, scripted.url);
      const anon = platform.client(undefined, scripted.url);
      const accepted = await api.POST('/vouchers', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { phoneNumber: rae.phone } });
      const id = accepted.data!.id;
      const callback = { reference: id, codeVerifier: verifier, status: 'SUCCESS' as const, voucherCode: 'VC-TEST-0001', message: 'ready' };
      // The worker asks the provider on voucher.requested and keeps the challenge; the callback may even come first.
      const first = await anon.POST('/provider-callbacks', { body: callback });
      expect(first.response.status).to.equal(204);
      const voucher = (await api.GET('/vouchers/{voucherId}', { params: { path: { voucherId: id } } })).data!;
      expect(voucher).to.include({ status: 'ISSUED', voucherCode: 'VC-TEST-0001', providerStatus: 'SUCCESS' });
      const replay = await anon.POST('/provider-callbacks', { body: { ...callback, voucherCode: 'VC-TEST-0002' } });
      expect(replay.response.status).to.equal(409);
      expect(replay.error).to.deep.include({ code: 'callback-replayed' });
      expect((await api.GET('/vouchers/{voucherId}', { params: { path: { voucherId: id } } })).data!.voucherCode).to.equal('VC-TEST-0001');
      // The code went by SMS through the HTTP provider, once.
      const sms = await eventually(async () => smsSent.filter((m) => m.body.reference === id), (m) => m.length >= 1, 'SMS posted');
      expect(sms).to.deep.equal([{ authorization: 'Bearer sms-test-token', body: { to: rae.phone, reference: id, text: 'Your voucher code: VC-TEST-0001' } }]);

      const late = await api.POST('/vouchers', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { phoneNumber: rae.phone } });
      await eventually(async () => (await api.GET('/vouchers/{voucherId}', { params: { path: { voucherId: late.data!.id } } })).data!.status, (s) => s === 'FAILED', 'failed at its deadline');
      const tooLate = await anon.POST('/provider-callbacks', { body: { ...callback, reference: late.data!.id } });
      expect(tooLate.response.status).to.equal(410);
    });
  });

  describe('ownership', () => {
    it("accepts only the caller's own phone number, and shows a customer only their own vouchers", async () => {
      const ivy = await platform.customer(0);
      const jo = await platform.customer(0);
      const notMine = await request(ivy, { phoneNumber: jo.phone });
      expect(notMine.response.status).to.equal(422);
      expect(notMine.error).to.deep.include({ code: 'phone-number-not-yours' });
      const { data } = await request(jo, { phoneNumber: jo.phone });
      await settled(jo, data!.id);
      expect((await read(ivy, data!.id)).response.status).to.equal(404);
      const page = await ivy.api.GET('/vouchers', { params: { query: { phoneNumber: jo.phone } } });
      expect(page.data).to.deep.equal({ data: [], hasMore: false });
      const own = await jo.api.GET('/vouchers', { params: { query: { phoneNumber: jo.phone, limit: 1 } } });
      expect(own.data!.data.map((v) => v.id)).to.deep.equal([data!.id]);
      // Other roles cannot ask for vouchers.
      const merchantToken = await platform.issuer.sign(jo.id, { roles: ['merchant'] });
      expect((await platform.client(merchantToken).GET('/vouchers', {})).response.status).to.equal(401); // not the gateway's key
    });

    it('pages through a customer\'s vouchers with a cursor', async () => {
      const kim = await platform.customer(3);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await request(kim, { phoneNumber: kim.phone })).data!.id);
      const first = await kim.api.GET('/vouchers', { params: { query: { limit: 2 } } });
      expect(first.data!.hasMore).to.equal(true);
      const second = await kim.api.GET('/vouchers', { params: { query: { limit: 2, cursor: first.data!.nextCursor! } } });
      expect(second.data!.hasMore).to.equal(false);
      expect([...first.data!.data, ...second.data!.data].map((v) => v.id).sort()).to.deep.equal([...ids].sort());
    });
  });

  describe('webhook delivery', () => {
    it('retries with backoff until a 2xx, with the same webhook-id each time', async () => {
      const lu = await withWebhooks(0, [500, 503, 204]);
      const { data } = await request(lu, { phoneNumber: lu.phone, callbackUrl: lu.callbackUrl });
      const delivery = await eventually(async () => (await read(lu, data!.id)).data!.delivery, (d) => d?.status === 'DELIVERED', 'delivered after retries');
      expect(delivery).to.include({ attempts: 3, lastResponseStatus: 204 });
      const attempts = deliveredTo(lu.path);
      expect(attempts.map((a) => a.answered)).to.deep.equal([500, 503, 204]);
      expect(new Set(attempts.map((a) => a.webhookId))).to.deep.equal(new Set([`msg_${data!.id}_issued`]));
      expect(attempts.every((a) => a.verified)).to.equal(true);
    });

    it('stops at a 410', async () => {
      const mo = await withWebhooks(0, [410]);
      const { data } = await request(mo, { phoneNumber: mo.phone, callbackUrl: mo.callbackUrl });
      const delivery = await eventually(async () => (await read(mo, data!.id)).data!.delivery, (d) => d?.status === 'STOPPED', 'stopped');
      expect(delivery).to.include({ attempts: 1, lastResponseStatus: 410 });
      expect(deliveredTo(mo.path)).to.have.length(1);
    });

    it('marks it UNDELIVERED after the last attempt', async () => {
      const ned = await withWebhooks(0, [500]);
      const { data } = await request(ned, { phoneNumber: ned.phone, callbackUrl: ned.callbackUrl });
      const delivery = await eventually(async () => (await read(ned, data!.id)).data!.delivery, (d) => d?.status === 'UNDELIVERED', 'undelivered');
      expect(delivery).to.include({ attempts: 4, lastResponseStatus: 500 });
      expect(deliveredTo(ned.path)).to.have.length(4);
      // The code was stored and sent by SMS all the same.
      expect((await read(ned, data!.id)).data!.status).to.equal('ISSUED');
    });

    it('needs a webhook secret before a callbackUrl', async () => {
      const oz = await platform.customer(0);
      const refused = await request(oz, { phoneNumber: oz.phone, callbackUrl: `${platform.receiver.origin}/hooks/oz` });
      expect(refused.response.status).to.equal(422);
      expect(refused.error).to.deep.include({ code: 'webhook-secret-required' });
    });
  });

  describe('callback URLs against SSRF', () => {
    it('refuses at request time URLs pointing at loopback, private, link-local or unique-local addresses, by name or literal', async () => {
      const pat = await withWebhooks(0);
      const receiverPort = new URL(platform.receiver.origin).port;
      const refused = [
        `http://localhost:${receiverPort}/hooks`, // a host name resolving to 127.0.0.1 (the receiver itself, under a name not allow-listed)
        'http://127.0.0.1:9/hooks',
        'http://2130706433/hooks', // 127.0.0.1 as one number
        'http://10.0.0.7/hooks',
        'http://192.168.1.10/hooks',
        'http://169.254.169.254/latest/meta-data',
        'http://[::1]/hooks',
        'http://[fd00::1]/hooks',
        'http://[::ffff:127.0.0.1]/hooks',
        'http://0.0.0.0/hooks',
        'ftp://example.com/hooks',
        'http://user:pw@example.com/hooks',
        'http://no-such-host.invalid/hooks',
      ];
      for (const callbackUrl of refused) {
        const answer = await request(pat, { phoneNumber: pat.phone, callbackUrl });
        expect(answer.response.status, callbackUrl).to.equal(422);
        expect(answer.error, callbackUrl).to.deep.include({ code: 'callback-url-refused' });
        expect((answer.error as Schemas['Problem']).errors![0]!.pointer).to.equal('/body/callbackUrl');
      }
      // Nothing was stored for any of them, and nothing reached the receiver.
      expect((await pat.api.GET('/vouchers', {})).data!.data).to.deep.equal([]);
      expect(platform.receiver.received.filter((m) => m.path !== pat.path && m.path.startsWith('/hooks') && !m.path.startsWith('/hooks/'))).to.deep.equal([]);
    });

    it('refuses at connection time a name that resolved to a public address when checked and to 127.0.0.1 when connecting (DNS rebinding)', async () => {
      // The request-time check is told the name is public; the connection then resolves it for real (localhost → 127.0.0.1).
      const guard = new CallbackUrlGuard([], async () => ['93.184.215.14']);
      const url = new URL(`http://localhost:${new URL(platform.receiver.origin).port}/rebound`);
      expect(await guard.check(url.href)).to.deep.equal({ allowed: true });
      let refusedWith: Error | undefined;
      await post(url, guard.agentFor(url), { 'content-type': 'application/json' }, '{}', 2_000).catch((err: Error) => (refusedWith = err));
      expect(refusedWith?.message).to.match(/not allowed|private|loopback/i);
      expect(platform.receiver.received.filter((m) => m.path === '/rebound')).to.deep.equal([]);
      // An allow-listed origin is reached (by its exact origin only).
      const allowed = new CallbackUrlGuard([platform.receiver.origin]);
      expect(await post(new URL(`${platform.receiver.origin}/rebound`), allowed.agentFor(new URL(platform.receiver.origin)), {}, '{}', 2_000)).to.equal(401);
      guard.close();
      allowed.close();
    });
  });

  describe('rules (pure)', () => {
    it('checks a verifier by RFC 7636 S256 (the RFC\'s own example)', () => {
      expect(verifierMatches('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')).to.equal(true);
      expect(verifierMatches('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')).to.equal(false);
      expect(verifierMatches('x', 'short')).to.equal(false);
    });

    it('spaces retries exponentially, with jitter, within the cap', () => {
      expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 1_000, 60_000, () => 0))).to.deep.equal([500, 1_000, 2_000, 4_000]);
      expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 1_000, 60_000, () => 0.999999))).to.deep.equal([1_000, 2_000, 4_000, 8_000]);
      expect(retryDelayMs(20, 1_000, 60_000, () => 0.5)).to.equal(45_000);
    });
  });

  describe('contract tests derived from the spec', () => {
    it('answers every schema-derived invalid request with a 4xx problem+json, never a 5xx', async () => {
      const quinn = await withWebhooks(0);
      const forged = await forgedToken(quinn.id, ['customer']);
      const { data } = await request(quinn, { phoneNumber: quinn.phone });
      const valid: Record<string, Parameters<typeof runInvalidRequests>[0]['valid']> = {
        requestVoucher: { headers: { 'idempotency-key': randomUUID() }, body: { phoneNumber: quinn.phone, callbackUrl: quinn.callbackUrl } },
        listVouchers: { query: { phoneNumber: quinn.phone, limit: 10 } },
        getVoucher: { path: { voucherId: data!.id } },
        createWebhookSecret: {},
        receiveProviderCallback: { body: { reference: data!.id, codeVerifier: 'b'.repeat(43), status: 'SUCCESS', voucherCode: 'VC-X', message: 'x' } },
      };
      let cases = 0;
      const failures: string[] = [];
      for (const [operationId, valid_] of Object.entries(valid)) {
        const result = await runInvalidRequests({ api: 'voucher', baseUrl: platform.voucher.url, spec: spec as OpenApiSpec, operationId, valid: valid_, tokens: { valid: quinn.token, forged } });
        cases += result.cases;
        failures.push(...result.failures);
      }
      console.log(`      voucher API: ${cases} schema-derived invalid requests, ${failures.length} failures`);
      expect(failures).to.deep.equal([]);
      expect(cases).to.be.greaterThan(30);
    });

    it('has exercised every operation of the spec with a success status', function () {
      skipUnlessWholeFileRuns(this);
      const api = getCoverageSummary().apis.find((a) => a.api === 'voucher');
      const missing = api!.operations.filter((op) => !op.statuses.some((s) => s.exercised && s.key.startsWith('2'))).map((op) => op.operationId);
      expect(missing).to.deep.equal([]);
    });
  });
});
