// Card payments under crashes, and card data under a gateway logging everything (issue 9, item 7).
// The real gateway and a real acquiring-bank simulator, FerretDB and RabbitMQ; a crash is a child
// process (payments/test-support/pay-and-die.ts) running the gateway's own code on the gateway's
// database and SIGKILLing itself at a chosen point. What each test proves:
//
//  - "killed between storing the payment and calling the bank": a payment the bank never heard of
//    is left pending, untouched while young (another instance may still be calling the bank), and
//    once old enough the reconciler asks the bank, learns it never received the charge, and fails
//    it as `interrupted` — once: one `failed` in its history, one settlement, a second pass changes
//    nothing. The merchant sees it failed (GET and list), `payment.failed` is announced, the bank
//    has no charge, and a retry of the POST with the same Idempotency-Key answers the interrupted
//    payment without ever sending the charge.
//  - "killed between the bank's answer and storing it": the bank charged the card, the gateway's
//    payment is still pending. The reconciler settles it `succeeded` from what the bank recorded
//    (its charge id), history pending → succeeded; the bank holds exactly one charge; a retry of
//    the original POST (whose idempotency record the crash left `started`) answers the settled
//    payment, same id, and charges nothing more; a second retry replays that answer.
//  - "killed between claiming a settlement and writing it": a settler that dies after its claim in
//    `payment_settlements` does not leave the payment pending for ever — the next settler applies
//    the claimed outcome (this found a bug: PaymentsRepository.settle returned the still-pending
//    payment to every later settler).
//  - "never writes card data to its logs": the gateway as a child process at LOG_LEVEL=debug, every
//    path a card takes (success with spaces in the number, an Amex, a decline, a bank still
//    processing then calling back, a bank timing out then reconciled, a bad Luhn number, a request
//    failing schema validation with the card in it, a refund), plus sign-up, failed sign-in and a
//    token refresh; its whole stdout+stderr holds no card number (nor the middle digits of the
//    distinctive ones), no CVV value, no access or refresh token, no password; and no document of
//    its database (payments, idempotency_keys, outbox, refunds, merchant_payments, cards, …) holds
//    a card number, its middle digits or a CVV.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Db } from 'mongodb';
import { pino } from 'pino';
import { type PaymentGatewayClient, createPaymentGatewayClient } from '../../generated/payment-gateway/client.js';
import type { Schemas } from '../../generated/payment-gateway/delegate.js';
import spec from '../../generated/payment-gateway/spec.json' with { type: 'json' };
import { type OpenApiSpec, createContractCheckingMiddleware } from '../../tools/contract-testing/index.js';
import { type EventProbe, startEventProbe } from '../../tools/testing/event-probe.js';
import { AMQP_PREFIX, AMQP_URL, MONGO_URL, type TestService, deleteTopology, dropDatabase, startTestService, testDatabaseName, withMongo } from '../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer } from '../../tools/testing/tokens.js';
import { eventually, freePort } from '../../tools/testing/wait.js';
import { commandIdFor } from '../common/data/idempotency.js';
import { Reconciler } from '../common/data/reconciler.js';
import { Outbox } from '../common/events/outbox.js';
import { acquiringBankService } from '../simulators/acquiring-bank/main.js';
import { paymentGatewayService } from './main.js';
import { Banks } from './payments/bank-client.js';
import { settlePendingPayment } from './payments/payment-settlement.js';
import { PaymentsRepository, type StoredPayment } from './payments/payments-repository.js';
import type { KillAt, PaymentToDieFor } from './payments/test-support/pay-and-die.js';

const PAY_AND_DIE = fileURLToPath(new URL('./payments/test-support/pay-and-die.ts', import.meta.url));
const GATEWAY_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const BANK = 'piggy-bank';
const BANK_KEY = 'dev-bank-key';
const PASSWORD = 'correct horse battery staple';
/** The gateway's own reconciler leaves pending payments alone for this long; the tests' reconciler runs later than that on an injected clock. */
const RECONCILE_AFTER_MS = 3_600_000;



