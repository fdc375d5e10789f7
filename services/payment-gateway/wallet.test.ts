// The wallet end to end: the real payment gateway on FerretDB/MongoDB and RabbitMQ, users signed
// up through /auth/sign-up, every call through the generated client with its responses checked
// against specs/payment-gateway.yaml. Access tokens are signed here with the key the service is
// given as SIGNING_KEY (tokens.ts signWith, same kid), so the service verifies them as its own.
import { spawn } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Db } from 'mongodb';
import { type CryptoKey, exportJWK, generateKeyPair } from 'jose';
import { type PaymentGatewayClient, createPaymentGatewayClient } from '../../generated/payment-gateway/client.js';
import type { Schemas } from '../../generated/payment-gateway/delegate.js';
import spec from '../../generated/payment-gateway/spec.json' with { type: 'json' };
import { type OpenApiSpec, createContractCheckingMiddleware, getCoverageSummary, runInvalidRequests, skipUnlessWholeFileRuns } from '../../tools/contract-testing/index.js';
import { MONGO_URL, type TestService, startTestService, withMongo } from '../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer, forgedToken, signWith } from '../../tools/testing/tokens.js';
import type { Role } from '../common/http/context.js';
import type { CloudEvent } from '../common/events/cloud-event.js';
import { type EventProbe, startEventProbe } from '../../tools/testing/event-probe.js';
import { idForIdempotencyKey, newId, requestHash } from '../common/ids.js';
import { pino } from 'pino';
import { commandIdFor } from '../common/data/idempotency.js';
import { Reconciler } from '../common/data/reconciler.js';
import { Outbox } from '../common/events/outbox.js';
import { paymentGatewayService } from './main.js';
import { type TransferRecord, WalletRepository } from './wallet/wallet-repository.js';

const KID = 'wallet-test-key';
const CURRENCY = 'EUR';
const OPERATOR_EMAIL = `wallet-operator-${randomUUID().slice(0, 8)}@example.com`;
const TRANSFER_AND_DIE = fileURLToPath(new URL('./wallet/test-support/transfer-and-die.ts', import.meta.url));

interface TestUser {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  token: string;
}

/** A wallet repository on the service's database, as main.ts builds it (its outbox holds pending transfers). */
function walletsOn(db: Db): WalletRepository {
  const outbox = new Outbox(db);
  const wallets = new WalletRepository(db, outbox);
  outbox.register(wallets.outboxSources());
  return wallets;
}

