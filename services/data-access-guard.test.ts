// The data-access guard (docs/architecture.md, data access): every read and write on the hot
// path of a request or an event is a filter of `_id` alone with a string value — the only
// lookup the embedded FerretDB answers from an index; anything else reads the whole collection
// and slows with every record ever written. This runs the hot routes against real services
// while the MongoDB driver reports every command they send, and fails on any find, update,
// delete or findAndModify with another filter.
//
// New services add their hot routes below. A query that is not by `_id` on purpose (a batch
// job) is listed in ALLOWED with the reason; a list route is measured in docs/benchmarks.md
// instead of being checked here.
import { randomInt, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { CommandStartedEvent, Document } from 'mongodb';
import { createBillingClient } from '../generated/billing/client.js';
import { createContractClient } from '../generated/contract/client.js';
import { createPaymentGatewayClient } from '../generated/payment-gateway/client.js';
import { pino } from 'pino';
import { AMQP_PREFIX, AMQP_URL, MONGO_URL, type TestService, deleteTopology, startTestService } from '../tools/testing/service-harness.js';
import { testDatabaseName, withMongo } from '../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer } from '../tools/testing/tokens.js';
import { eventually } from '../tools/testing/wait.js';
import { loadConfig } from './common/config.js';
import { EventBus } from './common/events/event-bus.js';
import { Inbox } from './common/events/inbox.js';
import { newId } from './common/ids.js';
import { billingService } from './billing/main.js';
import { type Publishers, orders, publishers, snapshot } from './billing/test-support/fixtures.js';
import { commandWatchers, connectMongo } from './common/mongo.js';
import { mandateSealSpecs, mandateSealer } from './common/sealed-values.js';
import { contractService } from './contract/main.js';
import { createInvoiceMailerClient } from '../generated/invoice-mailer/client.js';
import { invoiceMailerService } from './invoice-mailer/main.js';
import { issuedInvoice, startBillingPublisher } from './invoice-mailer/test-support/invoices.js';
import { paymentGatewayService } from './payment-gateway/main.js';
import { acquiringBankService } from './simulators/acquiring-bank/main.js';
import { type VoucherPlatform, startVoucherPlatform } from './voucher/test-support/voucher-platform.js';

/** collection → why a filter other than `{_id}` is fine there. */
const ALLOWED: Record<string, string> = {
  outbox: 'the relay (and the reconcilers of transfers and payments) read the pending markers whole: only what is not yet published or settled',
  reconciler_leases: 'leases of past periods are deleted in a batch after each reconciler pass',
  callbacks_pending_piggy_bank: "the bank simulator's callback reconciler reads its pending set whole each pass (RECONCILE_INTERVAL_MS): only callbacks not yet acknowledged",
  signing_keys: 'the key chain (a few documents) is re-read every few minutes, not per request',
  sign_in_attempts: 'attempts older than the window are purged now and then (a batch delete)',
  sign_in_attempts_heads: 'idle scopes are forgotten with that purge (a batch delete)',
  sign_up_attempts: 'sign-ups older than their window are purged now and then (a batch delete)',
  sign_up_attempts_heads: 'idle clients are forgotten with that purge (a batch delete)',
  refresh_tokens: 'expired tokens are purged now and then (a batch delete)',
  refresh_token_uses: 'expired markers are purged with their tokens (a batch delete)',
  refresh_family_revocations: 'lapsed revocations are purged with the tokens (a batch delete)',
  webhook_pending: "the voucher webhooks' reconciler reads its due set whole each pass: only deliveries under way",
  voucher_pending: "the voucher requests' reconciler reads its pending set whole each pass: only requests without their code yet",
  provider_pending_callbacks: "the voucher-provider simulator's callback reconciler reads its pending set whole each pass: only callbacks owed",
};

const CHECKED = new Set(['find', 'update', 'delete', 'findAndModify']);

interface Violation {
  route: string;
  command: string;
  collection: string;
  filter: unknown;
}

/** The filters a command carries: find's `filter`, findAndModify's `query`, each update's and delete's `q`. */
function filtersOf(event: CommandStartedEvent): Document[] {
  const command = event.command;
  switch (event.commandName) {
    case 'find':
      return [command.filter ?? {}];
    case 'findAndModify':
      return [command.query ?? {}];
    case 'update':
      return (command.updates as { q: Document }[]).map((u) => u.q);
    case 'delete':
      return (command.deletes as { q: Document }[]).map((d) => d.q);
    default:
      return [];
  }
}

const byIdAlone = (filter: Document) => Object.keys(filter).length === 1 && typeof filter._id === 'string';

describe('Data access on hot paths: a filter of _id alone (integration)', function () {
  this.timeout(120_000);
  let issuer: TokenIssuer;
  let gateway: TestService;
  let contract: TestService;
  let bank: TestService;
  let databases = new Set<string>();
  let route = 'start-up';
  const seen = new Map<string, number>();
  const violations: Violation[] = [];

  const watch = (event: CommandStartedEvent) => {
    if (!databases.has(event.databaseName) || !CHECKED.has(event.commandName)) return;
    const collection = String(event.command[event.commandName]);
    seen.set(route, (seen.get(route) ?? 0) + 1);
    for (const filter of filtersOf(event)) {
      if (byIdAlone(filter) || collection in ALLOWED) continue;
      violations.push({ route, command: event.commandName, collection, filter });
    }
  };

  before(async () => {
    commandWatchers.add(watch);
    issuer = await createTokenIssuer();
    bank = await startTestService(acquiringBankService, issuer, { BANK_NAME: 'piggy-bank' });
    gateway = await startTestService(paymentGatewayService, issuer, {
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '1',
      ACQUIRING_BANKS: `piggy-bank=${bank.url},acme-acquiring=${bank.url}`,
    });
    contract = await startTestService(contractService, issuer);
    databases = new Set([gateway.dbName, contract.dbName, bank.dbName, `${gateway.dbName}_inbox`]);
  });

  after(async () => {
    commandWatchers.delete(watch);
    for (const svc of [contract, gateway, bank]) await svc?.stop();
    for (const svc of [contract, gateway, bank]) await svc?.drop();
    await deleteTopology(AMQP_PREFIX, 'billing'); // the queues the test's billing publisher declared
  });

  it('sign-up, sign-in, refresh, /me, wallet, top-up, transfer, transactions, contract read and change, event handling', async () => {
    const api = createPaymentGatewayClient({ baseUrl: gateway.url });
    const as = (token: string) => createPaymentGatewayClient({ baseUrl: gateway.url, token });
    const signUp = async () => {
      const email = `guard-${randomUUID().slice(0, 8)}@example.com`;
      const password = 'correct horse battery staple';
      const { response } = await api.POST('/auth/sign-up', {
        body: { email, password, firstName: 'Ada', lastName: 'Guard', phone: `+4477${randomInt(10_000_000, 99_999_999)}`, role: 'customer' },
      });
      expect(response.status, 'sign-up').to.equal(201);
      const signedIn = await api.POST('/auth/sign-in', { body: { email, password } });
      expect(signedIn.response.status, 'sign-in').to.equal(200);
      return { email, access: signedIn.data!.accessToken, refresh: signedIn.data!.refreshToken };
    };

    route = 'sign-up and sign-in';
    const ada = await signUp();
    const bob = await signUp();
    route = 'failed sign-in';
    expect((await api.POST('/auth/sign-in', { body: { email: ada.email, password: 'not the password at all' } })).response.status).to.equal(401);
    route = 'refresh';
    expect((await api.POST('/auth/refresh', { body: { refreshToken: ada.refresh } })).response.status).to.equal(200);
    route = 'GET /me';
    expect((await as(ada.access).GET('/me', {})).response.status).to.equal(200);
    route = 'GET /wallet';
    expect((await as(ada.access).GET('/wallet', {})).response.status).to.equal(200);
    route = 'POST /wallet/top-ups';
    const key = randomUUID();
    const topUp = () => as(ada.access).POST('/wallet/top-ups', { params: { header: { 'Idempotency-Key': key } }, body: { amount: 500, currency: 'EUR' } });
    expect((await topUp()).response.status).to.equal(201);
    route = 'POST /wallet/top-ups (replayed)';
    expect((await topUp()).response.status).to.equal(201);
    const transfer = (amount: number) =>
      as(ada.access).POST('/wallet/transfers', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { toEmail: bob.email, amount, currency: 'EUR' } });
    route = 'POST /wallet/transfers';
    expect((await transfer(200)).response.status).to.equal(201);
    route = 'POST /wallet/transfers (refused)';
    expect((await transfer(10_000)).response.status).to.equal(422);
    route = 'GET /wallet/transactions';
    expect((await as(bob.access).GET('/wallet/transactions', { params: { query: { limit: 10 } } })).response.status).to.equal(200);

    // Card payments (and the bank simulator's own storage behind them).
    route = 'merchant sign-up';
    const merchantEmail = `guard-m-${randomUUID().slice(0, 8)}@example.com`;
    await api.POST('/auth/sign-up', {
      body: { email: merchantEmail, password: 'correct horse battery staple', firstName: 'Mer', lastName: 'Guard', phone: `+4477${randomInt(10_000_000, 99_999_999)}`, role: 'merchant', business: { name: 'Guard Shop', acquiringBank: 'piggy-bank' } },
    });
    const merchant = as((await api.POST('/auth/sign-in', { body: { email: merchantEmail, password: 'correct horse battery staple' } })).data!.accessToken);
    route = 'POST /payments';
    const card = { number: '4242424242424242', expiryMonth: 12, expiryYear: new Date().getUTCFullYear() + 2, cvv: '123', holderName: 'Ada Guard' };
    const payment = await merchant.POST('/payments', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { card, amount: 500, currency: 'EUR', reference: 'guard-1' } });
    expect(payment.response.status).to.equal(201);
    route = 'GET /payments/{id}';
    expect((await merchant.GET('/payments/{paymentId}', { params: { path: { paymentId: payment.data!.id } } })).response.status).to.equal(200);
    route = 'GET /payments';
    expect((await merchant.GET('/payments', { params: { query: { limit: 10, status: 'succeeded' } } })).response.status).to.equal(200);
    route = 'POST /payments/{id}/refunds';
    const refund = await merchant.POST('/payments/{paymentId}/refunds', { params: { path: { paymentId: payment.data!.id }, header: { 'Idempotency-Key': randomUUID() } }, body: { amount: 100 } });
    expect(refund.response.status).to.equal(201);

    const operator = createContractClient({ baseUrl: contract.url, token: await issuer.sign('op-guard', { roles: ['operator'] }) });
    route = 'POST /contracts';
    const created = await operator.POST('/contracts', {
      params: { header: { 'Idempotency-Key': randomUUID() } },
      body: {
        customer: { id: 'cust-guard', name: 'Guard Ltd', billingEmail: 'accounts@example.com', userId: newId('usr') },
        validFrom: '2026-01-01',
        validTo: '2026-12-31',
        currency: 'EUR',
        creditLimit: 1_000,
        mandate: { reference: 'GUARD-1', iban: 'FR76 3000 6000 0112 3456 7890 189', signedOn: '2025-12-01' },
      },
    });
    expect(created.response.status).to.equal(201);
    const path = { contractId: created.data!.id };
    route = 'GET /contracts/{id}';
    expect((await operator.GET('/contracts/{contractId}', { params: { path } })).response.status).to.equal(200);
    route = 'PUT /contracts/{id}/credit-limit';
    expect((await operator.PUT('/contracts/{contractId}/credit-limit', { params: { path }, body: { creditLimit: 2_000, reason: 'growth' } })).response.status).to.equal(200);
    route = 'POST /contracts/{id}/suspend';
    expect((await operator.POST('/contracts/{contractId}/suspend', { params: { path }, body: { reason: 'audit' } })).response.status).to.equal(200);
    route = 'GET /contracts/{id}/history';
    expect((await operator.GET('/contracts/{contractId}/history', { params: { path } })).response.status).to.equal(200);

    // A billing operation's direct debit (the gateway's handler of billing.payment-requested,
    // the bank's direct debit, the relay building payment.authorized).
    route = 'event billing.payment-requested (direct debit)';
    const billing = new EventBus({ url: AMQP_URL, prefix: AMQP_PREFIX, service: 'billing', log: pino({ level: 'silent' }) });
    try {
      const { sealer } = mandateSealer(loadConfig(mandateSealSpecs(), {}), {});
      const mandate = { reference: 'GUARD-1', ibanSealed: await sealer.seal('FR7630006000011234567890189', 'iban'), signedOn: '2025-12-01' };
      await billing.publish('billing.payment-requested', { operationId: newId('op'), contractId: newId('ctr'), amount: 500, currency: 'EUR', mandate, requestedAt: new Date().toISOString() }, { correlationId: 'guard' });
      const published = async () => (await (await fetch(`${gateway.url}/metrics`)).text()).split('\n').some((l) => l.startsWith('events_published_total{') && l.includes('type="payment.authorized"') && l.endsWith(' 1'));
      await eventually(published, Boolean, 'payment.authorized published');
    } finally {
      await billing.close();
    }

    // Event handling: what the bus asks of the inbox for a delivery and for a redelivery.
    route = 'event handling (inbox)';
    const database = await connectMongo(MONGO_URL, `${gateway.dbName}_inbox`);
    try {
      const inbox = new Inbox(database.db);
      const id = randomUUID();
      expect(await inbox.begin(id, 'contract.subscribed')).to.equal('run');
      expect(await inbox.begin(id, 'contract.subscribed')).to.equal('busy');
      await inbox.complete(id, 'contract.subscribed');
      expect(await inbox.begin(id, 'contract.subscribed')).to.equal('duplicate');
    } finally {
      await database.db.dropDatabase();
      await database.close();
    }
    route = 'done';

    // Every route above reached the database (so the watch saw it), and only by `_id`.
    const routes = ['sign-up and sign-in', 'failed sign-in', 'refresh', 'GET /me', 'GET /wallet', 'POST /wallet/top-ups', 'POST /wallet/top-ups (replayed)', 'POST /wallet/transfers', 'POST /wallet/transfers (refused)', 'GET /wallet/transactions', 'POST /payments', 'GET /payments/{id}', 'GET /payments', 'POST /payments/{id}/refunds', 'POST /contracts', 'GET /contracts/{id}', 'PUT /contracts/{id}/credit-limit', 'POST /contracts/{id}/suspend', 'GET /contracts/{id}/history', 'event billing.payment-requested (direct debit)', 'event handling (inbox)'];
    for (const name of routes) expect(seen.get(name) ?? 0, `${name} sent no command: is the watch attached?`).to.be.greaterThan(0);
    expect(violations, JSON.stringify(violations, null, 1)).to.deep.equal([]);
  });
});

