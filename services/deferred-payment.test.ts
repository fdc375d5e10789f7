// Deferred payment, the whole chain, with every service it crosses running for real on RabbitMQ
// and FerretDB: the gateway (identity — the platform's token issuer — and direct debits), the
// acquiring-bank simulator, the contract service, billing and the invoice mailer sending to a
// real SMTP server in-process. An operator creates a contract for a customer account; the
// customer buys (authorized by direct debit), refunds part of it, buys again after the mandate
// changed to an account without funds (declined); a billing run issues the invoice; the mailer
// sends it; billing marks it sent and its operations invoiced, and the outstanding drops to zero.
// Every call goes through the generated clients, every answer checked against its spec.
import { randomInt, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { type BillingClient, createBillingClient } from '../generated/billing/client.js';
import billingSpec from '../generated/billing/spec.json' with { type: 'json' };
import { type ContractClient, createContractClient } from '../generated/contract/client.js';
import contractSpec from '../generated/contract/spec.json' with { type: 'json' };
import { type PaymentGatewayClient, createPaymentGatewayClient } from '../generated/payment-gateway/client.js';
import gatewaySpec from '../generated/payment-gateway/spec.json' with { type: 'json' };
import { type OpenApiSpec, createContractCheckingMiddleware } from '../tools/contract-testing/index.js';
import { type TestService, startTestService, withMongo } from '../tools/testing/service-harness.js';
import { createTokenIssuer } from '../tools/testing/tokens.js';
import { eventually } from '../tools/testing/wait.js';
import { billingService } from './billing/main.js';
import { contractService } from './contract/main.js';
import { invoiceMailerService } from './invoice-mailer/main.js';
import { type MailSink, startMailSink } from './invoice-mailer/test-support/mail-sink.js';
import { paymentGatewayService } from './payment-gateway/main.js';
import { acquiringBankService } from './simulators/acquiring-bank/main.js';

const OPERATOR = { email: `operator-${randomUUID().slice(0, 8)}@payspec.test`, password: 'operator password 123' };
const FUNDED_IBAN = 'FR7630006000011234567890189';
/** The bank simulator's account without funds: its direct debits are declined. */
const UNFUNDED_IBAN = 'DE89370400440532013000';
const DAY_MS = 86_400_000;
const day = (offset: number) => new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);

