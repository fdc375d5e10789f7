// Card payments end to end: the real gateway, two real acquiring-bank simulators (piggy-bank and
// acme-acquiring, one per merchant's choice at sign-up), FerretDB and RabbitMQ, called through
// the generated client. Pending payments settle through the reconciler (asked to look every
// 100 ms at anything pending) or the bank's signed callback.
import { randomInt, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Db } from 'mongodb';
import { Webhook } from 'standardwebhooks';
import { type PaymentGatewayClient, createPaymentGatewayClient } from '../../generated/payment-gateway/client.js';
import type { Schemas } from '../../generated/payment-gateway/delegate.js';
import spec from '../../generated/payment-gateway/spec.json' with { type: 'json' };
import { type OpenApiSpec, createContractCheckingMiddleware } from '../../tools/contract-testing/index.js';
import { type EventProbe, startEventProbe } from '../../tools/testing/event-probe.js';
import { AMQP_PREFIX, type TestService, startTestService, testDatabaseName, withMongo } from '../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer } from '../../tools/testing/tokens.js';
import { eventually, freePort } from '../../tools/testing/wait.js';
import { acquiringBankService } from '../simulators/acquiring-bank/main.js';
import { paymentGatewayService } from './main.js';

const PAN = '4242424242424242';
const WEBHOOK_SECRET = 'whsec_ZGV2LWJhbmstd2ViaG9vay1zZWNyZXQtMzJieXRlcyE=';