// Billing's hot routes and handlers (issue 10), on a billing instance of their own; the contract,
// payment and mail events are published by the test as those services would.
describe('Data access on hot paths: billing (integration)', function () {
  this.timeout(60_000);
  /** Billing's own batch reads besides the shared ones above. */
  const billingAllowed: Record<string, string> = {
    ...ALLOWED,
    billing_runs_pending: 'the billing-run reconciler reads the runs under way whole (one per period at most)',
    operations_accepting: 'the operation-acceptance reconciler reads the acceptances under way whole (a crash leaves a few; each is removed as its request ends)',
  };
  let issuer: TokenIssuer;
  let billing: TestService;
  let publish: Publishers;
  let route = 'start-up';
  const seen = new Map<string, number>();
  const violations: Violation[] = [];
  const watch = (event: CommandStartedEvent) => {
    if (event.databaseName !== billing?.dbName || !CHECKED.has(event.commandName)) return;
    const collection = String(event.command[event.commandName]);
    seen.set(route, (seen.get(route) ?? 0) + 1);
    for (const filter of filtersOf(event)) {
      if (byIdAlone(filter) || collection in billingAllowed) continue;
      violations.push({ route, command: event.commandName, collection, filter });
    }
  };

  before(async () => {
    commandWatchers.add(watch);
    issuer = await createTokenIssuer();
    publish = publishers();
    billing = await startTestService(billingService, issuer, { BILLING_SCHEDULE: 'off', MONGO_DB: `${testDatabaseName('billing')}_guard` });
  });

  after(async () => {
    commandWatchers.delete(watch);
    await billing?.stop();
    await publish?.close();
    await billing?.drop();
  });

  it('contract event, POST /operations, GET operation, GET outstanding, payment answers', async () => {
    const operator = createBillingClient({ baseUrl: billing.url, token: await issuer.sign('op-guard', { roles: ['operator'] }) });
    const ledgerSize = (contractId: string) =>
      withMongo(async (client) => client.db(billing.dbName).collection('ledger').countDocuments({ owner: contractId }));
    const contract = snapshot();

    route = 'contract event (billing)';
    await publish.contract('contract.subscribed', contract);
    await eventually(() => ledgerSize(contract.id), (n) => n === 1, 'contract on the ledger');
    route = 'POST /operations';
    const body = { contractId: contract.id, type: 'purchase' as const, currency: 'EUR', orders: orders(500) };
    const created = await operator.POST('/operations', { params: { header: { 'Idempotency-Key': randomUUID() } }, body });
    expect(created.response.status).to.equal(201);
    route = 'POST /operations (refused)';
    const refused = await operator.POST('/operations', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { ...body, orders: orders(contract.creditLimit) } });
    expect(refused.response.status).to.equal(422);
    route = 'GET /operations/{id}';
    expect((await operator.GET('/operations/{operationId}', { params: { path: { operationId: created.data!.id } } })).response.status).to.equal(200);
    route = 'GET /contracts/{id}/outstanding';
    expect((await operator.GET('/contracts/{contractId}/outstanding', { params: { path: { contractId: contract.id } } })).response.status).to.equal(200);
    route = 'payment answer (billing)';
    await publish.gateway('payment.declined', { operationId: created.data!.id, contractId: contract.id, amount: 500, currency: 'EUR', reason: 'insufficient-funds', at: new Date().toISOString() });
    await eventually(() => ledgerSize(contract.id), (n) => n === 3, 'decline on the ledger');
    await eventually(
      async () => (await operator.GET('/operations/{operationId}', { params: { path: { operationId: created.data!.id } } })).data?.status,
      (status) => status === 'declined',
      'declined',
    );
    route = 'done';

    for (const name of ['contract event (billing)', 'POST /operations', 'POST /operations (refused)', 'GET /operations/{id}', 'GET /contracts/{id}/outstanding', 'payment answer (billing)']) {
      expect(seen.get(name) ?? 0, `${name} sent no command: is the watch attached?`).to.be.greaterThan(0);
    }
    expect(violations, JSON.stringify(violations, null, 1)).to.deep.equal([]);
  });
});