describe('Deferred payment, the whole chain (gateway, bank, contract, billing, invoice mailer)', function () {
  this.timeout(120_000);
  const started: TestService[] = [];
  let gateway: TestService;
  let contract: TestService;
  let billing: TestService;
  let mail: MailSink;

  const gatewayClient = (token?: string): PaymentGatewayClient =>
    createPaymentGatewayClient({ baseUrl: gateway.url, ...(token ? { token } : {}), middleware: [createContractCheckingMiddleware({ api: 'payment-gateway', spec: gatewaySpec as OpenApiSpec })] });
  const contractClient = (token: string): ContractClient =>
    createContractClient({ baseUrl: contract.url, token, middleware: [createContractCheckingMiddleware({ api: 'contract', spec: contractSpec as OpenApiSpec })] });
  const billingClient = (token: string): BillingClient =>
    createBillingClient({ baseUrl: billing.url, token, middleware: [createContractCheckingMiddleware({ api: 'billing', spec: billingSpec as OpenApiSpec })] });

  async function signIn(email: string, password: string): Promise<string> {
    const { data, response } = await gatewayClient().POST('/auth/sign-in', { body: { email, password } });
    expect(response.status, `sign-in of ${email}`).to.equal(200);
    return data!.accessToken;
  }

  async function signUpCustomer(): Promise<{ id: string; token: string }> {
    const email = `corp-${randomUUID().slice(0, 8)}@example.com`;
    const password = 'correct horse battery staple';
    const { data, response } = await gatewayClient().POST('/auth/sign-up', {
      body: { email, password, firstName: 'Corp', lastName: 'Buyer', phone: `+4477${randomInt(10_000_000, 99_999_999)}`, role: 'customer' },
    });
    expect(response.status, 'sign-up').to.equal(201);
    return { id: data!.id, token: await signIn(email, password) };
  }

  before(async () => {
    // The gateway issues every token; the other services verify them against its JWKS.
    const issuer = await createTokenIssuer();
    mail = await startMailSink();
    const bank = await startTestService(acquiringBankService, issuer, { BANK_NAME: 'piggy-bank' });
    started.push(bank);
    const fast = { RECONCILE_AFTER_MS: '0', RECONCILE_INTERVAL_MS: '100' };
    gateway = await startTestService(paymentGatewayService, issuer, {
      ...fast,
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '1',
      SIGN_UP_MAX_PER_CLIENT: '1000',
      OPERATOR_EMAIL: OPERATOR.email,
      OPERATOR_PASSWORD: OPERATOR.password,
      ACQUIRING_BANKS: `piggy-bank=${bank.url}`,
      ACQUIRING_BANK_KEYS: 'piggy-bank=dev-bank-key',
      BANK_WEBHOOK_SECRETS: 'piggy-bank=whsec_ZGV2LWJhbmstd2ViaG9vay1zZWNyZXQtMzJieXRlcyE=',
      DIRECT_DEBIT_BANK: 'piggy-bank',
    });
    started.push(gateway);
    const jwks = { AUTH_JWKS_URL: `${gateway.url}/.well-known/jwks.json` };
    contract = await startTestService(contractService, issuer, jwks);
    started.push(contract);
    billing = await startTestService(billingService, issuer, { ...jwks, ...fast, BILLING_SCHEDULE: 'off' });
    started.push(billing);
    started.push(await startTestService(invoiceMailerService, issuer, { ...jwks, ...fast, SMTP_URL: mail.url }));
  });

  after(async () => {
    for (const svc of [...started].reverse()) await svc.stop();
    for (const svc of started) await svc.drop();
    await mail?.stop();
  });

  it('contract → purchase authorized → refund → purchase declined → billing run → invoice mailed → operations invoiced, outstanding settled', async () => {
    const operator = await signIn(OPERATOR.email, OPERATOR.password);
    const customer = await signUpCustomer();
    const stranger = await signUpCustomer();
    const billingEmail = `accounts-${randomUUID().slice(0, 8)}@acme.example`;

    // The operator creates the contract; billing learns it from the contract events alone.
    const created = await contractClient(operator).POST('/contracts', {
      params: { header: { 'Idempotency-Key': randomUUID() } },
      body: {
        customer: { id: 'cust-acme-001', name: 'ACME Works Council', billingEmail, userId: customer.id },
        validFrom: day(-30),
        validTo: day(335),
        currency: 'EUR',
        creditLimit: 100_000,
        mandate: { reference: `MANDATE-${randomUUID().slice(0, 8)}`, iban: FUNDED_IBAN, signedOn: day(-31) },
      },
    });
    expect(created.response.status).to.equal(201);
    const contractId = created.data!.id;
    const asCustomer = billingClient(customer.token);
    const outstanding = () => asCustomer.GET('/contracts/{contractId}/outstanding', { params: { path: { contractId } } });
    await eventually(async () => (await outstanding()).response.status, (status) => status === 200, 'billing knows the contract', 20_000);

    // A purchase of two orders, authorized by direct debit against the mandate.
    const purchase = await asCustomer.POST('/operations', {
      params: { header: { 'Idempotency-Key': randomUUID() } },
      body: {
        contractId,
        type: 'purchase',
        currency: 'EUR',
        orders: [
          { reference: 'trip-1', items: [{ label: 'Paris–Lyon return', unitPrice: 8_900, quantity: 2 }] },
          { reference: 'trip-2', items: [{ label: 'Hotel night, Lyon', unitPrice: 12_000, quantity: 1 }] },
        ],
      },
    });
    expect(purchase.response.status, JSON.stringify(purchase.error)).to.equal(201);
    expect(purchase.data).to.deep.include({ status: 'pending-authorization', amount: 29_800, currency: 'EUR' });
    const purchaseId = purchase.data!.id;
    const operation = (id: string) => asCustomer.GET('/operations/{operationId}', { params: { path: { operationId: id } } });
    const authorized = (await eventually(async () => (await operation(purchaseId)).data, (op) => op?.status === 'authorized', 'the purchase authorized', 20_000))!;
    expect(authorized.statusHistory.map((s) => s.status)).to.deep.equal(['pending-authorization', 'authorized']);
    expect((await outstanding()).data).to.deep.include({ outstanding: 29_800, creditLimit: 100_000, available: 70_200 });

    // Another customer account sees nothing of it.
    expect((await billingClient(stranger.token).GET('/operations/{operationId}', { params: { path: { operationId: purchaseId } } })).response.status).to.equal(404);

    // A refund of the hotel night: credited on the invoice, no authorization needed.
    const refund = await asCustomer.POST('/operations', {
      params: { header: { 'Idempotency-Key': randomUUID() } },
      body: { contractId, type: 'refund', currency: 'EUR', refundOf: purchaseId, orders: [{ items: [{ label: 'Hotel night, Lyon', unitPrice: 12_000, quantity: 1 }] }] },
    });
    expect(refund.response.status, JSON.stringify(refund.error)).to.equal(201);
    expect(refund.data!.status).to.equal('authorized');
    expect((await outstanding()).data!.outstanding).to.equal(17_800);

    // The mandate moves to an account without funds: the next purchase is declined by the bank.
    const changed = await contractClient(operator).PUT('/contracts/{contractId}/mandate', {
      params: { path: { contractId } },
      body: { mandate: { reference: `MANDATE-${randomUUID().slice(0, 8)}`, iban: UNFUNDED_IBAN, signedOn: day(-1) }, reason: 'new bank account' },
    });
    expect(changed.response.status, JSON.stringify(changed.error)).to.equal(200);
    // Billing applies the change from its event (it never asks the contract service), and the API
    // does not show which contract version billing holds: wait on its read model document for
    // version 2 (the mandate change), so the next purchase is decided on the new mandate.
    await eventually(
      () => withMongo(async (client) => (await client.db(billing.dbName).collection<{ _id: string; version: number }>('contracts').findOne({ _id: contractId }))?.version),
      (version) => version === 2,
      "billing's read model at the mandate change",
      20_000,
    );
    const second = await asCustomer.POST('/operations', {
      params: { header: { 'Idempotency-Key': randomUUID() } },
      body: { contractId, type: 'purchase', currency: 'EUR', orders: [{ items: [{ label: 'Taxi', unitPrice: 4_000, quantity: 1 }] }] },
    });
    expect(second.response.status, JSON.stringify(second.error)).to.equal(201);
    const declined = (await eventually(async () => (await operation(second.data!.id)).data, (op) => op?.status !== 'pending-authorization', 'the second purchase answered', 20_000))!;
    expect(declined).to.deep.include({ status: 'declined', declineReason: 'insufficient-funds' });

    // The billing run of the period issues one invoice; the mailer sends it.
    const period = authorized.period;
    const run = await billingClient(operator).POST('/billing-runs', { body: { period } });
    expect(run.response.status).to.equal(202);
    const again = await billingClient(operator).POST('/billing-runs', { body: { period } });
    expect(again.response.status, 'one run per period').to.equal(200);
    expect(again.data!.id).to.equal(run.data!.id);
    const done = (await eventually(
      async () => (await billingClient(operator).GET('/billing-runs/{runId}', { params: { path: { runId: run.data!.id } } })).data,
      (r) => r?.status === 'completed',
      'the billing run completed',
      30_000,
    ))!;
    expect(done.invoicesIssued).to.equal(1);

    const invoices = (await eventually(
      async () => (await asCustomer.GET('/invoices', { params: { query: { contractId, period } } })).data,
      (page) => page?.data.length === 1 && page.data[0]!.status === 'sent',
      'the invoice issued and sent',
      30_000,
    ))!;
    const invoice = invoices.data[0]!;
    expect(invoice).to.deep.include({ contractId, period, currency: 'EUR', purchases: 29_800, refunds: 12_000, net: 17_800, sentTo: billingEmail });
    expect(invoice.declined).to.deep.equal({ count: 1, amount: 4_000 });
    expect(invoice.lines.map((l) => [l.kind, l.label, l.amount])).to.have.deep.members([
      ['purchase', 'Paris–Lyon return', 17_800],
      ['purchase', 'Hotel night, Lyon', 12_000],
      ['refund', 'Hotel night, Lyon', 12_000],
    ]);

    const mails = mail.to(billingEmail);
    expect(mails, 'one mail to the billing address').to.have.length(1);
    expect(mails[0]!.attachments.map((a) => a.contentType)).to.include('application/pdf');
    expect(mails[0]!.text).to.include(invoice.id);

    // Billing heard the mailer: the operations are invoiced and the outstanding settled.
    for (const id of [purchaseId, refund.data!.id]) {
      const invoiced = (await eventually(async () => (await operation(id)).data, (op) => op?.status === 'invoiced', `operation ${id} invoiced`, 20_000))!;
      expect(invoiced.invoiceId).to.equal(invoice.id);
    }
    expect((await operation(declined.id)).data!.status, 'a declined purchase is never invoiced').to.equal('declined');
    expect((await outstanding()).data).to.deep.include({ outstanding: 0, available: 100_000 });
  });
});
