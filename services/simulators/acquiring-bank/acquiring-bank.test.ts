// The acquiring-bank simulator end to end: the real service (several instances: banks, failure
// modes) on FerretDB/MongoDB, called over HTTP through the generated client; every response is
// checked against specs/acquiring-bank.yaml by the client middleware. The pure rules are tested
// first, on their own.
import { randomBytes, randomUUID } from 'node:crypto';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { CommandStartedEvent, Document } from 'mongodb';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { type AcquiringBankClient, createAcquiringBankClient } from '../../../generated/acquiring-bank/client.js';
import type { CreateChargeRequest, CreateDirectDebitRequest, Schemas } from '../../../generated/acquiring-bank/delegate.js';
import spec from '../../../generated/acquiring-bank/spec.json' with { type: 'json' };
import { createContractCheckingMiddleware, getCoverageSummary, runInvalidRequests, skipUnlessWholeFileRuns } from '../../../tools/contract-testing/index.js';
import type { OpenApiSpec } from '../../../tools/contract-testing/index.js';
import { type TestService, startTestService, withMongo } from '../../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer } from '../../../tools/testing/tokens.js';
import { eventually } from '../../../tools/testing/wait.js';
import { commandWatchers } from '../../common/mongo.js';
import {
  INSUFFICIENT_FUNDS_IBAN,
  TEST_CARDS,
  cardExpired,
  decideCharge,
  decideDirectDebit,
  decideRefund,
  ibanChecksumValid,
  luhnValid,
  settlementOf,
  utcDate,
} from './acquiring-bank-domain.js';
import { GARBAGE_BODY, faultInjection } from './fault-injection.js';
import { acquiringBankService } from './main.js';

const API_KEY = 'test-bank-key-0001';
const OTHER_KEY = 'test-bank-key-0002';
const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const FUTURE_YEAR = new Date().getUTCFullYear() + 3;
const VALID_IBAN = 'FR7630006000011234567890189';
const DAY_MS = 86_400_000;

type ChargeBody = CreateChargeRequest['body'];
type DebitBody = CreateDirectDebitRequest['body'];

const ref = (prefix = 'pay') => `${prefix}_${randomUUID()}`;
const card = (number: string, overrides: Partial<ChargeBody['card']> = {}): ChargeBody['card'] => ({
  number,
  expiryMonth: 12,
  expiryYear: FUTURE_YEAR,
  cvv: '737',
  holderName: 'Ada Lovelace',
  ...overrides,
});
const chargeRequest = (number: string, overrides: Partial<ChargeBody> = {}): ChargeBody => ({
  reference: ref(),
  merchantId: 'usr_merchant0001',
  card: card(number),
  amount: 1000,
  currency: 'EUR',
  ...overrides,
});
const debitRequest = (mandate: Partial<DebitBody['mandate']> = {}, overrides: Partial<DebitBody> = {}): DebitBody => ({
  reference: ref('dd'),
  mandate: { reference: 'MANDATE-0001', iban: VALID_IBAN, signedOn: utcDate(new Date(Date.now() - 30 * DAY_MS)), ...mandate },
  amount: 2500,
  currency: 'EUR',
  ...overrides,
});

/** Calls `read` until `done` holds for its result (or fails after `timeoutMs`): no fixed sleeps. */