describe('Wallet API (integration)', function () {
  this.timeout(60_000);
  let issuer: TokenIssuer;
  let signingKey: CryptoKey;
  let svc: TestService;
  let env: Record<string, string>;
  /** Every top-up this file made that answered 201 (first time), per user: the money that exists. */
  const toppedUp = new Map<string, number>();

  const checked = () => [createContractCheckingMiddleware({ api: 'payment-gateway', spec: spec as OpenApiSpec })];
  const clientFor = (token?: string): PaymentGatewayClient =>
    createPaymentGatewayClient({ baseUrl: svc.url, ...(token !== undefined ? { token } : {}), middleware: checked() });
  const as = (user: TestUser) => clientFor(user.token);
  const tokenFor = (subject: string, roles: Role[]) => signWith(signingKey, KID, subject, { roles });

  before(async () => {
    issuer = await createTokenIssuer();
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    signingKey = privateKey;
    env = {
      SIGNING_KEY: JSON.stringify({ ...(await exportJWK(privateKey)), kid: KID, alg: 'ES256' }),
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '1',
      // Operators have no wallet: paying one is paying nobody.
      OPERATOR_EMAIL: OPERATOR_EMAIL,
      OPERATOR_PASSWORD: 'operator password for tests',
      // The crash-recovery test runs its own reconciler with an injected clock.
      RECONCILE_AFTER_MS: String(3_600_000),
      // Every user signs up from 127.0.0.1: one client, past the production limit of sign-ups.
      SIGN_UP_MAX_PER_CLIENT: '1000',
    };
    svc = await startTestService(paymentGatewayService, issuer, env);
  });

  after(async () => {
    await svc?.stop();
    await svc?.drop();
  });

  let userCount = 0;
  async function signUp(role: 'customer' | 'merchant' = 'customer', firstName = 'Ada'): Promise<TestUser> {
    userCount++;
    const lastName = `Tester${userCount}`;
    const email = `wallet-${userCount}-${randomUUID().slice(0, 8)}@example.com`;
    const { data, response } = await clientFor().POST('/auth/sign-up', {
      body: {
        email,
        password: 'correct horse battery staple',
        firstName,
        lastName,
        phone: `+4477${randomInt(10_000_000, 99_999_999)}`,
        role,
        ...(role === 'merchant' ? { business: { name: `${firstName} Ltd`, acquiringBank: 'piggy-bank' as const } } : {}),
      },
    });
    expect(response.status, 'sign-up').to.equal(201);
    return { id: data!.id, email, firstName, lastName, token: await tokenFor(data!.id, [role]) };
  }

  async function topUp(user: TestUser, amount: number, key = randomUUID()) {
    const { data, response } = await as(user).POST('/wallet/top-ups', { params: { header: { 'Idempotency-Key': key } }, body: { amount, currency: CURRENCY } });
    expect(response.status, 'top-up').to.equal(201);
    return data!;
  }

  function transfer(user: TestUser, to: string, amount: number, key = randomUUID(), extra: { note?: string; currency?: string } = {}) {
    return as(user).POST('/wallet/transfers', {
      params: { header: { 'Idempotency-Key': key } },
      body: { toEmail: to, amount, currency: extra.currency ?? CURRENCY, ...(extra.note !== undefined ? { note: extra.note } : {}) },
    });
  }

  async function balanceOf(user: TestUser): Promise<number> {
    const { data, response } = await as(user).GET('/wallet', {});
    expect(response.status).to.equal(200);
    // No currency until the wallet's first top-up (or first transfer to it); then the one it holds.
    if (data!.currency !== undefined) expect(data!.currency).to.equal(CURRENCY);
    else expect(data!.balance).to.equal(0);
    return data!.balance;
  }

  /** Every transaction of a user, following the cursor with pages of `limit`. */
  async function allTransactions(user: TestUser, query: { type?: Schemas['TransactionType']; from?: string; to?: string } = {}, limit = 100) {
    const seen: Schemas['Transaction'][] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1_000; page++) {
      const { data, response } = await as(user).GET('/wallet/transactions', { params: { query: { ...query, limit, ...(cursor ? { cursor } : {}) } } });
      expect(response.status).to.equal(200);
      seen.push(...data!.data);
      expect(data!.hasMore).to.equal(data!.nextCursor !== undefined);
      cursor = data!.nextCursor;
      if (!cursor) return seen;
    }
    throw new Error('too many pages');
  }

  /** Money conservation: what a set of users hold equals what they topped up (money moved only between them). */
  async function expectConserved(users: TestUser[]) {
    const balances = await Promise.all(users.map(balanceOf));
    const total = balances.reduce((a, b) => a + b, 0);
    const funded = users.reduce((sum, u) => sum + (toppedUp.get(u.id) ?? 0), 0);
    expect(total, `sum of balances ${balances.join('+')} vs top-ups`).to.equal(funded);
    return balances;
  }

  async function fund(user: TestUser, amount: number) {
    const created = await topUp(user, amount);
    toppedUp.set(user.id, (toppedUp.get(user.id) ?? 0) + amount);
    return created;
  }

  describe('balance and top-ups', () => {
    it('starts at 0, adds top-ups with the balance after each, and shows the latest at /wallet', async () => {
      const ada = await signUp();
      expect(await balanceOf(ada)).to.equal(0);
      const first = await fund(ada, 1_250);
      expect(first).to.include({ type: 'top-up', amount: 1_250, currency: CURRENCY, balanceAfter: 1_250 });
      expect(first.id).to.match(/^txn_[0-9a-z]{26}$/);
      expect(first.counterparty).to.equal(undefined);
      const second = await fund(ada, 50);
      expect(second.balanceAfter).to.equal(1_300);
      const { data } = await as(ada).GET('/wallet', {});
      expect(data).to.deep.equal({ currency: CURRENCY, balance: 1_300, updatedAt: second.createdAt });
    });

    it('replays a top-up for the same Idempotency-Key and body, refuses another body with 409, and credits once', async () => {
      const ada = await signUp();
      const key = randomUUID();
      const first = await fund(ada, 700);
      const keyed = await topUp(ada, 300, key);
      toppedUp.set(ada.id, (toppedUp.get(ada.id) ?? 0) + 300);
      const again = await topUp(ada, 300, key);
      expect(again).to.deep.equal(keyed);
      const other = await as(ada).POST('/wallet/top-ups', { params: { header: { 'Idempotency-Key': key } }, body: { amount: 301, currency: CURRENCY } });
      expect(other.response.status).to.equal(409);
      expect(other.error!.code).to.equal('idempotency-key-reused');
      // The key is the caller's: another user with the same key tops up its own wallet.
      const bob = await signUp();
      const bobs = await topUp(bob, 300, key);
      toppedUp.set(bob.id, 300);
      expect(bobs.id).not.to.equal(keyed.id);
      expect(await balanceOf(ada)).to.equal(first.amount + 300);
      expect(await balanceOf(bob)).to.equal(300);
    });

    it('takes its currency from the first top-up and refuses one in another currency with 422 currency-mismatch; an unknown code is 422 unknown-currency', async () => {
      const ada = await signUp();
      const before = await as(ada).GET('/wallet', {});
      expect(before.data).to.deep.equal({ balance: 0 });
      const topUp = (currency: string) => as(ada).POST('/wallet/top-ups', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { amount: 100, currency } });
      const unknown = await topUp('XYZ');
      expect(unknown.response.status).to.equal(422);
      expect(unknown.error!.code).to.equal('unknown-currency');
      expect((await topUp('USD')).response.status).to.equal(201);
      expect((await as(ada).GET('/wallet', {})).data).to.include({ currency: 'USD', balance: 100 });
      const other = await topUp('EUR');
      expect(other.response.status).to.equal(422);
      expect(other.error!.code).to.equal('currency-mismatch');
      expect(other.error!.detail).to.equal('This wallet holds USD, not EUR.');
      expect((await as(ada).GET('/wallet', {})).data).to.include({ currency: 'USD', balance: 100 });
    });

    it('refuses a transfer between wallets of two currencies, before any money moves; an empty wallet takes the transfer\'s currency', async () => {
      const ada = await signUp();
      const bob = await signUp();
      const carol = await signUp();
      await fund(ada, 500);
      const usd = await as(bob).POST('/wallet/top-ups', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { amount: 100, currency: 'USD' } });
      expect(usd.response.status).to.equal(201);
      const toUsd = await transfer(ada, bob.email, 50);
      expect(toUsd.response.status).to.equal(422);
      expect(toUsd.error!.code).to.equal('currency-mismatch');
      const wrongSide = await transfer(ada, carol.email, 50, randomUUID(), { currency: 'USD' });
      expect(wrongSide.error!.code).to.equal('currency-mismatch');
      expect(await balanceOf(ada)).to.equal(500);
      // Carol never topped up: her wallet takes EUR with the money.
      expect((await transfer(ada, carol.email, 50)).response.status).to.equal(201);
      expect((await as(carol).GET('/wallet', {})).data).to.include({ currency: CURRENCY, balance: 50 });
    });

    it('refuses every wallet operation to a valid token whose account does not exist, with 403 no-wallet', async () => {
      const ghost = clientFor(await tokenFor(newId('usr'), ['customer']));
      const calls = [
        () => ghost.GET('/wallet', {}),
        () => ghost.POST('/wallet/top-ups', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { amount: 1, currency: CURRENCY } }),
        () => ghost.POST('/wallet/transfers', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { toEmail: 'nobody@example.com', amount: 1, currency: CURRENCY } }),
        () => ghost.GET('/wallet/transactions', {}),
      ];
      for (const call of calls) {
        const { response, error } = await call();
        expect(response.status).to.equal(403);
        expect(error!.code).to.equal('no-wallet');
      }
    });
  });

  describe('transfers', () => {
    it('pays another user by e-mail: both sides see it with the counterparty, the note and the balance after', async () => {
      const ada = await signUp('customer', 'Ada');
      const bob = await signUp('merchant', 'Bob');
      await fund(ada, 1_000);
      const { data, response } = await transfer(ada, bob.email.toUpperCase(), 300, randomUUID(), { note: 'lunch' });
      expect(response.status).to.equal(201);
      expect(data).to.deep.include({ type: 'transfer-out', amount: 300, currency: CURRENCY, balanceAfter: 700, note: 'lunch' });
      expect(data!.counterparty).to.deep.equal({ email: bob.email, name: `Bob ${bob.lastName}` });
      expect(data!.transferId).to.match(/^trf_/);

      expect(await balanceOf(ada)).to.equal(700);
      expect(await balanceOf(bob)).to.equal(300);
      const [received] = await allTransactions(bob);
      expect(received).to.deep.include({ type: 'transfer-in', amount: 300, balanceAfter: 300, transferId: data!.transferId, note: 'lunch' });
      expect(received!.counterparty).to.deep.equal({ email: ada.email, name: `Ada ${ada.lastName}` });
      expect(received!.id).not.to.equal(data!.id);
      const [sent] = await allTransactions(ada);
      expect(sent).to.deep.equal(data);
      await expectConserved([ada, bob]);
    });

    it('refuses with 422 and a code: self-transfer, unknown-recipient, insufficient-funds, currency-mismatch — moving nothing', async () => {
      const ada = await signUp();
      const bob = await signUp();
      await fund(ada, 100);
      const cases: [string, () => ReturnType<typeof transfer>, string][] = [
        ['to itself', () => transfer(ada, ada.email, 10), 'self-transfer'],
        ['to itself, e-mail in capitals', () => transfer(ada, ada.email.toUpperCase(), 10), 'self-transfer'],
        ['to nobody', () => transfer(ada, `nobody-${randomUUID()}@example.com`, 10), 'unknown-recipient'],
        ['to an operator (who has no wallet)', () => transfer(ada, OPERATOR_EMAIL, 10), 'unknown-recipient'],
        ['over the balance', () => transfer(ada, bob.email, 101), 'insufficient-funds'],
        ['in another currency', () => transfer(ada, bob.email, 10, randomUUID(), { currency: 'GBP' }), 'currency-mismatch'],
      ];
      for (const [what, call, code] of cases) {
        const { response, error } = await call();
        expect(response.status, what).to.equal(422);
        expect(error!.code, what).to.equal(code);
      }
      expect(await balanceOf(ada)).to.equal(100);
      expect(await balanceOf(bob)).to.equal(0);
      expect((await allTransactions(ada)).map((t) => t.type)).to.deep.equal(['top-up']);
      // Exactly the balance is fine.
      expect((await transfer(ada, bob.email, 100)).response.status).to.equal(201);
      expect(await balanceOf(ada)).to.equal(0);
    });

    it('replays a transfer for the same key and body (201, the first answer), refuses another body with 409, and moves money once', async () => {
      const ada = await signUp();
      const bob = await signUp();
      const carol = await signUp();
      await fund(ada, 500);
      const key = randomUUID();
      const first = await transfer(ada, bob.email, 200, key, { note: 'rent' });
      expect(first.response.status).to.equal(201);
      // Money arriving meanwhile does not change the replayed answer.
      await fund(ada, 1);
      const again = await transfer(ada, bob.email, 200, key, { note: 'rent' });
      expect(again.response.status).to.equal(201);
      expect(again.data).to.deep.equal(first.data);
      for (const other of [() => transfer(ada, bob.email, 201, key, { note: 'rent' }), () => transfer(ada, carol.email, 200, key, { note: 'rent' }), () => transfer(ada, bob.email, 200, key)]) {
        const { response, error } = await other();
        expect(response.status).to.equal(409);
        expect(error!.code).to.equal('idempotency-key-reused');
      }
      expect(await balanceOf(ada)).to.equal(301);
      expect(await balanceOf(bob)).to.equal(200);
      expect(await balanceOf(carol)).to.equal(0);
    });

    it('answers a refused transfer\'s key with the same refusal, even once the money is there', async () => {
      const ada = await signUp();
      const bob = await signUp();
      const key = randomUUID();
      const first = await transfer(ada, bob.email, 50, key);
      expect(first.error!.code).to.equal('insufficient-funds');
      await fund(ada, 100);
      const again = await transfer(ada, bob.email, 50, key);
      expect(again.response.status).to.equal(422);
      expect(again.error!.code).to.equal('insufficient-funds');
      expect(await balanceOf(ada)).to.equal(100);
      // A new key goes through.
      expect((await transfer(ada, bob.email, 50)).response.status).to.equal(201);
    });

    it('does not trust a wrong head copy: the ledger decides (a stale or corrupted copy is read past)', async () => {
      const ada = await signUp();
      const bob = await signUp();
      await fund(ada, 100);
      await fund(ada, 20);
      // The head copy claims ada's latest entry is her first, with 1,000,000 after it.
      await withMongo(async (client) => {
        const heads = client.db(svc.dbName).collection<{ _id: string }>('wallet_ledger_heads');
        const result = await heads.updateOne({ _id: ada.id }, { $set: { seq: 1, 'entry.seq': 1, 'entry.balanceAfter': 1_000_000 } });
        expect(result.matchedCount).to.equal(1);
      });
      expect(await balanceOf(ada)).to.equal(120);
      const over = await transfer(ada, bob.email, 500);
      expect(over.error?.code).to.equal('insufficient-funds');
      const ok = await transfer(ada, bob.email, 70);
      expect(ok.response.status).to.equal(201);
      expect(ok.data!.balanceAfter).to.equal(50);
      expect(await balanceOf(ada)).to.equal(50);
      await expectConserved([ada, bob]);
    });
  });

  describe('transactions', () => {
    let ada: TestUser;
    let bob: TestUser;
    let created: Schemas['Transaction'][];

    before(async () => {
      ada = await signUp();
      bob = await signUp();
      created = [];
      // Distinct milliseconds, so date bounds can fall between any two: before the next one, the
      // clock (the service runs in this process) has passed the last one's time.
      const pastTheLast = async () => {
        const last = Date.parse(created.at(-1)!.createdAt);
        const deadline = Date.now() + 1_000;
        while (Date.now() <= last) {
          if (Date.now() > deadline) throw new Error(`the clock never passed ${created.at(-1)!.createdAt}`);
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      for (let i = 1; i <= 5; i++) {
        created.push(await fund(ada, i * 100));
        await pastTheLast();
      }
      const out = await transfer(ada, bob.email, 150);
      created.push(out.data!);
      await pastTheLast();
      await fund(bob, 40);
      const back = await transfer(bob, ada.email, 40);
      expect(back.response.status).to.equal(201);
      created.push((await allTransactions(ada))[0]!);
      await pastTheLast();
      created.push(await fund(ada, 1));
    });

    it('lists newest first with cursor pages of any size, with no gaps or repeats', async () => {
      const expected = [...created].reverse();
      expect(expected.map((t) => t.type)).to.deep.equal(['top-up', 'transfer-in', 'transfer-out', 'top-up', 'top-up', 'top-up', 'top-up', 'top-up']);
      for (const limit of [1, 3, 8, 20]) {
        const pages: number[] = [];
        const seen: Schemas['Transaction'][] = [];
        let cursor: string | undefined;
        do {
          const { data } = await as(ada).GET('/wallet/transactions', { params: { query: { limit, ...(cursor ? { cursor } : {}) } } });
          pages.push(data!.data.length);
          seen.push(...data!.data);
          cursor = data!.nextCursor;
        } while (cursor);
        expect(seen, `limit ${limit}`).to.deep.equal(expected);
        expect(pages.length, `pages at limit ${limit}`).to.equal(Math.max(1, Math.ceil(expected.length / limit)));
      }
      // The balance after each is the running balance.
      const running = created.map((t) => t.balanceAfter);
      expect(running).to.deep.equal([100, 300, 600, 1_000, 1_500, 1_350, 1_390, 1_391]);
      expect(await balanceOf(ada)).to.equal(1_391);
    });

    it('filters by type', async () => {
      expect((await allTransactions(ada, { type: 'top-up' }, 2)).map((t) => t.amount)).to.deep.equal([1, 500, 400, 300, 200, 100]);
      expect((await allTransactions(ada, { type: 'transfer-out' })).map((t) => [t.amount, t.counterparty?.email])).to.deep.equal([[150, bob.email]]);
      expect((await allTransactions(ada, { type: 'transfer-in' })).map((t) => [t.amount, t.counterparty?.email])).to.deep.equal([[40, bob.email]]);
      expect((await allTransactions(bob, { type: 'top-up' })).map((t) => t.amount)).to.deep.equal([40]);
    });

    it('filters by date: from inclusive, to exclusive, also in another time zone notation, combined with type and pages', async () => {
      const at = (i: number) => created[i]!.createdAt;
      const between = await allTransactions(ada, { from: at(1), to: at(4) }, 2);
      expect(between.map((t) => t.id)).to.deep.equal([created[3]!.id, created[2]!.id, created[1]!.id]);
      // The same instant written with an offset.
      const offset = (iso: string) => {
        const d = new Date(new Date(iso).getTime() + 2 * 3600_000).toISOString();
        return `${d.slice(0, 23)}+02:00`;
      };
      const shifted = await allTransactions(ada, { from: offset(at(1)), to: offset(at(4)) });
      expect(shifted.map((t) => t.id)).to.deep.equal(between.map((t) => t.id));
      expect((await allTransactions(ada, { from: at(5) })).map((t) => t.type)).to.deep.equal(['top-up', 'transfer-in', 'transfer-out']);
      expect((await allTransactions(ada, { to: at(0) }))).to.deep.equal([]);
      expect((await allTransactions(ada, { from: at(5), type: 'top-up' })).map((t) => t.id)).to.deep.equal([created[7]!.id]);
      expect((await allTransactions(ada, { from: at(5), to: at(7), type: 'top-up' }))).to.deep.equal([]);
    });

    it('answers 400 for a cursor it did not issue', async () => {
      const { response, error } = await as(ada).GET('/wallet/transactions', { params: { query: { cursor: 'bm90LWEtY3Vyc29y' } } });
      expect(response.status).to.equal(400);
      expect(error!.code).to.equal('invalid-cursor');
    });
  });

  describe('concurrency', () => {
    it('200 concurrent transfers of 1 out of a wallet funded with 50: exactly 50 succeed, the balance ends at 0, money is conserved', async () => {
      const sender = await signUp();
      const recipients = await Promise.all([signUp(), signUp(), signUp(), signUp()]);
      await fund(sender, 50);
      const started = Date.now();
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => transfer(sender, recipients[i % 4]!.email, 1)));
      const elapsed = Date.now() - started;
      const ok = results.filter((r) => r.response.status === 201);
      const refused = results.filter((r) => r.response.status === 422);
      console.log(`      200 concurrent transfers: ${ok.length} succeeded, ${refused.length} refused (insufficient-funds) in ${elapsed} ms`);
      expect(ok).to.have.length(50);
      expect(refused).to.have.length(150);
      for (const r of refused) expect(r.error!.code).to.equal('insufficient-funds');
      // Each success saw its own balance: 49 down to 0, once each.
      expect(ok.map((r) => r.data!.balanceAfter).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
      expect(await balanceOf(sender)).to.equal(0);
      const balances = await expectConserved([sender, ...recipients]);
      expect(balances.slice(1).reduce((a, b) => a + b, 0)).to.equal(50);
      const ledger = await allTransactions(sender);
      expect(ledger.map((t) => t.balanceAfter)).to.deep.equal([...Array.from({ length: 50 }, (_, i) => i), 50]);
    });

    it('100 concurrent retries of one transfer with one key: one transfer, one debit, one credit, 100 equal answers', async () => {
      const sender = await signUp();
      const recipient = await signUp();
      await fund(sender, 1_000);
      const key = randomUUID();
      const results = await Promise.all(Array.from({ length: 100 }, () => transfer(sender, recipient.email, 250, key, { note: 'once' })));
      const statuses = results.map((r) => r.response.status);
      const distinct = new Set(results.map((r) => JSON.stringify(r.data)));
      console.log(`      100 concurrent retries of one transfer: ${statuses.filter((s) => s === 201).length} answered 201, ${distinct.size} distinct answer(s)`);
      expect(statuses).to.deep.equal(Array.from({ length: 100 }, () => 201));
      expect(distinct.size).to.equal(1);
      expect(await balanceOf(sender)).to.equal(750);
      expect(await balanceOf(recipient)).to.equal(250);
      expect((await allTransactions(sender)).map((t) => t.type)).to.deep.equal(['transfer-out', 'top-up']);
      expect((await allTransactions(recipient)).map((t) => t.type)).to.deep.equal(['transfer-in']);
      await expectConserved([sender, recipient]);
    });

    it('four service instances racing on one account collide on the ledger sequence and never overdraw it', async () => {
      // Four repositories stand for four processes: each queues its own appends, so only the
      // unique {accountId, seq} index keeps them apart.
      const sender = await signUp();
      const recipient = await signUp();
      await fund(sender, 50);
      await withMongo(async (client) => {
        const db = client.db(svc.dbName);
        const instances = Array.from({ length: 4 }, () => walletsOn(db));
        const now = () => new Date().toISOString();
        // As the transfer operation does before any money moves: the recipient's wallet takes the currency.
        await instances[0]!.open(recipient.id, CURRENCY, now());
        const outcomes = await Promise.all(
          Array.from({ length: 100 }, async (_, i) => {
            const wallets = instances[i % 4]!;
            const { transfer: record } = await wallets.beginTransfer({
              _id: idForIdempotencyKey('trf', sender.id, `race-${randomUUID()}`),
              from: { userId: sender.id, email: sender.email, name: 'Sender' },
              to: { userId: recipient.id, email: recipient.email, name: 'Recipient' },
              amount: 1,
              currency: CURRENCY,
              requestHash: 'race',
              createdAt: now(),
            });
            const debit = await wallets.debit(record, now);
            if (!debit.debited) return false;
            await wallets.credit(record, now);
            await wallets.complete(record, now());
            return true;
          }),
        );
        const collisions = instances.reduce((sum, w) => sum + w.stats.collisions, 0);
        const succeeded = outcomes.filter(Boolean).length;
        console.log(`      4 instances, 100 racing transfers of 1 from 50: ${succeeded} debited, ${outcomes.length - succeeded} refused, ${collisions} sequence collisions retried`);
        expect(succeeded).to.equal(50);
        expect(collisions).to.be.greaterThan(0);
      });
      expect(await balanceOf(sender)).to.equal(0);
      expect(await balanceOf(recipient)).to.equal(50);
      const seqOrder = (await allTransactions(sender)).map((t) => t.balanceAfter);
      expect(seqOrder).to.deep.equal([...Array.from({ length: 50 }, (_, i) => i), 50]);
    });
  });

  describe('access', () => {
    it('refuses operators (no wallet) with 403 and callers without a valid token with 401 on every wallet operation', async () => {
      const operator = clientFor(await tokenFor('usr_00000000000000000000000000', ['operator']));
      const bob = await signUp();
      const calls = (client: PaymentGatewayClient) => [
        () => client.GET('/wallet', {}),
        () => client.POST('/wallet/top-ups', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { amount: 1, currency: CURRENCY } }),
        () => client.POST('/wallet/transfers', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { toEmail: bob.email, amount: 1, currency: CURRENCY } }),
        () => client.GET('/wallet/transactions', {}),
      ];
      for (const call of calls(operator)) {
        const { response, error } = await call();
        expect(response.status).to.equal(403);
        expect(error!.status).to.equal(403);
      }
      for (const call of calls(clientFor())) expect((await call()).response.status).to.equal(401);
      for (const call of calls(clientFor(await forgedToken(bob.id, ['customer'])))) expect((await call()).response.status).to.equal(401);
    });
  });

  describe('events', () => {
    let probe: EventProbe;
    before(async () => {
      probe = await startEventProbe('wallet-events-probe', ['wallet.topped-up', 'wallet.transfer-completed']);
    });
    after(() => probe?.stop());
    const eventsWhere = (match: (e: CloudEvent) => boolean, count: number, timeoutMs?: number) => probe.waitFor(match, count, timeoutMs);

    it('announces a top-up and a completed transfer once each (not a refused one), with the request\'s correlation id', async () => {
      const ada = await signUp();
      const bob = await signUp();
      const correlationId = `corr-${randomUUID()}`;
      const { data: credited } = await as(ada).POST('/wallet/top-ups', {
        params: { header: { 'Idempotency-Key': randomUUID(), 'X-Correlation-Id': correlationId } as { 'Idempotency-Key': string } },
        body: { amount: 900, currency: CURRENCY },
      });
      toppedUp.set(ada.id, 900);
      const key = randomUUID();
      const sent = await transfer(ada, bob.email, 400, key);
      await transfer(ada, bob.email, 400, key); // a replay announces nothing more
      const refused = await transfer(ada, bob.email, 10_000);
      expect(refused.response.status).to.equal(422);
      // Rather than wait a while for events that should not come: a transfer made after them is
      // announced after anything they announced (the relay publishes in write order, on one queue
      // to the probe), so once its event is here, so would theirs be.
      const sentinel = await transfer(ada, bob.email, 1);
      expect(sentinel.response.status).to.equal(201);
      await eventsWhere((e) => e.id === sentinel.data!.transferId, 1);

      const topUps = await eventsWhere((e) => e.type === 'wallet.topped-up' && (e.data as { userId: string }).userId === ada.id, 0);
      expect(topUps).to.have.length(1);
      expect(topUps[0]!.data).to.deep.equal({ userId: ada.id, transactionId: credited!.id, amount: 900, currency: CURRENCY, balanceAfter: 900, at: credited!.createdAt });
      expect(topUps[0]).to.include({ source: 'payspec/payment-gateway', specversion: '1.0', correlationid: correlationId });

      const transfers = await eventsWhere((e) => e.type === 'wallet.transfer-completed' && (e.data as { fromUserId: string }).fromUserId === ada.id, 0);
      expect(transfers.map((e) => e.id), 'the transfer and the sentinel: nothing for the replay or the refusal').to.have.members([sent.data!.transferId, sentinel.data!.transferId]);
      const first = transfers.find((e) => e.id === sent.data!.transferId)!;
      expect(first.data).to.deep.include({ transferId: sent.data!.transferId, fromUserId: ada.id, toUserId: bob.id, amount: 400, currency: CURRENCY });
    });
  });

  describe('contract tests derived from the spec', () => {
    it('answers every schema-derived invalid request to the wallet operations with a 4xx problem+json, never a 5xx', async () => {
      const ada = await signUp();
      const bob = await signUp();
      await fund(ada, 10_000);
      await fund(ada, 1);
      const { data: page } = await as(ada).GET('/wallet/transactions', { params: { query: { limit: 1 } } });
      const forged = await forgedToken(ada.id, ['customer']);
      const valid: Record<string, Parameters<typeof runInvalidRequests>[0]['valid']> = {
        getWallet: {},
        topUp: { headers: { 'idempotency-key': randomUUID() }, body: { amount: 100, currency: CURRENCY } },
        transfer: { headers: { 'idempotency-key': randomUUID() }, body: { toEmail: bob.email, amount: 1, currency: CURRENCY, note: 'contract test' } },
        listTransactions: { query: { type: 'top-up', from: '2020-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z', limit: 10, cursor: page!.nextCursor! } },
      };
      let cases = 0;
      const failures: string[] = [];
      for (const [operationId, request] of Object.entries(valid)) {
        const result = await runInvalidRequests({ api: 'payment-gateway', baseUrl: svc.url, spec: spec as OpenApiSpec, operationId, valid: request, tokens: { valid: ada.token, forged } });
        cases += result.cases;
        failures.push(...result.failures);
      }
      console.log(`      wallet operations: ${cases} schema-derived invalid requests, ${failures.length} failures`);
      expect(failures).to.deep.equal([]);
      expect(cases).to.be.greaterThan(40);
      // None of them moved money.
      expect(await balanceOf(ada)).to.equal(10_001);
      expect(await balanceOf(bob)).to.equal(0);
    });

    it('has exercised every wallet operation with a success status', function () {
      skipUnlessWholeFileRuns(this); // what this file exercised: only meaningful when all of it ran
      const api = getCoverageSummary().apis.find((a) => a.api === 'payment-gateway');
      expect(api, 'coverage for the payment-gateway API').to.not.equal(undefined);
      const wallet = ['getWallet', 'topUp', 'transfer', 'listTransactions'];
      const missing = api!.operations.filter((op) => wallet.includes(op.operationId) && !op.statuses.some((s) => s.exercised && s.key.startsWith('2'))).map((op) => op.operationId);
      expect(missing).to.deep.equal([]);
    });
  });

  describe('crash recovery', () => {
    /** Runs the transfer in a child process that SIGKILLs itself at `killAt`. */
    async function transferAndDie(killAt: 'before-debit' | 'after-debit', from: TestUser, to: TestUser, amount: number, key: string) {
      const transferId = commandIdFor('payment-gateway', 'trf', { operation: 'transfer', principal: from.id, key });
      const child = spawn(process.execPath, ['--import', 'tsx', TRANSFER_AND_DIE], {
        env: {
          ...process.env,
          MONGO_URL,
          WALLET_DB: svc.dbName,
          WALLET_CURRENCY: CURRENCY,
          KILL_AT: killAt,
          TRANSFER: JSON.stringify({
            transferId,
            from: { userId: from.id, email: from.email, name: `${from.firstName} ${from.lastName}` },
            to: { userId: to.id, email: to.email, name: `${to.firstName} ${to.lastName}` },
            amount,
            requestHash: requestHash({ toEmail: to.email, amount, currency: CURRENCY }),
          }),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
      expect(signal, `child ${killAt}: ${stderr}`).to.equal('SIGKILL');
      return transferId;
    }

    async function stored(transferId: string) {
      return withMongo(async (client) => {
        const db = client.db(svc.dbName);
        const transfer = await db.collection<TransferRecord>('wallet_transfers').findOne({ _id: transferId });
        // A filter on a non-key field: fine in a test, never on a request's path.
        const legs = await db.collection<{ legId: string; type: string }>('wallet_ledger').find({ transferId }).toArray();
        return { status: transfer?.status, failureReason: transfer?.failureReason, legs: legs.map((l) => `${l.legId.slice(l.legId.indexOf(':') + 1)}:${l.type}`).sort() };
      });
    }

    it('the reconciler settles transfers a killed process left behind once they are old enough: completed after the debit, refused before it; money conserved', async () => {
      const ada = await signUp();
      const bob = await signUp();
      await fund(ada, 1_000);
      await fund(bob, 10);
      const afterKey = randomUUID();
      const beforeKey = randomUUID();
      const afterDebit = await transferAndDie('after-debit', ada, bob, 300, afterKey);
      const beforeDebit = await transferAndDie('before-debit', ada, bob, 200, beforeKey);

      // What the crashes left: one half-applied transfer, one not applied at all.
      expect(await stored(afterDebit)).to.deep.equal({ status: 'pending', failureReason: undefined, legs: ['debit:transfer-out'] });
      expect(await stored(beforeDebit)).to.deep.equal({ status: 'pending', failureReason: undefined, legs: [] });

      // A reconciler (another instance's, on the same database) with the service's rule: it
      // leaves young pending transfers to whoever may still be working on them… It answers with
      // the ids it settled among these two: the database is shared with this file's other tests,
      // which may leave pending entries of their own (a run once had a third, settled here too),
      // and those are not this test's business.
      const ours = new Set([afterDebit, beforeDebit]);
      const settleWith = (now: Date) =>
        withMongo(async (client) => {
          const wallets = walletsOn(client.db(svc.dbName));
          const settled: string[] = [];
          const reconciler = new Reconciler(client.db(svc.dbName), {
            name: 'wallet-transfers',
            pending: wallets.pendingTransfers,
            settle: async (id) => {
              // Pending work includes settled transfers whose event is not published yet: count
              // only what this pass found pending and settled.
              const wasPending = (await wallets.findTransfer(id))?.status === 'pending';
              await wallets.settle(id);
              if (ours.has(id) && wasPending) settled.push(id);
            },
            minAgeMs: 30_000,
            intervalMs: 1_000,
            log: pino({ level: 'silent' }),
            now: () => now,
          });
          await reconciler.runOnce();
          return settled.sort();
        });
      expect(await settleWith(new Date())).to.deep.equal([]);
      expect((await stored(afterDebit)).status).to.equal('pending');
      // …and settles them once they are older than that.
      expect(await settleWith(new Date(Date.now() + 60_000))).to.deep.equal([...ours].sort());

      expect(await stored(afterDebit)).to.deep.equal({ status: 'completed', failureReason: undefined, legs: ['credit:transfer-in', 'debit:transfer-out'] });
      expect(await stored(beforeDebit)).to.deep.equal({ status: 'failed', failureReason: 'interrupted', legs: ['debit:refused'] });
      expect(await balanceOf(ada)).to.equal(700);
      expect(await balanceOf(bob)).to.equal(310);
      await expectConserved([ada, bob]);

      // The clients' retries get the settled outcome: the completed transfer's answer, and a
      // refusal for the interrupted one (which moved nothing and never will).
      const retried = await transfer(ada, bob.email, 300, afterKey);
      expect(retried.response.status).to.equal(201);
      expect(retried.data).to.deep.include({ type: 'transfer-out', amount: 300, balanceAfter: 700, transferId: afterDebit });
      const interrupted = await transfer(ada, bob.email, 200, beforeKey);
      expect(interrupted.response.status).to.equal(409);
      expect(interrupted.error!.code).to.equal('transfer-interrupted');
      const [credit] = await allTransactions(bob, { type: 'transfer-in' });
      expect(credit).to.deep.include({ amount: 300, balanceAfter: 310, transferId: afterDebit });
      expect(credit!.counterparty).to.deep.equal({ email: ada.email, name: `${ada.firstName} ${ada.lastName}` });

      // Nothing is left to settle, and settling again changes nothing.
      expect(await settleWith(new Date(Date.now() + 120_000))).to.deep.equal([]);
      expect(await balanceOf(ada)).to.equal(700);
      expect(await balanceOf(bob)).to.equal(310);
      await expectConserved([ada, bob]);
    });
  });
});