// The invoice mailer's handler (billing.invoice-issued: first delivery and a redelivery under
// another event id) and its read route, on an instance of its own writing .eml files.
describe('Data access on hot paths: invoice mailer (integration)', function () {
  this.timeout(60_000);
  let issuer: TokenIssuer;
  let mailer: TestService;
  let billing: Awaited<ReturnType<typeof startBillingPublisher>>;
  let mailDir: string;
  let route = 'start-up';
  const seen = new Map<string, number>();
  const violations: Violation[] = [];
  const watch = (event: CommandStartedEvent) => {
    if (event.databaseName !== mailer?.dbName || !CHECKED.has(event.commandName)) return;
    const collection = String(event.command[event.commandName]);
    seen.set(route, (seen.get(route) ?? 0) + 1);
    for (const filter of filtersOf(event)) {
      if (byIdAlone(filter) || collection in ALLOWED) continue;
      violations.push({ route, command: event.commandName, collection, filter });
    }
  };

  before(async () => {
    commandWatchers.add(watch);
    issuer = await createTokenIssuer();
    mailDir = await mkdtemp(join(tmpdir(), 'payspec-guard-mail-'));
    mailer = await startTestService(invoiceMailerService, issuer, { MAIL_DIR: mailDir, MONGO_DB: `${testDatabaseName('invoice-mailer')}_guard` });
    billing = await startBillingPublisher();
  });

  after(async () => {
    commandWatchers.delete(watch);
    await billing?.close();
    await mailer?.stop();
    await mailer?.drop();
    await deleteTopology(AMQP_PREFIX, 'billing');
    await rm(mailDir, { recursive: true, force: true });
  });

  it('billing.invoice-issued (sent, then redelivered under another id), GET /sent-invoices/{id}', async () => {
    const handled = (eventId: string) => withMongo(async (client) => client.db(mailer.dbName).collection('inbox').findOne({ _id: eventId as never }));
    const invoice = issuedInvoice();
    route = 'event billing.invoice-issued (mailer)';
    await billing.publish(invoice, `guard-1-${invoice.invoiceId}`);
    await eventually(() => handled(`guard-1-${invoice.invoiceId}`), (h) => h !== null, 'invoice mailed');
    route = 'event billing.invoice-issued, redelivered (mailer)';
    await billing.publish(invoice, `guard-2-${invoice.invoiceId}`);
    await eventually(() => handled(`guard-2-${invoice.invoiceId}`), (h) => h !== null, 'redelivery handled');
    route = 'GET /sent-invoices/{id}';
    const operator = createInvoiceMailerClient({ baseUrl: mailer.url, token: await issuer.sign('op-guard', { roles: ['operator'] }) });
    expect((await operator.GET('/sent-invoices/{invoiceId}', { params: { path: { invoiceId: invoice.invoiceId } } })).response.status).to.equal(200);
    route = 'done';

    for (const name of ['event billing.invoice-issued (mailer)', 'event billing.invoice-issued, redelivered (mailer)', 'GET /sent-invoices/{id}']) {
      expect(seen.get(name) ?? 0, `${name} sent no command: is the watch attached?`).to.be.greaterThan(0);
    }
    expect(violations, JSON.stringify(violations, null, 1)).to.deep.equal([]);
  });
});