/** A local HTTP server standing in for the payment gateway's callback endpoint. */
interface Receiver {
  url: string;
  received: { headers: IncomingHttpHeaders; body: string }[];
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

async function startReceiver(statusFor: (attempt: number) => number = () => 204): Promise<Receiver> {
  const received: Receiver['received'] = [];
  let arrived: () => void = () => {};
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.statusCode = statusFor(received.length);
      res.end();
      arrived();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/bank-callbacks/piggy-bank`,
    received,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} callbacks in ${timeoutMs} ms, got ${received.length}`);
        await new Promise<void>((resolve) => {
          arrived = resolve;
          setTimeout(resolve, 100);
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('Acquiring-bank rules (unit)', () => {
  it('every test card passes the Luhn check; a changed digit does not', () => {
    for (const number of Object.values(TEST_CARDS)) expect(luhnValid(number), number).to.equal(true);
    expect(luhnValid('4242424242424241')).to.equal(false);
  });

  it('decides each test card, then invalid numbers and expired cards before any of them', () => {
    const now = new Date('2026-06-15T12:00:00Z');
    const good = { expiryMonth: 6, expiryYear: 2026 };
    expect(decideCharge({ number: TEST_CARDS.succeeds, ...good }, 100, now)).to.deep.equal({ status: '0' });
    expect(decideCharge({ number: TEST_CARDS.insufficientFunds, ...good }, 100, now)).to.deep.equal({ status: '100', reason: 'insufficient-funds' });
    expect(decideCharge({ number: TEST_CARDS.pending, ...good }, 100, now)).to.deep.equal({ status: '200', settlesTo: { status: '0' } });
    expect(decideCharge({ number: TEST_CARDS.pending, ...good }, 101, now)).to.deep.equal({ status: '200', settlesTo: { status: '100', reason: 'insufficient-funds' } });
    expect(decideCharge({ number: TEST_CARDS.expiredCard, ...good }, 100, now)).to.deep.equal({ status: '100', reason: 'expired-card' });
    expect(decideCharge({ number: TEST_CARDS.doNotHonour, ...good }, 100, now)).to.deep.equal({ status: '100', reason: 'do-not-honour' });
    expect(decideCharge({ number: TEST_CARDS.stolenCard, ...good }, 100, now)).to.deep.equal({ status: '100', reason: 'stolen-card' });
    expect(decideCharge({ number: TEST_CARDS.timesOut, ...good }, 100, now)).to.deep.equal({ status: '0', slow: true });
    expect(decideCharge({ number: '5555555555554444', ...good }, 100, now)).to.deep.equal({ status: '0' });
    expect(decideCharge({ number: '5555555555554445', ...good }, 100, now)).to.deep.equal({ status: '100', reason: 'invalid-card' });
    expect(decideCharge({ number: TEST_CARDS.succeeds, expiryMonth: 5, expiryYear: 2026 }, 100, now)).to.deep.equal({ status: '100', reason: 'expired-card' });
  });

  it('a card is good through the last day of its expiry month (UTC)', () => {
    expect(cardExpired(6, 2026, new Date('2026-06-30T23:59:59Z'))).to.equal(false);
    expect(cardExpired(6, 2026, new Date('2026-07-01T00:00:00Z'))).to.equal(true);
    expect(cardExpired(1, 2027, new Date('2026-12-31T00:00:00Z'))).to.equal(false);
    expect(cardExpired(12, 2025, new Date('2026-01-01T00:00:00Z'))).to.equal(true);
  });

  it('a pending charge settles to 0 for an even amount, 100 insufficient-funds for an odd one', () => {
    expect(settlementOf(2)).to.deep.equal({ status: '0' });
    expect(settlementOf(3)).to.deep.equal({ status: '100', reason: 'insufficient-funds' });
  });

  it('direct debits: the mandate signed by today, not expired, with a valid IBAN; the short IBAN fails on funds', () => {
    const now = new Date('2026-06-15T08:00:00Z');
    expect(decideDirectDebit({ iban: VALID_IBAN, signedOn: '2026-06-15' }, now)).to.deep.equal({ status: '0' });
    expect(decideDirectDebit({ iban: VALID_IBAN, signedOn: '2026-01-01', expiresOn: '2026-06-15' }, now)).to.deep.equal({ status: '0' });
    expect(decideDirectDebit({ iban: VALID_IBAN, signedOn: '2026-06-16' }, now)).to.deep.equal({ status: '100', reason: 'mandate-invalid' });
    expect(decideDirectDebit({ iban: VALID_IBAN, signedOn: '2026-01-01', expiresOn: '2026-06-14' }, now)).to.deep.equal({ status: '100', reason: 'mandate-invalid' });
    expect(decideDirectDebit({ iban: 'FR7730006000011234567890189', signedOn: '2026-01-01' }, now)).to.deep.equal({ status: '100', reason: 'mandate-invalid' });
    expect(decideDirectDebit({ iban: INSUFFICIENT_FUNDS_IBAN, signedOn: '2026-01-01' }, now)).to.deep.equal({ status: '100', reason: 'insufficient-funds' });
    expect(ibanChecksumValid(INSUFFICIENT_FUNDS_IBAN)).to.equal(true);
  });

  it('refunds: only of a succeeded charge, never beyond its amount in total', () => {
    expect(decideRefund({ status: '0', amount: 100 }, 70, 30)).to.deep.equal({ status: '0' });
    expect(decideRefund({ status: '0', amount: 100 }, 71, 30)).to.deep.equal({ status: '100', reason: 'refund-exceeds-charge' });
    expect(decideRefund({ status: '100', amount: 100 }, 0, 30)).to.deep.equal({ status: '100', reason: 'charge-not-refundable' });
    expect(decideRefund({ status: '200', amount: 100 }, 0, 30)).to.deep.equal({ status: '100', reason: 'charge-not-refundable' });
  });

  it('failure injection at a rate strictly between 0 and 1 follows the random draw', () => {
    const draws = [0.1, 0.9];
    const inject = faultInjection({ bank: 'test', latencyMs: 0, failureRate: 0.5, failureMode: 'garbage', log: pino({ level: 'silent' }), random: () => draws.shift()! });
    const outcomes: string[] = [];
    const res = { status: () => res, type: () => res, send: () => outcomes.push('garbage') } as never;
    inject({ method: 'GET', path: '/x' } as never, res, () => outcomes.push('served'));
    inject({ method: 'GET', path: '/x' } as never, res, () => outcomes.push('served'));
    expect(outcomes).to.deep.equal(['garbage', 'served']);
  });
});

describe('Acquiring-bank simulator (integration)', function () {
  this.timeout(60_000);
  let issuer: TokenIssuer;
  const started: TestService[] = [];
  let bank: TestService;
  let client: AcquiringBankClient;
  const checked = () => [createContractCheckingMiddleware({ api: 'acquiring-bank', spec: spec as OpenApiSpec })];
  /** A client sending `key` in X-Api-Key (null: none). */
  const clientFor = (service: TestService, key: string | null = API_KEY) =>
    createAcquiringBankClient({ baseUrl: service.url, ...(key !== null ? { headers: { 'x-api-key': key } } : {}), middleware: checked() });
  /** Another instance on the same database: another bank, or the same bank scaled out, or a failure mode. */
  async function startBank(env: Record<string, string> = {}): Promise<TestService> {
    const service = await startTestService(acquiringBankService, issuer, {
      BANK_API_KEYS: `${API_KEY}, ${OTHER_KEY}`,
      BANK_WEBHOOK_SECRET: WEBHOOK_SECRET,
      BANK_SETTLE_AFTER_MS: '200',
      BANK_TIMEOUT_CARD_DELAY_MS: '1500',
      BANK_CALLBACK_RETRY_DELAYS_MS: '50,100,200',
      ...env,
    });
    started.push(service);
    return service;
  }

  before(async () => {
    issuer = await createTokenIssuer();
    bank = await startBank();
    client = clientFor(bank);
  });

  after(async () => {
    for (const service of started) await service.stop();
    await started[0]?.drop();
  });

  async function charge(body: ChargeBody, on = client) {
    const { data, response } = await on.POST('/charges', { body });
    expect(response.status, 'charge status').to.equal(200);
    return data!;
  }
  async function getCharge(reference: string, on = client) {
    const { data, response } = await on.GET('/charges/{reference}', { params: { path: { reference } } });
    expect(response.status, 'get charge status').to.equal(200);
    return data!;
  }
  async function refund(chargeReference: string, amount: number, reference = ref('rfd'), on = client) {
    const { data, response } = await on.POST('/charges/{reference}/refunds', { params: { path: { reference: chargeReference } }, body: { reference, amount } });
    expect(response.status, 'refund status').to.equal(200);
    return data!;
  }

  describe('charges', () => {
    const cases: [string, string, Pick<Schemas['Charge'], 'status' | 'reason'>][] = [
      ['succeeds', TEST_CARDS.succeeds, { status: '0' }],
      ['fails for insufficient funds', TEST_CARDS.insufficientFunds, { status: '100', reason: 'insufficient-funds' }],
      ['fails as an expired card', TEST_CARDS.expiredCard, { status: '100', reason: 'expired-card' }],
      ['fails with do-not-honour', TEST_CARDS.doNotHonour, { status: '100', reason: 'do-not-honour' }],
      ['fails as a stolen card', TEST_CARDS.stolenCard, { status: '100', reason: 'stolen-card' }],
      ['is pending', TEST_CARDS.pending, { status: '200' }],
      ['succeeds (any other valid card)', '5555555555554444', { status: '0' }],
      ['fails as an invalid card (Luhn)', '4242424242424241', { status: '100', reason: 'invalid-card' }],
    ];
    for (const [what, number, expected] of cases) {
      it(`card ${number} ${what}, and GET answers the same`, async () => {
        const body = chargeRequest(number);
        const made = await charge(body);
        expect({ status: made.status, reason: made.reason }).to.deep.equal({ status: expected.status, reason: expected.reason });
        expect(made).to.include({ reference: body.reference, amount: 1000, currency: 'EUR', refundedAmount: 0 });
        expect(made.bankChargeId).to.match(/^chg_piggy-bank_[0-9a-z]{26}$/);
        expect(made.settledAt !== undefined).to.equal(expected.status !== '200');
        expect(await getCharge(body.reference)).to.deep.equal(made);
      });
    }

    it('any card past its expiry month fails as expired-card', async () => {
      const made = await charge(chargeRequest(TEST_CARDS.succeeds, { card: card(TEST_CARDS.succeeds, { expiryMonth: 1, expiryYear: new Date().getUTCFullYear() - 1 }) }));
      expect(made).to.include({ status: '100', reason: 'expired-card' });
    });

    it('keeps neither the card number nor the CVV: only the last four digits', async () => {
      const body = chargeRequest(TEST_CARDS.succeeds, { card: card('5555555555554444', { cvv: '9173' }) });
      await charge(body);
      const stored = await withMongo((mongo) => mongo.db(bank.dbName).collection('charges').findOne({ _id: `piggy-bank/${body.reference}` as never }));
      expect(stored).to.not.equal(null);
      expect(stored!.card).to.deep.equal({ last4: '4444' });
      const text = JSON.stringify(stored);
      expect(text).to.not.include('5555555555554444');
      expect(text).to.not.include('9173');
      expect(text).to.not.include('Ada Lovelace');
    });

    it('answers the charge already made for a reference sent again, whatever the body', async () => {
      const body = chargeRequest(TEST_CARDS.succeeds);
      const first = await charge(body);
      expect(await charge(body)).to.deep.equal(first);
      const other = await charge({ ...body, card: card(TEST_CARDS.insufficientFunds), amount: 5 });
      expect(other).to.deep.equal(first);
    });

    it('makes one charge for 50 concurrent requests with one reference (two instances of the bank)', async () => {
      const twin = await startBank();
      const twinClient = clientFor(twin);
      const body = chargeRequest(TEST_CARDS.succeeds, { amount: 4321 });
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => charge(body, i % 2 === 0 ? client : twinClient)));
      expect(new Set(answers.map((a) => JSON.stringify(a))).size).to.equal(1);
      const count = await withMongo((mongo) => mongo.db(bank.dbName).collection('charges').countDocuments({ reference: body.reference }));
      expect(count).to.equal(1);
      await twin.stop();
    });

    it('keeps two banks apart: one reference at piggy-bank and at acme-acquiring is two charges', async () => {
      const acme = clientFor(await startBank({ BANK_NAME: 'acme-acquiring' }));
      const body = chargeRequest(TEST_CARDS.succeeds);
      const atPiggy = await charge(body);
      const atAcme = await charge({ ...body, card: card(TEST_CARDS.doNotHonour) }, acme);
      expect(atAcme.bankChargeId).to.match(/^chg_acme-acquiring_/);
      expect(atAcme).to.include({ status: '100', reason: 'do-not-honour' });
      expect(await getCharge(body.reference)).to.deep.equal(atPiggy);
      expect((await acme.GET('/charges/{reference}', { params: { path: { reference: ref() } } })).response.status).to.equal(404);
    });

    it('answers 404 charge-not-found for an unknown reference', async () => {
      const { error, response } = await client.GET('/charges/{reference}', { params: { path: { reference: ref() } } });
      expect(response.status).to.equal(404);
      expect(error!.code).to.equal('charge-not-found');
    });

    it('refuses a callbackUrl that is not http(s) with 400, making no charge', async () => {
      const body = chargeRequest(TEST_CARDS.pending, { callbackUrl: 'mailto:ops@example.com' });
      const { error, response } = await client.POST('/charges', { body });
      expect(response.status).to.equal(400);
      expect(error!.errors?.[0]?.pointer).to.equal('/body/callbackUrl');
      expect((await client.GET('/charges/{reference}', { params: { path: { reference: body.reference } } })).response.status).to.equal(404);
    });
  });

  describe('pending charges', () => {
    it('settle to 0 for an even amount, seen by GET (polled) and by a repeated POST', async () => {
      const body = chargeRequest(TEST_CARDS.pending, { amount: 1000 });
      expect((await charge(body)).status).to.equal('200');
      const settled = await eventually(() => getCharge(body.reference), (c) => c.status !== '200', 'the charge settled', 10_000, 20);
      expect(settled).to.include({ status: '0' });
      expect(settled.reason).to.equal(undefined);
      expect(settled.settledAt).to.be.a('string');
      expect(await charge(body)).to.deep.equal(settled);
    });

    it('settle to 100 insufficient-funds for an odd amount', async () => {
      const body = chargeRequest(TEST_CARDS.pending, { amount: 1001 });
      await charge(body);
      const settled = await eventually(() => getCharge(body.reference), (c) => c.status !== '200', 'the charge settled', 10_000, 20);
      expect(settled).to.include({ status: '100', reason: 'insufficient-funds' });
    });

    it('settle once: concurrent reads after the time agree on one settlement', async () => {
      const body = chargeRequest(TEST_CARDS.pending, { amount: 2000 });
      expect((await charge(body)).status).to.equal('200');
      // Due now (rather than waiting its settlement time out): every read below may settle it.
      await withMongo((mongo) => mongo.db(bank.dbName).collection('charges').updateOne({ _id: `piggy-bank/${body.reference}` as never }, { $set: { settleAt: new Date().toISOString() } }));
      const reads = await Promise.all(Array.from({ length: 20 }, () => getCharge(body.reference)));
      expect(new Set(reads.map((r) => r.settledAt)).size).to.equal(1);
      expect(reads[0]!.status).to.equal('0');
    });

    it('POST the settled charge to the callbackUrl, signed per Standard Webhooks', async () => {
      const receiver = await startReceiver();
      try {
        const body = chargeRequest(TEST_CARDS.pending, { amount: 1000, callbackUrl: receiver.url });
        await charge(body);
        await receiver.waitFor(1);
        const [callback] = receiver.received;
        const verified = new Webhook(WEBHOOK_SECRET).verify(callback!.body, callback!.headers as Record<string, string>);
        expect(callback!.headers['content-type']).to.equal('application/json');
        expect(verified).to.deep.equal(await getCharge(body.reference));
        expect(verified).to.include({ reference: body.reference, status: '0' });
        expect(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(callback!.body, callback!.headers as Record<string, string>)).to.throw();
      } finally {
        await receiver.close();
      }
    });

    it('retry a refused callback with the same webhook-id until it is acknowledged', async () => {
      const receiver = await startReceiver((attempt) => (attempt < 3 ? 503 : 200));
      try {
        const body = chargeRequest(TEST_CARDS.pending, { amount: 1001, callbackUrl: receiver.url });
        await charge(body);
        await receiver.waitFor(3);
        const ids = receiver.received.map((r) => r.headers['webhook-id']);
        expect(new Set(ids).size).to.equal(1);
        const verified = new Webhook(WEBHOOK_SECRET).verify(receiver.received[2]!.body, receiver.received[2]!.headers as Record<string, string>);
        expect(verified).to.include({ status: '100', reason: 'insufficient-funds' });
        const key = `piggy-bank/${body.reference}`;
        await eventually(() => withMongo((mongo) => mongo.db(bank.dbName).collection('callbacks_pending_piggy_bank').countDocuments({ _id: key as never })), (n) => n === 0, 'the callback acknowledged', 10_000, 20);
      } finally {
        await receiver.close();
      }
    });

    it('deliver a callback a stop left undelivered from another instance (the reconciler)', async () => {
      const receiver = await startReceiver();
      try {
        const first = await startBank({ BANK_SETTLE_AFTER_MS: '60000' });
        const body = chargeRequest(TEST_CARDS.pending, { amount: 1000, callbackUrl: receiver.url });
        await charge(body, clientFor(first));
        await first.stop(); // its timer dies with it
        // It was not due for a minute: bring its time forward (a reconciler leaves a charge not due
        // pending, and holds it for its lease period), then start another instance of the bank.
        await withMongo((mongo) =>
          mongo.db(bank.dbName).collection('charges').updateOne({ _id: `piggy-bank/${body.reference}` as never }, { $set: { settleAt: new Date().toISOString() } }),
        );
        const next = await startBank({ BANK_SETTLE_AFTER_MS: '60000', RECONCILE_AFTER_MS: '1', RECONCILE_INTERVAL_MS: '100' });
        await receiver.waitFor(1);
        const verified = new Webhook(WEBHOOK_SECRET).verify(receiver.received[0]!.body, receiver.received[0]!.headers as Record<string, string>);
        expect(verified).to.deep.equal(await getCharge(body.reference, clientFor(next)));
        await next.stop();
      } finally {
        await receiver.close();
      }
    });
  });

  describe('the card that times out', () => {
    it('is charged although the caller gave up: GET and a repeated POST answer succeeded at once', async () => {
      const body = chargeRequest(TEST_CARDS.timesOut);
      let gaveUp: unknown;
      await client.POST('/charges', { body, signal: AbortSignal.timeout(300) }).catch((err: unknown) => (gaveUp = err));
      expect((gaveUp as Error | undefined)?.name).to.equal('TimeoutError');
      expect(await getCharge(body.reference)).to.include({ status: '0' });
      const started = Date.now();
      expect(await charge(body)).to.include({ status: '0' });
      expect(Date.now() - started).to.be.lessThan(1_000);
    });

    it('answers the first request only after BANK_TIMEOUT_CARD_DELAY_MS', async () => {
      const started = Date.now();
      expect(await charge(chargeRequest(TEST_CARDS.timesOut))).to.include({ status: '0' });
      expect(Date.now() - started).to.be.at.least(1_400);
    });
  });

  describe('refunds', () => {
    it('refunds partly, then fully; refuses more; shows refundedAmount on the charge', async () => {
      const { reference } = await charge(chargeRequest(TEST_CARDS.succeeds, { amount: 100 }));
      expect(await refund(reference, 30)).to.include({ status: '0', amount: 30, chargeReference: reference });
      expect((await getCharge(reference)).refundedAmount).to.equal(30);
      expect(await refund(reference, 70)).to.include({ status: '0', amount: 70 });
      expect((await getCharge(reference)).refundedAmount).to.equal(100);
      expect(await refund(reference, 1)).to.include({ status: '100', reason: 'refund-exceeds-charge' });
      expect((await getCharge(reference)).refundedAmount).to.equal(100);
    });

    it('refuses a single refund larger than the charge', async () => {
      const { reference } = await charge(chargeRequest(TEST_CARDS.succeeds, { amount: 100 }));
      expect(await refund(reference, 101)).to.include({ status: '100', reason: 'refund-exceeds-charge' });
    });

    it('is idempotent on the refund reference: the first answer again, refunding once', async () => {
      const { reference } = await charge(chargeRequest(TEST_CARDS.succeeds, { amount: 100 }));
      const refundReference = ref('rfd');
      const first = await refund(reference, 40, refundReference);
      expect(await refund(reference, 40, refundReference)).to.deep.equal(first);
      expect(await refund(reference, 99, refundReference)).to.deep.equal(first);
      expect((await getCharge(reference)).refundedAmount).to.equal(40);
    });

    it('refunds once for 10 concurrent requests with one refund reference', async () => {
      const { reference } = await charge(chargeRequest(TEST_CARDS.succeeds, { amount: 100 }));
      const refundReference = ref('rfd');
      const answers = await Promise.all(Array.from({ length: 10 }, () => refund(reference, 30, refundReference)));
      expect(new Set(answers.map((a) => JSON.stringify(a))).size).to.equal(1);
      expect((await getCharge(reference)).refundedAmount).to.equal(30);
    });

    it('lets exactly 3 of 10 concurrent refunds of 30 through against a charge of 100 (two instances)', async () => {
      const twin = clientFor(await startBank());
      const { reference } = await charge(chargeRequest(TEST_CARDS.succeeds, { amount: 100 }));
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => refund(reference, 30, ref('rfd'), i % 2 === 0 ? client : twin)));
      expect(answers.filter((a) => a.status === '0')).to.have.length(3);
      expect(answers.filter((a) => a.status === '100' && a.reason === 'refund-exceeds-charge')).to.have.length(7);
      expect((await getCharge(reference)).refundedAmount).to.equal(90);
    });

    it('refuses refunds of a failed or pending charge (charge-not-refundable) and of an unknown one (404)', async () => {
      const failed = await charge(chargeRequest(TEST_CARDS.doNotHonour));
      expect(await refund(failed.reference, 10)).to.include({ status: '100', reason: 'charge-not-refundable' });
      const pending = await charge(chargeRequest(TEST_CARDS.pending, { amount: 1000 }));
      expect(await refund(pending.reference, 10)).to.include({ status: '100', reason: 'charge-not-refundable' });
      const { error, response } = await client.POST('/charges/{reference}/refunds', { params: { path: { reference: ref() } }, body: { reference: ref('rfd'), amount: 1 } });
      expect(response.status).to.equal(404);
      expect(error!.code).to.equal('charge-not-found');
    });

    it('keeps a refund reference to the charge it was first sent for', async () => {
      const a = await charge(chargeRequest(TEST_CARDS.succeeds, { amount: 100 }));
      const b = await charge(chargeRequest(TEST_CARDS.succeeds, { amount: 100 }));
      const refundReference = ref('rfd');
      const first = await refund(a.reference, 10, refundReference);
      expect(await refund(b.reference, 10, refundReference)).to.deep.equal(first);
      expect((await getCharge(b.reference)).refundedAmount).to.equal(0);
    });
  });