describe('Card payments (integration)', function () {
  this.timeout(60_000);
  let issuer: TokenIssuer;
  let piggy: TestService;
  let acme: TestService;
  let gateway: TestService;
  let probe: EventProbe;
  let merchantA: { id: string; token: string };
  let merchantB: { id: string; token: string };
  let customer: { id: string; token: string };

  const checked = () => [createContractCheckingMiddleware({ api: 'payment-gateway', spec: spec as OpenApiSpec })];
  const clientFor = (token?: string): PaymentGatewayClient =>
    createPaymentGatewayClient({ baseUrl: gateway.url, ...(token !== undefined ? { token } : {}), middleware: checked() });

  async function signUp(role: 'merchant' | 'customer', bank?: 'piggy-bank' | 'acme-acquiring') {
    const email = `pay-${randomUUID().slice(0, 8)}@example.com`;
    const password = 'correct horse battery staple';
    const { data, response } = await clientFor().POST('/auth/sign-up', {
      body: {
        email,
        password,
        firstName: 'Mer',
        lastName: 'Chant',
        phone: `+4477${randomInt(10_000_000, 99_999_999)}`,
        role,
        ...(bank ? { business: { name: 'Shop Ltd', acquiringBank: bank } } : {}),
      },
    });
    expect(response.status, 'sign-up').to.equal(201);
    const signedIn = await clientFor().POST('/auth/sign-in', { body: { email, password } });
    return { id: data!.id, token: signedIn.data!.accessToken };
  }

  const card = (number = PAN, extra: Partial<Schemas['CardInput']> = {}): Schemas['CardInput'] => ({
    number,
    expiryMonth: 12,
    expiryYear: new Date().getUTCFullYear() + 3,
    cvv: '123',
    holderName: 'Ada Lovelace',
    ...extra,
  });
  const pay = (token: string, body: Partial<Schemas['PaymentRequest']> = {}, key = randomUUID()) =>
    clientFor(token).POST('/payments', {
      params: { header: { 'Idempotency-Key': key } },
      body: { card: card(), amount: 1_000, currency: 'EUR', reference: `order-${randomUUID().slice(0, 8)}`, ...body },
    });
  const getPayment = (token: string, id: string) => clientFor(token).GET('/payments/{paymentId}', { params: { path: { paymentId: id } } });

  before(async () => {
    issuer = await createTokenIssuer();
    const bankEnv = { BANK_SETTLE_AFTER_MS: '200', BANK_TIMEOUT_CARD_DELAY_MS: '1500', BANK_CALLBACK_RETRY_DELAYS_MS: '100,200' };
    piggy = await startTestService(acquiringBankService, issuer, { ...bankEnv, BANK_NAME: 'piggy-bank' });
    acme = await startTestService(acquiringBankService, issuer, { ...bankEnv, BANK_NAME: 'acme-acquiring' });
    const port = await freePort();
    gateway = await startTestService(paymentGatewayService, issuer, {
      PORT: String(port),
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '1',
      SIGN_UP_MAX_PER_CLIENT: '1000',
      ACQUIRING_BANKS: `piggy-bank=${piggy.url},acme-acquiring=${acme.url}`,
      BANK_TIMEOUT_MS: '500',
      PAYMENTS_CALLBACK_BASE_URL: `http://127.0.0.1:${port}`,
      // Anything pending is looked at at once, every 100 ms: the tests poll for the outcome.
      RECONCILE_AFTER_MS: '0', // a charge the bank never received still waits 2 × BANK_TIMEOUT_MS before it fails
      RECONCILE_INTERVAL_MS: '100',
    });
    probe = await startEventProbe('payments-probe', ['payment.succeeded', 'payment.failed', 'payment.refunded']);
    merchantA = await signUp('merchant', 'piggy-bank');
    merchantB = await signUp('merchant', 'acme-acquiring');
    customer = await signUp('customer');
  });

  after(async () => {
    await probe?.stop();
    for (const svc of [gateway, piggy, acme]) await svc?.stop();
    for (const svc of [gateway, piggy, acme]) await svc?.drop();
  });

  describe('charging a card', () => {
    it('answers 201 with the succeeded payment, its card summary and status history; GET shows the same', async () => {
      const { data, response } = await pay(merchantA.token, { reference: 'order-1', description: 'Two tickets' });
      expect(response.status).to.equal(201);
      expect(response.headers.get('location')).to.equal(`/payments/${data!.id}`);
      expect(data).to.deep.include({ status: 'succeeded', amount: 1_000, currency: 'EUR', refundedAmount: 0, reference: 'order-1', description: 'Two tickets' });
      expect(data!.card).to.deep.equal({ brand: 'visa', bin: '424242', last4: '4242', expiryMonth: 12, expiryYear: new Date().getUTCFullYear() + 3 });
      expect(data!.statusHistory.map((s) => s.status)).to.deep.equal(['pending', 'succeeded']);
      const read = await getPayment(merchantA.token, data!.id);
      expect(read.data).to.deep.equal(data);
    });

    it('maps every test card to its status and reason', async () => {
      const cases: [string, string, string | undefined][] = [
        ['4242424242424242', 'succeeded', undefined],
        ['4000000000000002', 'failed', 'insufficient-funds'],
        ['4000000000000069', 'failed', 'expired-card'],
        ['4000000000000127', 'failed', 'do-not-honour'],
        ['4100000000000019', 'failed', 'stolen-card'],
      ];
      for (const [number, status, reason] of cases) {
        const { data, response } = await pay(merchantA.token, { card: card(number) });
        expect(response.status, number).to.equal(201);
        expect(data!.status, number).to.equal(status);
        expect(data!.failureReason, number).to.equal(reason);
      }
    });

    it('routes each merchant to its own bank: two banks at once', async () => {
      const a = await pay(merchantA.token);
      const b = await pay(merchantB.token);
      expect(a.data!.status).to.equal('succeeded');
      expect(b.data!.status).to.equal('succeeded');
      const key = { 'x-api-key': 'dev-bank-key' };
      expect((await fetch(`${piggy.url}/charges/${a.data!.id}`, { headers: key })).status).to.equal(200);
      expect((await fetch(`${acme.url}/charges/${a.data!.id}`, { headers: key })).status).to.equal(404);
      expect((await fetch(`${acme.url}/charges/${b.data!.id}`, { headers: key })).status).to.equal(200);
    });

    it('leaves a payment the bank is still processing pending, then settles it (even amount: succeeded; odd: failed)', async () => {
      const even = await pay(merchantA.token, { card: card('4000000000009995'), amount: 2_000 });
      const odd = await pay(merchantA.token, { card: card('4000000000009995'), amount: 2_001 });
      expect(even.data!.status).to.equal('pending');
      expect(odd.data!.status).to.equal('pending');
      const settledEven = await eventually(() => getPayment(merchantA.token, even.data!.id), (r) => r.data!.status !== 'pending', 'even payment');
      const settledOdd = await eventually(() => getPayment(merchantA.token, odd.data!.id), (r) => r.data!.status !== 'pending', 'odd payment');
      expect(settledEven.data!.status).to.equal('succeeded');
      expect(settledOdd.data).to.deep.include({ status: 'failed', failureReason: 'insufficient-funds' });
      expect(settledEven.data!.statusHistory.map((s) => s.status)).to.deep.equal(['pending', 'succeeded']);
    });

    it('leaves a payment whose bank times out pending, and settles it once from what the bank recorded — never a second charge', async () => {
      const { data } = await pay(merchantA.token, { card: card('4000000000000341'), amount: 3_000 });
      expect(data!.status).to.equal('pending');
      const settled = await eventually(() => getPayment(merchantA.token, data!.id), (r) => r.data!.status !== 'pending', 'timed-out payment');
      expect(settled.data!.status).to.equal('succeeded');
      expect(settled.data!.statusHistory.map((s) => s.status)).to.deep.equal(['pending', 'succeeded']);
      const charge = await (await fetch(`${piggy.url}/charges/${data!.id}`, { headers: { 'x-api-key': 'dev-bank-key' } })).json();
      expect(charge).to.include({ status: '0', amount: 3_000 });
    });

    it('announces each final status once as payment.succeeded or payment.failed, with no card data but brand and last four', async () => {
      const ok = await pay(merchantA.token);
      const ko = await pay(merchantA.token, { card: card('4000000000000002') });
      const events = await probe.waitFor((e) => [ok.data!.id, ko.data!.id].includes((e.data as { paymentId: string }).paymentId), 2);
      expect(events.map((e) => e.type).sort()).to.deep.equal(['payment.failed', 'payment.succeeded']);
      for (const event of events) {
        expect(JSON.stringify(event)).not.to.include('4242424242424242');
        expect(JSON.stringify(event)).not.to.include('4000000000000002');
        expect(event.data).to.include({ merchantId: merchantA.id, cardLast4: (event.data as { paymentId: string }).paymentId === ok.data!.id ? '4242' : '0002' });
      }
    });
  });

  describe('validation', () => {
    it('refuses a bad card number, an expired card, a bad CVV, an unknown currency and too large an amount with 422 and a pointer; nothing is stored', async () => {
      const cases: [Partial<Schemas['PaymentRequest']>, string, string][] = [
        [{ card: card('4242424242424241') }, 'invalid-card-number', '/body/card/number'],
        [{ card: card(PAN, { expiryYear: 2020 }) }, 'card-expired', '/body/card/expiryYear'],
        [{ card: card(PAN, { cvv: '12345'.slice(0, 4) }) }, 'invalid-cvv', '/body/card/cvv'],
        [{ currency: 'XYZ' }, 'unknown-currency', '/body/currency'],
        [{ amount: 100_000_001 }, 'amount-too-large', '/body/amount'],
      ];
      for (const [body, code, pointer] of cases) {
        const { response, error } = await pay(merchantA.token, body);
        expect(response.status, code).to.equal(422);
        expect(error!.code, code).to.equal(code);
        expect(error!.errors!.map((e) => e.pointer), code).to.include(pointer);
        expect(JSON.stringify(error), code).not.to.include('4242424242424241');
      }
    });

    it('refuses a customer (no acquiring bank) with 403, and a merchant payment without a token with 401', async () => {
      expect((await pay(customer.token)).response.status).to.equal(403);
      const anonymous = await clientFor().POST('/payments', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { card: card(), amount: 1, currency: 'EUR', reference: 'x' } });
      expect(anonymous.response.status).to.equal(401);
    });
  });

  describe('idempotency', () => {
    it('answers a retried key with the first answer, another body under that key with 409', async () => {
      const key = randomUUID();
      const first = await pay(merchantA.token, { reference: 'order-idem' }, key);
      const again = await pay(merchantA.token, { reference: 'order-idem' }, key);
      expect(again.response.status).to.equal(201);
      expect(again.data).to.deep.equal(first.data);
      const other = await pay(merchantA.token, { reference: 'order-idem', amount: 999 }, key);
      expect(other.response.status).to.equal(409);
      expect(other.error!.code).to.equal('idempotency-key-reused');
    });

    it('makes one payment and one bank charge for 50 concurrent requests with one key', async () => {
      const key = randomUUID();
      const body = { reference: `order-${randomUUID().slice(0, 6)}` };
      const answers = await Promise.all(Array.from({ length: 50 }, () => pay(merchantA.token, body, key)));
      expect(answers.map((a) => a.response.status)).to.deep.equal(Array.from({ length: 50 }, () => 201));
      expect(new Set(answers.map((a) => a.data!.id)).size).to.equal(1);
      expect(new Set(answers.map((a) => JSON.stringify(a.data))).size, 'one answer').to.equal(1);
      const listed = await clientFor(merchantA.token).GET('/payments', { params: { query: { reference: body.reference } } });
      expect(listed.data!.data).to.have.length(1);
    });
  });

  describe('reading and refunding', () => {
    it("scopes everything to the calling merchant: another merchant's payment answers 404, and is never listed", async () => {
      const { data } = await pay(merchantA.token);
      expect((await getPayment(merchantB.token, data!.id)).response.status).to.equal(404);
      const refund = await clientFor(merchantB.token).POST('/payments/{paymentId}/refunds', { params: { path: { paymentId: data!.id }, header: { 'Idempotency-Key': randomUUID() } }, body: { amount: 1 } });
      expect(refund.response.status).to.equal(404);
      const listed = await clientFor(merchantB.token).GET('/payments', { params: { query: { limit: 100 } } });
      expect(listed.data!.data.map((p) => p.id)).not.to.include(data!.id);
    });

    it('lists the merchant payments newest first with cursor pages and filters', async () => {
      const merchant = await signUp('merchant', 'piggy-bank');
      const made: string[] = [];
      for (let i = 0; i < 5; i++) made.push((await pay(merchant.token, { reference: `order-list-${i}`, currency: i % 2 ? 'USD' : 'EUR' })).data!.id);
      made.push((await pay(merchant.token, { reference: 'order-list-failed', card: card('4000000000000002') })).data!.id);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await clientFor(merchant.token).GET('/payments', { params: { query: { limit: 2, ...(cursor ? { cursor } : {}) } } });
        seen.push(...page.data!.data.map((p) => p.id));
        if (!page.data!.hasMore) break;
        cursor = page.data!.nextCursor;
      }
      expect(seen).to.deep.equal([...made].reverse());
      const usd = await clientFor(merchant.token).GET('/payments', { params: { query: { currency: 'USD' } } });
      expect(usd.data!.data.map((p) => p.reference).sort()).to.deep.equal(['order-list-1', 'order-list-3']);
      const failed = await clientFor(merchant.token).GET('/payments', { params: { query: { status: 'failed' } } });
      expect(failed.data!.data.map((p) => p.reference)).to.deep.equal(['order-list-failed']);
      const byRef = await clientFor(merchant.token).GET('/payments', { params: { query: { reference: 'order-list-2' } } });
      expect(byRef.data!.data.map((p) => p.id)).to.deep.equal([made[2]]);
      const future = await clientFor(merchant.token).GET('/payments', { params: { query: { from: new Date(Date.now() + 60_000).toISOString() } } });
      expect(future.data!.data).to.deep.equal([]);
    });

    it('refunds part then the rest (status refunded), refuses more, and replays a retried key', async () => {
      const { data } = await pay(merchantA.token, { amount: 1_000 });
      const refund = (amount: number, key = randomUUID()) =>
        clientFor(merchantA.token).POST('/payments/{paymentId}/refunds', { params: { path: { paymentId: data!.id }, header: { 'Idempotency-Key': key } }, body: { amount } });
      const key = randomUUID();
      const part = await refund(400, key);
      expect(part.response.status).to.equal(201);
      expect(part.data).to.include({ status: 'succeeded', amount: 400, paymentId: data!.id });
      expect((await refund(400, key)).data).to.deep.equal(part.data);
      expect((await getPayment(merchantA.token, data!.id)).data).to.include({ status: 'succeeded', refundedAmount: 400 });
      const over = await refund(601);
      expect(over.response.status).to.equal(422);
      expect(over.error!.code).to.equal('refund-exceeds-payment');
      expect((await refund(600)).data!.status).to.equal('succeeded');
      const read = await getPayment(merchantA.token, data!.id);
      expect(read.data).to.include({ status: 'refunded', refundedAmount: 1_000 });
      expect(read.data!.statusHistory.map((s) => s.status)).to.deep.equal(['pending', 'succeeded', 'refunded']);
      const failedPayment = await pay(merchantA.token, { card: card('4000000000000002') });
      const notRefundable = await clientFor(merchantA.token).POST('/payments/{paymentId}/refunds', {
        params: { path: { paymentId: failedPayment.data!.id }, header: { 'Idempotency-Key': randomUUID() } },
        body: { amount: 1 },
      });
      expect(notRefundable.error!.code).to.equal('payment-not-refundable');
    });

    it('refunds once for 10 concurrent requests with one key: one refund, one amount, 10 equal answers', async () => {
      const { data } = await pay(merchantA.token, { amount: 500 });
      const key = randomUUID();
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          clientFor(merchantA.token).POST('/payments/{paymentId}/refunds', { params: { path: { paymentId: data!.id }, header: { 'Idempotency-Key': key } }, body: { amount: 200 } }),
        ),
      );
      expect(answers.map((a) => a.response.status)).to.deep.equal(Array.from({ length: 10 }, () => 201));
      expect(new Set(answers.map((a) => a.data!.id)).size).to.equal(1);
      expect((await getPayment(merchantA.token, data!.id)).data!.refundedAmount).to.equal(200);
      const charge = await (await fetch(`${piggy.url}/charges/${data!.id}`, { headers: { 'x-api-key': 'dev-bank-key' } })).json();
      expect(charge).to.include({ refundedAmount: 200 });
    });

    it('never refunds more than the payment under concurrent refunds: 10 refunds of 30 against 100, exactly 3 succeed', async () => {
      const { data } = await pay(merchantA.token, { amount: 100 });
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          clientFor(merchantA.token).POST('/payments/{paymentId}/refunds', { params: { path: { paymentId: data!.id }, header: { 'Idempotency-Key': randomUUID() } }, body: { amount: 30 } }),
        ),
      );
      expect(answers.filter((a) => a.response.status === 201)).to.have.length(3);
      expect(answers.filter((a) => a.response.status === 422)).to.have.length(7);
      expect((await getPayment(merchantA.token, data!.id)).data!.refundedAmount).to.equal(90);
    });
  });

  describe('bank callbacks', () => {
    it('refuses an unsigned or wrongly signed callback with 401 and accepts a signed one', async () => {
      const { data } = await pay(merchantA.token, { card: card('4000000000009995'), amount: 4_000 });
      const body = JSON.stringify({ reference: data!.id, bankChargeId: 'chg_x', status: '0', amount: 4_000, currency: 'EUR', refundedAmount: 0, createdAt: new Date().toISOString() });
      const post = (headers: Record<string, string>) => fetch(`${gateway.url}/bank-callbacks/piggy-bank`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      const id = `msg_${randomUUID()}`;
      const stamp = new Date();
      const signature = new Webhook(WEBHOOK_SECRET).sign(id, stamp, body);
      expect((await post({ 'webhook-id': id, 'webhook-timestamp': String(Math.floor(stamp.getTime() / 1000)), 'webhook-signature': 'v1,AAAA' })).status).to.equal(401);
      const forged = new Webhook('whsec_' + Buffer.from('another secret entirely, 32 bytes').toString('base64')).sign(id, stamp, body);
      expect((await post({ 'webhook-id': id, 'webhook-timestamp': String(Math.floor(stamp.getTime() / 1000)), 'webhook-signature': forged })).status).to.equal(401);
      expect((await post({ 'webhook-id': id, 'webhook-timestamp': String(Math.floor(stamp.getTime() / 1000)), 'webhook-signature': signature })).status).to.equal(204);
      const settled = await getPayment(merchantA.token, data!.id);
      expect(settled.data!.status).to.equal('succeeded');
    });
  });

  describe('when the bank fails', () => {
    it('leaves the payment pending, never 5xx, when the bank is down or answers garbage; settles it once the bank answers', async () => {
      // A gateway of its own: piggy-bank answers garbage, acme-acquiring is not listening yet.
      // Databases of their own: the services of this file keep theirs.
      const own = (name: string) => `${testDatabaseName(name)}_bank_failures`;
      const prefix = { AMQP_PREFIX: `${AMQP_PREFIX}_bank_failures` }; // and exchanges and queues of their own
      const garbage = await startTestService(acquiringBankService, issuer, { ...prefix, MONGO_DB: own('garbage_bank'), BANK_NAME: 'piggy-bank', BANK_FAILURE_MODE: 'garbage', BANK_FAILURE_RATE: '1' });
      const downPort = await freePort();
      const other = await startTestService(paymentGatewayService, issuer, {
        ...prefix,
        MONGO_DB: own('gateway'),
        ARGON2_MEMORY_KIB: '4096',
        ARGON2_TIME_COST: '1',
        ACQUIRING_BANKS: `piggy-bank=${garbage.url},acme-acquiring=http://127.0.0.1:${downPort}`,
        BANK_TIMEOUT_MS: '500',
        RECONCILE_AFTER_MS: '0',
        RECONCILE_INTERVAL_MS: '100',
      });
      let revived: TestService | undefined;
      try {
        const api = createPaymentGatewayClient({ baseUrl: other.url, middleware: checked() });
        const merchantOn = async (bank: 'piggy-bank' | 'acme-acquiring') => {
          const email = `fail-${randomUUID().slice(0, 8)}@example.com`;
          await api.POST('/auth/sign-up', {
            body: { email, password: 'correct horse battery staple', firstName: 'F', lastName: 'Ail', phone: `+4477${randomInt(10_000_000, 99_999_999)}`, role: 'merchant', business: { name: 'F Ltd', acquiringBank: bank } },
          });
          return (await api.POST('/auth/sign-in', { body: { email, password: 'correct horse battery staple' } })).data!.accessToken;
        };
        const payOn = (token: string) =>
          createPaymentGatewayClient({ baseUrl: other.url, token, middleware: checked() }).POST('/payments', {
            params: { header: { 'Idempotency-Key': randomUUID() } },
            body: { card: card(), amount: 1_000, currency: 'EUR', reference: 'order-fail' },
          });
        const garbled = await payOn(await merchantOn('piggy-bank'));
        expect(garbled.response.status).to.equal(201);
        expect(garbled.data!.status).to.equal('pending');
        const downToken = await merchantOn('acme-acquiring');
        const down = await payOn(downToken);
        expect(down.response.status).to.equal(201);
        expect(down.data!.status).to.equal('pending');
        // The bank comes up (with no record of the charge it never received): the payment, now
        // older than two bank calls, fails as interrupted — it is never charged again.
        revived = await startTestService(acquiringBankService, issuer, { ...prefix, MONGO_DB: own('revived_bank'), BANK_NAME: 'acme-acquiring', PORT: String(downPort) });
        const settled = await eventually(
          () => createPaymentGatewayClient({ baseUrl: other.url, token: downToken }).GET('/payments/{paymentId}', { params: { path: { paymentId: down.data!.id } } }),
          (r) => r.data!.status !== 'pending',
          'payment of the revived bank',
        );
        expect(settled.data).to.deep.include({ status: 'failed', failureReason: 'interrupted' });
      } finally {
        for (const svc of [other, garbage, revived]) await svc?.stop();
        for (const svc of [other, garbage, revived]) await svc?.drop();
      }
    });
  });

  describe('card data', () => {
    it('never stores a card number outside the vault (encrypted there) nor a CVV anywhere', async () => {
      const cvv = '987';
      const { data } = await pay(merchantA.token, { card: card('5555555555554444', { cvv }) });
      expect(data!.card).to.include({ brand: 'mastercard', last4: '4444' });
      await withMongo(async (client) => {
        const db: Db = client.db(gateway.dbName);
        for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
          const docs = JSON.stringify(await db.collection(name).find({}).toArray());
          expect(docs, name).not.to.include('5555555555554444');
          expect(docs, name).not.to.include('55555555554444'.slice(2, 10)); // the middle digits
          expect(docs, name).not.to.match(/"cvv"/);
        }
      });
    });
  });
});