describe('Data access on hot paths: vouchers (integration)', function () {
  this.timeout(60_000);
  let platform: VoucherPlatform;
  let databases = new Set<string>();
  let route = 'start-up';
  const seen = new Map<string, number>();
  const violations: Violation[] = [];
  const watch = (event: CommandStartedEvent) => {
    if (!databases.has(event.databaseName) || !CHECKED.has(event.commandName)) return;
    const collection = String(event.command[event.commandName]);
    seen.set(route, (seen.get(route) ?? 0) + 1);
    for (const filter of filtersOf(event)) {
      if (byIdAlone(filter) || collection in ALLOWED) continue;
      violations.push({ route, command: event.commandName, collection, filter });
    }
  };

  before(async () => {
    commandWatchers.add(watch);
    platform = await startVoucherPlatform();
    databases = new Set([platform.voucher.dbName, platform.provider.dbName]);
  });
  after(async () => {
    commandWatchers.delete(watch);
    await platform?.stop();
  });

  it('POST /webhook-secrets, POST /vouchers through the worker to the delivered webhook (fast and by callback), GET /vouchers/{id}, a replayed callback', async () => {
    const read = (api: Awaited<ReturnType<VoucherPlatform['customer']>>['api'], id: string) => api.GET('/vouchers/{voucherId}', { params: { path: { voucherId: id } } });
    const deliveredOnce = (api: Awaited<ReturnType<VoucherPlatform['customer']>>['api'], id: string) =>
      eventually(async () => (await read(api, id)).data!.delivery?.status, (s) => s === 'DELIVERED', `voucher ${id} delivered`);
    for (const [name, digit] of [['fast', 0], ['by callback', 4]] as const) {
      const customer = await platform.customer(digit);
      route = 'POST /webhook-secrets';
      const secret = (await customer.api.POST('/webhook-secrets', {})).data!.secret;
      platform.receiver.trust(`/guard/${customer.id}`, secret);
      route = `POST /vouchers, worker, provider, delivery (${name})`;
      const { data } = await customer.api.POST('/vouchers', {
        params: { header: { 'Idempotency-Key': randomUUID() } },
        body: { phoneNumber: customer.phone, callbackUrl: `${platform.receiver.origin}/guard/${customer.id}` },
      });
      await deliveredOnce(customer.api, data!.id);
      route = 'GET /vouchers/{id}';
      expect((await read(customer.api, data!.id)).response.status).to.equal(200);
    }
    const replayer = await platform.customer(9);
    route = 'POST /vouchers and a replayed provider callback';
    const { data } = await replayer.api.POST('/vouchers', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { phoneNumber: replayer.phone } });
    await eventually(() => platform.providerRequest(data!.id), (r) => (r?.callbacks.length ?? 0) >= 2, 'the replay refused');
    route = 'done';

    for (const name of ['POST /webhook-secrets', 'POST /vouchers, worker, provider, delivery (fast)', 'POST /vouchers, worker, provider, delivery (by callback)', 'GET /vouchers/{id}', 'POST /vouchers and a replayed provider callback']) {
      expect(seen.get(name) ?? 0, `${name} sent no command: is the watch attached?`).to.be.greaterThan(0);
    }
    expect(violations, JSON.stringify(violations, null, 1)).to.deep.equal([]);
  });
});