  describe('direct debits', () => {
    const today = () => utcDate(new Date());
    const cases: [string, Parameters<typeof debitRequest>[0], Pick<Schemas['DirectDebit'], 'status' | 'reason'>][] = [
      ['succeeds for a mandate signed before today', {}, { status: '0' }],
      ['succeeds for a mandate signed today and expiring today', { signedOn: today(), expiresOn: today() }, { status: '0' }],
      ['fails mandate-invalid for a mandate signed tomorrow', { signedOn: utcDate(new Date(Date.now() + DAY_MS)) }, { status: '100', reason: 'mandate-invalid' }],
      ['fails mandate-invalid for a mandate that expired yesterday', { expiresOn: utcDate(new Date(Date.now() - DAY_MS)) }, { status: '100', reason: 'mandate-invalid' }],
      ['fails mandate-invalid for an IBAN with wrong check digits', { iban: 'FR7730006000011234567890189' }, { status: '100', reason: 'mandate-invalid' }],
      [`fails insufficient-funds for ${INSUFFICIENT_FUNDS_IBAN}`, { iban: INSUFFICIENT_FUNDS_IBAN }, { status: '100', reason: 'insufficient-funds' }],
    ];
    for (const [what, mandate, expected] of cases) {
      it(`${what}, and GET answers the same`, async () => {
        const body = debitRequest(mandate);
        const { data, response } = await client.POST('/direct-debits', { body });
        expect(response.status).to.equal(200);
        expect({ status: data!.status, reason: data!.reason }).to.deep.equal({ status: expected.status, reason: expected.reason });
        expect(data).to.include({ reference: body.reference, amount: 2500, currency: 'EUR' });
        const read = await client.GET('/direct-debits/{reference}', { params: { path: { reference: body.reference } } });
        expect(read.data).to.deep.equal(data);
      });
    }

    it('is idempotent on the reference, and answers 404 direct-debit-not-found for an unknown one', async () => {
      const body = debitRequest();
      const answers = await Promise.all(Array.from({ length: 10 }, () => client.POST('/direct-debits', { body })));
      expect(new Set(answers.map((a) => JSON.stringify(a.data))).size).to.equal(1);
      const other = await client.POST('/direct-debits', { body: { ...body, mandate: { ...body.mandate, iban: INSUFFICIENT_FUNDS_IBAN } } });
      expect(other.data).to.deep.equal(answers[0]!.data);
      const { error, response } = await client.GET('/direct-debits/{reference}', { params: { path: { reference: ref('dd') } } });
      expect(response.status).to.equal(404);
      expect(error!.code).to.equal('direct-debit-not-found');
    });
  });