/** A card number passing the Luhn check: `prefix`, random digits, then the check digit (or a wrong one). */
function luhnNumber(prefix: string, length: number, { valid = true } = {}): string {
  let body = prefix;
  while (body.length < length - 1) body += String(randomInt(10));
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let digit = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  const check = (10 - (sum % 10)) % 10;
  return body + String(valid ? check : (check + 1) % 10);
}

/** The environment without card-vault keys the runner may carry: children use the dev keys, as the in-process gateway does. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('CARD_')) env[name] = value;
  return { ...env, ...extra };
}

/** Waits for a child's exit: its code and signal. */
function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('Card payments: crashes and card data (integration)', function () {
  this.timeout(90_000);
  let issuer: TokenIssuer;
  let bank: TestService;
  let gateway: TestService;
  let probe: EventProbe;

  const checked = () => [createContractCheckingMiddleware({ api: 'payment-gateway', spec: spec as OpenApiSpec })];
  const clientAt = (baseUrl: string, token?: string): PaymentGatewayClient =>
    createPaymentGatewayClient({ baseUrl, ...(token !== undefined ? { token } : {}), middleware: checked() });

  async function signUp(baseUrl: string) {
    const email = `crash-${randomUUID().slice(0, 8)}@example.com`;
    const { data, response } = await clientAt(baseUrl).POST('/auth/sign-up', {
      body: { email, password: PASSWORD, firstName: 'Mer', lastName: 'Chant', phone: `+4477${randomInt(10_000_000, 99_999_999)}`, role: 'merchant', business: { name: 'Shop Ltd', acquiringBank: BANK } },
    });
    expect(response.status, 'sign-up').to.equal(201);
    const signedIn = await clientAt(baseUrl).POST('/auth/sign-in', { body: { email, password: PASSWORD } });
    expect(signedIn.response.status, 'sign-in').to.equal(200);
    return { id: data!.id, email, token: signedIn.data!.accessToken, refreshToken: signedIn.data!.refreshToken };
  }
  type Merchant = Awaited<ReturnType<typeof signUp>>;

  const card = (number: string, extra: Partial<Schemas['CardInput']> = {}): Schemas['CardInput'] => ({
    number,
    expiryMonth: 12,
    expiryYear: new Date().getUTCFullYear() + 3,
    cvv: '123',
    holderName: 'Ada Lovelace',
    ...extra,
  });
  const paymentBody = (body: Partial<Schemas['PaymentRequest']> = {}): Schemas['PaymentRequest'] => ({
    card: card(luhnNumber('4', 16)),
    amount: 1_000,
    currency: 'EUR',
    reference: `order-${randomUUID().slice(0, 8)}`,
    ...body,
  });
  const pay = (baseUrl: string, token: string, body: Schemas['PaymentRequest'], key = randomUUID()) =>
    clientAt(baseUrl, token).POST('/payments', { params: { header: { 'Idempotency-Key': key } }, body });
  const getPayment = (baseUrl: string, token: string, id: string) => clientAt(baseUrl, token).GET('/payments/{paymentId}', { params: { path: { paymentId: id } } });

  /** The bank's record of the charge made under `reference` (GET /charges/{reference}), or its status when it has none. */
  async function bankCharge(reference: string): Promise<{ status: number; body?: { status: string; bankChargeId: string; amount: number } }> {
    const response = await fetch(`${bank.url}/charges/${reference}`, { headers: { 'x-api-key': BANK_KEY } });
    return response.status === 200 ? { status: 200, body: (await response.json()) as { status: string; bankChargeId: string; amount: number } } : { status: response.status };
  }

  /** Every charge the bank holds for a merchant, whatever its reference (a filter on a non-key field: a test's scan). */
  const bankChargesOf = (merchantId: string) =>
    withMongo(async (client) => (await client.db(bank.dbName).collection<{ reference: string }>('charges').find({ merchantId }).toArray()).map((c) => c.reference));

  /** The gateway's own records of a payment: the payment, its settlement claim, its idempotency record, whether it is still owed to the outbox. */
  const stored = (paymentId: string) =>
    withMongo(async (client) => {
      const db = client.db(gateway.dbName);
      return {
        payment: (await db.collection<StoredPayment>('payments').findOne({ _id: paymentId })) ?? undefined,
        settlement: (await db.collection<{ _id: string; status: string; by: string }>('payment_settlements').findOne({ _id: paymentId })) ?? undefined,
        idempotency: (await db.collection<{ _id: string; state: string }>('idempotency_keys').findOne({ _id: paymentId })) ?? undefined,
        owed: (await db.collection('outbox').findOne({ _id: `payment.settled/${paymentId}` as never })) !== null,
      };
    });

  /** Runs the payment in a child gateway that SIGKILLs itself at `killAt`; the payment's id. */
  async function payAndDie(killAt: Exclude<KillAt, 'settle-after-claim'>, merchant: Merchant, body: Schemas['PaymentRequest'], idempotencyKey: string): Promise<string> {
    const payment: PaymentToDieFor = { merchantId: merchant.id, bank: BANK, idempotencyKey, body };
    await runToDeath(killAt, { PAYMENT: JSON.stringify(payment) });
    return commandIdFor('payment-gateway', 'pay', { operation: 'createPayment', principal: merchant.id, key: idempotencyKey });
  }

  async function runToDeath(killAt: KillAt, extra: Record<string, string>): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', PAY_AND_DIE], { env: childEnv({ ...gateway.env, KILL_AT: killAt, ...extra }), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const { signal } = await exited(child);
    expect(signal, `child ${killAt}: ${stderr}`).to.equal('SIGKILL');
  }

  /**
   * One pass of a reconciler (another instance's, on the gateway's database) with the service's
   * rule and settle function, its clock at `now`: the ids it settled among `ours` (the database is
   * shared with this file's other tests).
   */
  const settleWith = (now: Date, ours: string[]) =>
    withMongo(async (client) => {
      const db = client.db(gateway.dbName);
      const outbox = new Outbox(db);
      const payments = new PaymentsRepository(db, outbox);
      outbox.register(payments.outboxSources());
      const banks = new Banks({ urls: { [BANK]: bank.url }, apiKeys: { [BANK]: BANK_KEY }, timeoutMs: 5_000 });
      const log = pino({ level: 'silent' });
      const settled: string[] = [];
      const reconciler = new Reconciler(db, {
        name: 'payments',
        pending: payments.pendingPayments(),
        settle: async (id, now) => {
          await settlePendingPayment(id, payments, banks, log, now);
          if (ours.includes(id)) settled.push(id);
        },
        minAgeMs: RECONCILE_AFTER_MS,
        intervalMs: 5_000,
        log,
        now: () => now,
      });
      await reconciler.runOnce();
      return settled;
    });
  const later = (ms: number) => new Date(Date.now() + RECONCILE_AFTER_MS + ms);

  before(async () => {
    issuer = await createTokenIssuer();
    bank = await startTestService(acquiringBankService, issuer, { BANK_NAME: BANK, BANK_SETTLE_AFTER_MS: '200', BANK_TIMEOUT_CARD_DELAY_MS: '1500', BANK_CALLBACK_RETRY_DELAYS_MS: '100,200' });
    gateway = await startTestService(paymentGatewayService, issuer, {
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '1',
      SIGN_UP_MAX_PER_CLIENT: '1000',
      ACQUIRING_BANKS: `${BANK}=${bank.url}`,
      BANK_TIMEOUT_MS: '5000',
      // Its own reconciler never takes the crashed payments: the tests settle them on their clock.
      RECONCILE_AFTER_MS: String(RECONCILE_AFTER_MS),
    });
    probe = await startEventProbe('payments-crash-probe', ['payment.succeeded', 'payment.failed']);
  });

  after(async () => {
    await probe?.stop();
    for (const svc of [gateway, bank]) await svc?.stop();
    for (const svc of [gateway, bank]) await svc?.drop();
  });

  describe('crash recovery', () => {
    it('killed between storing the payment and calling the bank: failed as interrupted once the reconciler finds the bank never received it; a retry never charges', async () => {
      const merchant = await signUp(gateway.url);
      const key = randomUUID();
      const body = paymentBody({ amount: 1_500, reference: 'order-interrupted' });
      const paymentId = await payAndDie('before-charge', merchant, body, key);

      // What the crash left: a pending payment the bank never heard of, still owed to the outbox.
      const left = await stored(paymentId);
      expect(left.payment).to.deep.include({ status: 'pending', amount: 1_500, merchantId: merchant.id, bank: BANK });
      expect(left.payment!.statusHistory.map((s) => s.status)).to.deep.equal(['pending']);
      expect(left).to.deep.include({ settlement: undefined, owed: true });
      expect(left.idempotency?.state).to.equal('started');
      expect((await bankCharge(paymentId)).status).to.equal(404);
      expect((await getPayment(gateway.url, merchant.token, paymentId)).data!.status).to.equal('pending');

      // Young, it is left to whoever may still be calling the bank…
      expect(await settleWith(new Date(), [paymentId])).to.deep.equal([]);
      expect((await stored(paymentId)).payment!.status).to.equal('pending');
      // …old enough, the bank is asked, knows nothing of it, and it fails as interrupted.
      expect(await settleWith(later(60_000), [paymentId])).to.deep.equal([paymentId]);

      const read = await getPayment(gateway.url, merchant.token, paymentId);
      expect(read.response.status).to.equal(200);
      expect(read.data).to.deep.include({ id: paymentId, status: 'failed', failureReason: 'interrupted', amount: 1_500, refundedAmount: 0, reference: 'order-interrupted' });
      expect(read.data!.statusHistory.map((s) => [s.status, s.reason])).to.deep.equal([
        ['pending', undefined],
        ['failed', 'interrupted'],
      ]);
      const listed = await clientAt(gateway.url, merchant.token).GET('/payments', { params: { query: { reference: 'order-interrupted' } } });
      expect(listed.data!.data.map((p) => [p.id, p.status])).to.deep.equal([[paymentId, 'failed']]);
      expect((await stored(paymentId)).settlement).to.deep.include({ status: 'failed', by: 'reconciler' });
      const [event] = await probe.waitFor((e) => (e.data as { paymentId: string }).paymentId === paymentId, 1);
      expect(event, 'payment.failed announced').to.not.equal(undefined);
      expect(event!.type).to.equal('payment.failed');
      expect(event!.data).to.include({ paymentId, failureReason: 'interrupted', merchantId: merchant.id });

      // Once: when announced it is no longer pending work, and another pass changes nothing.
      await eventually(() => stored(paymentId), (s) => !s.owed, 'the outbox marker gone once announced');
      const settledOnce = (await stored(paymentId)).payment;
      expect(await settleWith(later(120_000), [paymentId])).to.deep.equal([]);
      expect((await stored(paymentId)).payment).to.deep.equal(settledOnce);

      // The client's retry (same key, same body) learns the outcome; the card is never charged after the fact.
      const retried = await pay(gateway.url, merchant.token, body, key);
      expect(retried.response.status).to.equal(201);
      expect(retried.data).to.deep.include({ id: paymentId, status: 'failed', failureReason: 'interrupted' });
      expect((await bankCharge(paymentId)).status).to.equal(404);
      expect(await bankChargesOf(merchant.id)).to.deep.equal([]);
      expect((await stored(paymentId)).payment).to.deep.equal(settledOnce);
    });

    it("killed between the bank's answer and storing it: succeeded from what the bank recorded, one charge; a retry of the POST answers it and charges nothing more", async () => {
      const merchant = await signUp(gateway.url);
      const key = randomUUID();
      const body = paymentBody({ amount: 2_500, reference: 'order-charged-then-killed' });
      const paymentId = await payAndDie('after-charge', merchant, body, key);

      // What the crash left: the bank charged the card; the gateway's payment is still pending,
      // the idempotency record started, never answered.
      const charge = await bankCharge(paymentId);
      expect(charge.status).to.equal(200);
      expect(charge.body).to.include({ status: '0', amount: 2_500 });
      const left = await stored(paymentId);
      expect(left.payment).to.deep.include({ status: 'pending', amount: 2_500 });
      expect(left.payment!.bankChargeId).to.equal(undefined);
      expect(left).to.deep.include({ settlement: undefined, owed: true });
      expect(left.idempotency?.state).to.equal('started');

      expect(await settleWith(new Date(), [paymentId])).to.deep.equal([]);
      expect(await settleWith(later(60_000), [paymentId])).to.deep.equal([paymentId]);

      const read = await getPayment(gateway.url, merchant.token, paymentId);
      expect(read.data).to.deep.include({ id: paymentId, status: 'succeeded', amount: 2_500, refundedAmount: 0 });
      expect(read.data!.failureReason).to.equal(undefined);
      expect(read.data!.statusHistory.map((s) => s.status)).to.deep.equal(['pending', 'succeeded']);
      const settled = await stored(paymentId);
      expect(settled.payment!.bankChargeId, "the bank's charge id").to.equal(charge.body!.bankChargeId);
      expect(settled.settlement).to.deep.include({ status: 'succeeded', by: 'reconciler' });
      expect(await bankChargesOf(merchant.id)).to.deep.equal([paymentId]);
      const events = await probe.waitFor((e) => (e.data as { paymentId: string }).paymentId === paymentId, 1);
      expect(events.map((e) => e.type)).to.deep.equal(['payment.succeeded']);

      // The client never got an answer, so it retries the POST: the settled payment, same id; no second charge.
      const retried = await pay(gateway.url, merchant.token, body, key);
      expect(retried.response.status).to.equal(201);
      expect(retried.data).to.deep.equal(read.data);
      expect(await bankChargesOf(merchant.id)).to.deep.equal([paymentId]);
      expect((await bankCharge(paymentId)).body).to.deep.equal(charge.body);
      expect((await stored(paymentId)).idempotency?.state).to.equal('completed');
      const again = await pay(gateway.url, merchant.token, body, key);
      expect(again.data).to.deep.equal(retried.data);
      expect(await bankChargesOf(merchant.id)).to.deep.equal([paymentId]);
      expect((await stored(paymentId)).payment!.statusHistory.map((s) => s.status)).to.deep.equal(['pending', 'succeeded']);
    });

    it('killed between claiming a settlement and writing it: the next settler applies the claimed outcome instead of leaving the payment pending', async () => {
      const merchant = await signUp(gateway.url);
      const key = randomUUID();
      const body = paymentBody({ amount: 3_500 });
      const paymentId = await payAndDie('after-charge', merchant, body, key);
      // A settler (the reconciler's unit of work, in another process) asks the bank, claims the
      // settlement, and dies before writing the payment.
      await runToDeath('settle-after-claim', { PAYMENT_ID: paymentId });
      const left = await stored(paymentId);
      expect(left.payment!.status).to.equal('pending');
      expect(left.settlement).to.deep.include({ status: 'succeeded', by: 'reconciler' });

      expect(await settleWith(later(60_000), [paymentId])).to.deep.equal([paymentId]);
      const read = await getPayment(gateway.url, merchant.token, paymentId);
      expect(read.data).to.deep.include({ id: paymentId, status: 'succeeded' });
      expect(read.data!.statusHistory.map((s) => s.status)).to.deep.equal(['pending', 'succeeded']);
      expect((await stored(paymentId)).payment!.bankChargeId).to.equal((await bankCharge(paymentId)).body!.bankChargeId);
      expect(await bankChargesOf(merchant.id)).to.deep.equal([paymentId]);
      await eventually(() => stored(paymentId), (s) => !s.owed, 'the outbox marker gone once announced');
      expect((await pay(gateway.url, merchant.token, body, key)).data).to.deep.equal(read.data);
    });
  });

  describe('card data', () => {
    it('never writes card data, CVVs, tokens or passwords to its logs (LOG_LEVEL=debug), nor card data to its database', async () => {
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const dbName = testDatabaseName('payment-gateway-logs');
      const prefix = `${AMQP_PREFIX}_logs`;
      const child = spawn(process.execPath, ['--import', 'tsx', GATEWAY_MAIN], {
        env: childEnv({
          HOST: '127.0.0.1',
          PORT: String(port),
          MONGO_URL,
          MONGO_DB: dbName,
          AMQP_URL,
          AMQP_PREFIX: prefix,
          EVENT_RETRY_DELAYS_MS: '100,200,400',
          LOG_LEVEL: 'debug',
          VALIDATE_RESPONSES: 'true',
          ARGON2_MEMORY_KIB: '4096',
          ARGON2_TIME_COST: '1',
          SIGN_UP_MAX_PER_CLIENT: '1000',
          ACQUIRING_BANKS: `${BANK}=${bank.url}`,
          ACQUIRING_BANK_KEYS: `${BANK}=${BANK_KEY}`,
          BANK_TIMEOUT_MS: '500',
          PAYMENTS_CALLBACK_BASE_URL: baseUrl,
          RECONCILE_AFTER_MS: '0',
          RECONCILE_INTERVAL_MS: '100',
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      try {
        await eventually(
          async () => {
            if (child.exitCode !== null) throw new Error(`the gateway exited (${child.exitCode}) before it was ready:\n${output}`);
            return fetch(`${baseUrl}/health/ready`).then((r) => r.status, () => 0);
          },
          (status) => status === 200,
          'the gateway child ready',
          30_000,
        );

        // Distinctive cards: their numbers' middle digits appear nowhere by chance. CVVs too.
        const visa19 = luhnNumber('4', 19); // sent with spaces, as typed
        const mastercard = luhnNumber('51', 16);
        const amex = luhnNumber('37', 15);
        const badLuhn = luhnNumber('4', 19, { valid: false });
        const schemaRefused = luhnNumber('4', 19);
        const declined = '4000000000000002';
        const pendingAtBank = '4000000000009995';
        const timesOut = '4000000000000341';
        const cvvs = { visa19: '987', mastercard: '864', amex: '7531', declined: '642', pending: '975', timesOut: '319', badLuhn: '468', schema: '824' };

        const merchant = await signUp(baseUrl);
        const wrongPassword = 'wrong horse battery staple';
        expect((await clientAt(baseUrl).POST('/auth/sign-in', { body: { email: merchant.email, password: wrongPassword } })).response.status).to.equal(401);
        const refreshed = await clientAt(baseUrl).POST('/auth/refresh', { body: { refreshToken: merchant.refreshToken } });
        expect(refreshed.response.status).to.equal(200);
        const token = refreshed.data!.accessToken;

        const spaced = visa19.replace(/(\d{4})(?=\d)/g, '$1 ');
        const ok = await pay(baseUrl, token, paymentBody({ card: card(spaced, { cvv: cvvs.visa19 }), amount: 4_000 }));
        expect(ok.data).to.deep.include({ status: 'succeeded' });
        expect((await pay(baseUrl, token, paymentBody({ card: card(mastercard, { cvv: cvvs.mastercard }) }))).data!.status).to.equal('succeeded');
        expect((await pay(baseUrl, token, paymentBody({ card: card(amex, { cvv: cvvs.amex }) }))).data!.status).to.equal('succeeded');
        expect((await pay(baseUrl, token, paymentBody({ card: card(declined, { cvv: cvvs.declined }) }))).data).to.deep.include({ status: 'failed', failureReason: 'insufficient-funds' });
        const pending = await pay(baseUrl, token, paymentBody({ card: card(pendingAtBank, { cvv: cvvs.pending }), amount: 2_000 }));
        expect(pending.data!.status).to.equal('pending');
        const slow = await pay(baseUrl, token, paymentBody({ card: card(timesOut, { cvv: cvvs.timesOut }), amount: 3_000 }));
        expect(slow.data!.status).to.equal('pending');
        const refused = await pay(baseUrl, token, paymentBody({ card: card(badLuhn, { cvv: cvvs.badLuhn }) }));
        expect(refused.response.status).to.equal(422);
        expect(refused.error!.code).to.equal('invalid-card-number');
        // Refused by the schema (amount is not an integer) with the card in the body.
        const invalid = await fetch(`${baseUrl}/payments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': randomUUID() },
          body: JSON.stringify({ ...paymentBody({ card: card(schemaRefused, { cvv: cvvs.schema }) }), amount: 'ten' }),
        });
        expect(invalid.status).to.equal(400);
        // The bank's callback settles one, the reconciler the other.
        for (const id of [pending.data!.id, slow.data!.id]) {
          await eventually(() => getPayment(baseUrl, token, id), (r) => r.data?.status !== 'pending', `payment ${id} settled`);
        }
        const refund = await clientAt(baseUrl, token).POST('/payments/{paymentId}/refunds', { params: { path: { paymentId: ok.data!.id }, header: { 'Idempotency-Key': randomUUID() } }, body: { amount: 1_000 } });
        expect(refund.data!.status).to.equal('succeeded');
        expect((await clientAt(baseUrl, token).GET('/payments', { params: { query: { limit: 100 } } })).data!.data).to.have.length(6);

        // Stopped the way an orchestrator stops it; the output is complete once it has exited.
        child.kill('SIGTERM');
        const { code } = await exited(child);
        expect(code, output.slice(-2_000)).to.equal(0);

        // Not vacuous: the gateway did log these requests and payments.
        expect(output).to.include('payment charged');
        expect(output).to.include('payment left pending');
        expect(output).to.include(ok.data!.id);
        expect(output).to.include('"path":"/payments"');

        const numbers = [visa19, spaced, mastercard, amex, badLuhn, schemaRefused, declined, pendingAtBank, timesOut];
        // The middle digits (past the BIN, before the last four) of the 19-digit random numbers: nine
        // digits, long enough to appear nowhere by chance (a 16-digit number's six could).
        const middles = [visa19, badLuhn, schemaRefused].map((n) => n.slice(6, -4));
        const secrets = [token, merchant.token, merchant.refreshToken, refreshed.data!.refreshToken, PASSWORD, wrongPassword];
        const lines = output.split('\n');
        const lineWith = (text: string) => lines.find((line) => line.includes(text));
        for (const number of numbers) expect(lineWith(number), `card number ${number} in the output`).to.equal(undefined);
        for (const middle of middles) expect(lineWith(middle), `middle digits ${middle} in the output`).to.equal(undefined);
        for (const cvv of Object.values(cvvs)) expect(lineWith(`"${cvv}"`), `CVV ${cvv} in the output`).to.equal(undefined);
        expect(lines.find((line) => /cvv"?\s*[:=]\s*"?\d/i.test(line)), 'a CVV with its value in the output').to.equal(undefined);
        for (const secret of secrets) expect(lineWith(secret), `a token or password in the output (${secret.slice(0, 12)}…)`).to.equal(undefined);

        await withMongo(async (client) => {
          const db: Db = client.db(dbName);
          const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
          expect(names).to.include.members(['payments', 'idempotency_keys', 'outbox', 'refunds', 'merchant_payments', 'cards']);
          for (const name of ['payments', 'idempotency_keys', 'refunds', 'merchant_payments', 'cards']) {
            expect(await db.collection(name).countDocuments({}), `${name} holds what the test made`).to.be.greaterThan(0);
          }
          for (const name of names) {
            const docs = JSON.stringify(await db.collection(name).find({}).toArray());
            for (const number of numbers) expect(docs, `card number in ${name}`).not.to.include(number);
            for (const middle of middles) expect(docs, `middle digits in ${name}`).not.to.include(middle);
            expect(docs, `a CVV field in ${name}`).not.to.match(/"cvv"/i);
            for (const cvv of Object.values(cvvs)) expect(docs, `CVV ${cvv} in ${name}`).not.to.include(`"${cvv}"`);
          }
        });
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          await exited(child);
        }
        await dropDatabase(dbName);
        await deleteTopology(prefix, 'payment-gateway');
      }
    });
  });
});