  describe('failure injection', () => {
    it('BANK_FAILURE_MODE=unavailable at rate 1: every request answers 503 problem+json, and nothing is charged', async () => {
      const down = clientFor(await startBank({ BANK_FAILURE_RATE: '1', BANK_FAILURE_MODE: 'unavailable' }));
      const body = chargeRequest(TEST_CARDS.succeeds);
      const { error, response } = await down.POST('/charges', { body });
      expect(response.status).to.equal(503);
      expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(error!.code).to.equal('bank-unavailable');
      expect((await down.GET('/charges/{reference}', { params: { path: { reference: body.reference } } })).response.status).to.equal(503);
      expect((await client.GET('/charges/{reference}', { params: { path: { reference: body.reference } } })).response.status).to.equal(404);
    });

    it('BANK_FAILURE_MODE=garbage at rate 1: a 200 whose body is not JSON, which the generated client cannot read', async () => {
      const garbage = await startBank({ BANK_FAILURE_RATE: '1', BANK_FAILURE_MODE: 'garbage' });
      const body = chargeRequest(TEST_CARDS.succeeds);
      const raw = await fetch(`${garbage.url}/charges`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, body: JSON.stringify(body) });
      expect(raw.status).to.equal(200);
      const text = await raw.text();
      expect(text).to.equal(GARBAGE_BODY);
      expect(() => JSON.parse(text)).to.throw(SyntaxError);
      const plain = createAcquiringBankClient({ baseUrl: garbage.url, headers: { 'x-api-key': API_KEY } });
      let thrown: unknown;
      await plain.POST('/charges', { body }).catch((err: unknown) => (thrown = err));
      expect(thrown).to.be.instanceOf(SyntaxError);
      expect((await client.GET('/charges/{reference}', { params: { path: { reference: body.reference } } })).response.status).to.equal(404);
    });

    it('BANK_LATENCY_MS delays every answer of the API (not health)', async () => {
      const slow = await startBank({ BANK_LATENCY_MS: '300' });
      const started = Date.now();
      expect((await clientFor(slow).GET('/charges/{reference}', { params: { path: { reference: ref() } } })).response.status).to.equal(404);
      expect(Date.now() - started).to.be.at.least(290);
      const health = Date.now();
      expect((await fetch(`${slow.url}/health/live`)).status).to.equal(200);
      expect(Date.now() - health).to.be.lessThan(290);
    });
  });

  describe('security', () => {
    it('answers 401 problem+json without X-Api-Key, with a key it did not issue, and with only a bearer token', async () => {
      const body = chargeRequest(TEST_CARDS.succeeds);
      const none = await clientFor(bank, null).POST('/charges', { body });
      expect(none.response.status).to.equal(401);
      expect(none.error!.code).to.equal('api-key-required');
      expect(none.response.headers.get('www-authenticate')).to.include('X-Api-Key');
      const wrong = await clientFor(bank, 'not-a-key-of-this-bank').POST('/charges', { body });
      expect(wrong.response.status).to.equal(401);
      expect(wrong.error!.code).to.equal('invalid-api-key');
      const bearer = createAcquiringBankClient({ baseUrl: bank.url, token: await issuer.sign('op', { roles: ['operator'] }), middleware: checked() });
      expect((await bearer.GET('/charges/{reference}', { params: { path: { reference: body.reference } } })).response.status).to.equal(401);
      expect((await client.GET('/charges/{reference}', { params: { path: { reference: body.reference } } })).response.status).to.equal(404);
    });

    it('accepts every key of BANK_API_KEYS', async () => {
      expect((await charge(chargeRequest(TEST_CARDS.succeeds), clientFor(bank, OTHER_KEY))).status).to.equal('0');
    });
  });

  describe('data access', () => {
    it('reads and writes by _id alone on every route (FerretDB answers nothing else from an index)', async () => {
      const seen: { collection: string; filter: Document }[] = [];
      const dbName = `${bank.dbName}_watched`;
      const watch = (event: CommandStartedEvent) => {
        if (event.databaseName !== dbName || !['find', 'update', 'delete', 'findAndModify'].includes(event.commandName)) return;
        const command = event.command;
        const filters: Document[] =
          event.commandName === 'find'
            ? [command.filter ?? {}]
            : event.commandName === 'findAndModify'
              ? [command.query ?? {}]
              : ((command.updates ?? command.deletes) as { q: Document }[]).map((u) => u.q);
        for (const filter of filters) seen.push({ collection: String(command[event.commandName]), filter });
      };
      commandWatchers.add(watch);
      const watched = await startBank({ MONGO_DB: dbName });
      const receiver = await startReceiver();
      try {
        const on = clientFor(watched);
        const made = await charge(chargeRequest(TEST_CARDS.succeeds, { amount: 100 }), on);
        await charge(chargeRequest(TEST_CARDS.succeeds, { reference: made.reference }), on);
        await refund(made.reference, 30, ref('rfd'), on);
        await getCharge(made.reference, on);
        const pending = chargeRequest(TEST_CARDS.pending, { callbackUrl: receiver.url });
        await charge(pending, on);
        await eventually(() => getCharge(pending.reference, on), (c) => c.status !== '200', 'the charge settled', 10_000, 20);
        await receiver.waitFor(1);
        await on.POST('/direct-debits', { body: debitRequest() });
        await on.GET('/direct-debits/{reference}', { params: { path: { reference: ref('dd') } } });
        // The reconciler's read of the pending set and its lease purge are batch work, not a request's.
        const batch = new Set(['callbacks_pending_piggy_bank', 'reconciler_leases', 'outbox']);
        const offending = seen.filter(({ collection, filter }) => !batch.has(collection) && !(Object.keys(filter).length === 1 && typeof filter._id === 'string'));
        expect(offending).to.deep.equal([]);
        expect(seen.length).to.be.greaterThan(10);
      } finally {
        commandWatchers.delete(watch);
        await receiver.close();
        await watched.stop();
        await watched.drop();
      }
    });
  });

  describe('contract', () => {
    it('answers every schema-derived invalid request with a 4xx problem+json, never a 5xx', async () => {
      const made = await charge(chargeRequest(TEST_CARDS.succeeds, { amount: 100 }));
      const headers = { 'x-api-key': API_KEY };
      const valid: Record<string, Parameters<typeof runInvalidRequests>[0]['valid']> = {
        createCharge: { headers, body: { ...chargeRequest(TEST_CARDS.succeeds), description: 'x', callbackUrl: 'http://127.0.0.1:9/cb' } },
        getCharge: { headers, path: { reference: made.reference } },
        refundCharge: { headers, path: { reference: made.reference }, body: { reference: ref('rfd'), amount: 1 } },
        createDirectDebit: { headers, body: debitRequest({ expiresOn: '2099-12-31' }, { description: 'x' }) },
        getDirectDebit: { headers, path: { reference: ref('dd') } },
      };
      let cases = 0;
      const failures: string[] = [];
      for (const [operationId, request] of Object.entries(valid)) {
        const result = await runInvalidRequests({
          api: 'acquiring-bank',
          baseUrl: bank.url,
          spec: spec as OpenApiSpec,
          operationId,
          valid: request,
          tokens: { valid: 'unused', forged: 'unused' },
        });
        cases += result.cases;
        failures.push(...result.failures);
      }
      console.log(`      acquiring-bank API: ${cases} schema-derived invalid requests, ${failures.length} failures`);
      expect(failures).to.deep.equal([]);
      expect(cases).to.be.greaterThan(60);
      expect((await getCharge(made.reference)).refundedAmount).to.equal(0);
    });

    it('has exercised every operation of the spec with a success status', function () {
      skipUnlessWholeFileRuns(this);
      const api = getCoverageSummary().apis.find((a) => a.api === 'acquiring-bank');
      expect(api, 'coverage for the acquiring-bank API').to.not.equal(undefined);
      const missing = api!.operations.filter((op) => !op.statuses.some((s) => s.exercised && s.key.startsWith('2'))).map((op) => op.operationId);
      expect(missing).to.deep.equal([]);
    });
  });
});
