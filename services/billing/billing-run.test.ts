// Billing runs end to end: the real service on FerretDB and RabbitMQ through the generated client;
// operations made through the API and answered by payment events this test publishes; invoices
// announced (billing.invoice-issued, seen by a probe) and marked sent by mail.invoice-sent. Then a
// run SIGKILLed mid-way in a child process (test-support/run-and-die.ts) and resumed by the
// service's reconciler without a duplicate invoice or event.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { type BillingClient, createBillingClient } from '../../generated/billing/client.js';
import type { Schemas } from '../../generated/billing/delegate.js';
import spec from '../../generated/billing/spec.json' with { type: 'json' };
import { type OpenApiSpec, createContractCheckingMiddleware } from '../../tools/contract-testing/index.js';
import { type EventProbe, startEventProbe } from '../../tools/testing/event-probe.js';
import { MONGO_URL, type TestService, startTestService, testDatabaseName, withMongo } from '../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer } from '../../tools/testing/tokens.js';
import { eventually } from '../../tools/testing/wait.js';
import { newId } from '../common/ids.js';
import { nextPeriod, periodOf } from './billing-domain.js';
import type { HeldContract, LedgerEntry, StoredInvoice, StoredOperation } from './billing-repository.js';
import { billingService } from './main.js';
import { type ContractSnapshot, type Publishers, orders, publishers, sealed, snapshot } from './test-support/fixtures.js';

const RUN_AND_DIE = fileURLToPath(new URL('./test-support/run-and-die.ts', import.meta.url));

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('Billing runs (integration)', function () {
  this.timeout(90_000);
  let issuer: TokenIssuer;
  let svc: TestService;
  let publish: Publishers;
  let probe: EventProbe;
  let operator: BillingClient;
  const period = periodOf(new Date());
  const checked = () => [createContractCheckingMiddleware({ api: 'billing', spec: spec as OpenApiSpec })];

  before(async () => {
    issuer = await createTokenIssuer();
    publish = publishers();
    probe = await startEventProbe('billing-run-probe', ['billing.invoice-issued']);
    svc = await startTestService(billingService, issuer, { BILLING_SCHEDULE: 'off', MONGO_DB: `${testDatabaseName('billing')}_runs` });
    operator = createBillingClient({ baseUrl: svc.url, token: await issuer.sign('op-alice', { roles: ['operator'] }), middleware: checked() });
  });

  after(async () => {
    await svc?.stop();
    await probe?.stop();
    await publish?.close();
    await svc?.drop();
  });

  const ledgerOf = (contractId: string) => withMongo(async (client) => client.db(svc.dbName).collection<LedgerEntry>('ledger').find({ owner: contractId }).toArray());
  const outstanding = async (contractId: string) => (await operator.GET('/contracts/{contractId}/outstanding', { params: { path: { contractId } } })).data!.outstanding;

  async function subscribed() {
    const contract = snapshot();
    await publish.contract('contract.subscribed', contract);
    await eventually(() => ledgerOf(contract.id), (entries) => entries.length > 0, 'contract known');
    return contract;
  }
  async function operation(contract: ContractSnapshot, body: Partial<Schemas['OperationRequest']> & { orders: Schemas['Order'][] }) {
    const { data, response, error } = await operator.POST('/operations', {
      params: { header: { 'Idempotency-Key': randomUUID() } },
      body: { contractId: contract.id, type: 'purchase', currency: 'EUR', ...body },
    });
    expect(response.status, JSON.stringify(error)).to.equal(201);
    return data!;
  }
  async function answered(contract: ContractSnapshot, op: Schemas['Operation'], outcome: 'authorized' | 'declined') {
    await publish.gateway(outcome === 'authorized' ? 'payment.authorized' : 'payment.declined', {
      operationId: op.id,
      contractId: contract.id,
      amount: op.amount,
      currency: 'EUR',
      ...(outcome === 'declined' ? { reason: 'insufficient-funds' } : {}),
      at: new Date().toISOString(),
    });
    await eventually(() => operator.GET('/operations/{operationId}', { params: { path: { operationId: op.id } } }), (r) => r.data?.status === outcome, outcome);
  }

  it('issues one invoice per contract with lines, totals and declined purchases, announces it, and answers the existing run when asked again', async () => {
    const a = await subscribed();
    const b = await subscribed();
    const pendingOnly = await subscribed();
    const trip = await operation(a, { orders: [{ reference: 'trip-1', items: [{ label: 'Paris–Lyon', unitPrice: 400, quantity: 2 }, { label: 'Hotel', unitPrice: 200, quantity: 1 }] }] });
    const second = await operation(a, { orders: orders(500, 1, 'Lyon–Nice') });
    const refused = await operation(a, { orders: orders(300, 1, 'Nice–Rome') });
    await answered(a, trip, 'authorized');
    await answered(a, second, 'authorized');
    await answered(a, refused, 'declined');
    const refund = await operation(a, { type: 'refund', refundOf: trip.id, orders: orders(200, 1, 'Hotel cancelled') });
    const other = await operation(b, { orders: orders(700) });
    await answered(b, other, 'authorized');
    await operation(pendingOnly, { orders: orders(900) });
    expect(await outstanding(a.id)).to.equal(1_000 + 500 - 200);

    const started = await operator.POST('/billing-runs', { body: { period } });
    expect([200, 202]).to.include(started.response.status);
    if (started.response.status === 202) expect(started.response.headers.get('location')).to.equal(`/billing-runs/run_${period}`);
    const run = await eventually(() => operator.GET('/billing-runs/{runId}', { params: { path: { runId: `run_${period}` } } }), (r) => r.data?.status === 'completed', 'run completed');
    expect(run.data).to.include({ id: `run_${period}`, period, trigger: 'operator', contractsSeen: 2, invoicesIssued: 2, operationsInvoiced: 4 });
    const again = await operator.POST('/billing-runs', { body: { period } });
    expect(again.response.status).to.equal(200);
    expect(again.data).to.deep.equal(run.data);

    const listA = await operator.GET('/invoices', { params: { query: { contractId: a.id, period } } });
    expect(listA.data!.data).to.have.length(1);
    const invoice = (await operator.GET('/invoices/{invoiceId}', { params: { path: { invoiceId: listA.data!.data[0]!.id } } })).data!;
    expect(invoice).to.deep.include({ contractId: a.id, period, currency: 'EUR', purchases: 1_500, refunds: 200, net: 1_300, declined: { count: 1, amount: 300 }, status: 'issued' });
    expect(invoice.customer).to.deep.equal({ id: a.customer.id, name: a.customer.name, billingEmail: a.customer.billingEmail });
    expect(invoice.lines.map((l) => [l.operationId, l.kind, l.label, l.unitPrice, l.quantity, l.amount])).to.have.deep.members([
      [trip.id, 'purchase', 'Paris–Lyon', 400, 2, 800],
      [trip.id, 'purchase', 'Hotel', 200, 1, 200],
      [second.id, 'purchase', 'Lyon–Nice #1', 500, 1, 500],
      [refund.id, 'refund', 'Hotel cancelled #1', 200, 1, 200],
    ]);
    expect((await operator.GET('/invoices', { params: { query: { contractId: pendingOnly.id } } })).data!.data).to.deep.equal([]);
    const issued = await probe.waitFor((e) => [a.id, b.id].includes((e.data as { contractId: string }).contractId), 2);
    expect(issued.map((e) => (e.data as { invoiceId: string }).invoiceId).sort()).to.deep.equal(
      [invoice.id, (await operator.GET('/invoices', { params: { query: { contractId: b.id } } })).data!.data[0]!.id].sort(),
    );
    expect(issued.find((e) => (e.data as { invoiceId: string }).invoiceId === invoice.id)!.data).to.deep.include({ net: 1_300, customer: invoice.customer });

    // The mailer sent it: the invoice is sent, its operations invoiced, the ledger credited by its net — once.
    const sentAt = new Date().toISOString();
    await publish.mailer({ invoiceId: invoice.id, contractId: a.id, to: a.customer.billingEmail, messageId: '<m1@mail>', sentAt });
    const sent = await eventually(() => operator.GET('/invoices/{invoiceId}', { params: { path: { invoiceId: invoice.id } } }), (r) => r.data?.status === 'sent', 'invoice sent');
    expect(sent.data).to.include({ sentAt, sentTo: a.customer.billingEmail });
    await eventually(() => outstanding(a.id), (o) => o === 0, 'credited');
    await publish.mailer({ invoiceId: invoice.id, contractId: a.id, to: a.customer.billingEmail, messageId: '<m1@mail>', sentAt }, randomUUID()); // sent again, as another event
    const marked = await operator.GET('/operations/{operationId}', { params: { path: { operationId: trip.id } } });
    expect(marked.data).to.include({ status: 'invoiced', invoiceId: invoice.id });
    expect(marked.data!.statusHistory.map((s) => s.status)).to.deep.equal(['pending-authorization', 'authorized', 'invoiced']);
    expect((await operator.GET('/operations/{operationId}', { params: { path: { operationId: refused.id } } })).data!.status).to.equal('declined');
    // Another event after the repeat proves the repeat was handled before it.
    const marker = await operation(a, { orders: orders(1) });
    await answered(a, marker, 'declined');
    expect((await ledgerOf(a.id)).filter((e) => e.kind === 'invoice')).to.have.length(1);
    expect(await outstanding(a.id)).to.equal(0);
  });

  it("bills what becomes invoiceable after its period's run on the next period's invoice, never on none", async () => {
    // The first test ran this period already: a purchase the bank answers now, and a refund
    // accepted now, belong to the next invoice.
    expect((await operator.GET('/billing-runs/{runId}', { params: { path: { runId: `run_${period}` } } })).response.status).to.equal(200);
    const next = nextPeriod(period);
    const late = await subscribed();
    const purchase = await operation(late, { orders: orders(800) });
    expect(purchase.period, 'accepted in this period').to.equal(period);
    await answered(late, purchase, 'authorized');
    const authorized = (await operator.GET('/operations/{operationId}', { params: { path: { operationId: purchase.id } } })).data!;
    expect(authorized.period).to.equal(next);
    expect(authorized.statusHistory.at(-1)).to.deep.include({ status: 'authorized', reason: `billed in ${next}: the ${period} billing run had started` });
    const refund = await operation(late, { type: 'refund', refundOf: purchase.id, orders: orders(300, 1, 'Returned') });
    expect(refund).to.include({ status: 'authorized', period: next });
    const declinedLate = await operation(late, { orders: orders(100, 1, 'Declined late') });
    await answered(late, declinedLate, 'declined');
    expect((await operator.GET('/operations/{operationId}', { params: { path: { operationId: declinedLate.id } } })).data!.period, 'a declined purchase stays in its period').to.equal(period);
  });

  it('resumes a run killed mid-way: every contract invoiced once, every invoice announced once', async () => {
    // A period of its own (ten years back), seeded straight into billing's database: 20 contracts, 5 authorized purchases each.
    const crashPeriod = `${Number(period.slice(0, 4)) - 10}${period.slice(4)}`;
    const contracts = Array.from({ length: 20 }, () => snapshot());
    const mandateIbanSealed = await sealed();
    await withMongo(async (client) => {
      const db = client.db(svc.dbName);
      await db.collection<HeldContract>('contracts').insertMany(contracts.map((c) => ({ _id: c.id, version: 1, contract: c, mandateIbanSealed, updatedAt: c.updatedAt })));
      const at = `${crashPeriod}-10T10:00:00.000Z`;
      await db.collection<StoredOperation>('operations').insertMany(
        contracts.flatMap((c) =>
          Array.from({ length: 5 }, (_, i) => ({
            _id: newId('op'),
            contractId: c.id,
            type: 'purchase' as const,
            status: 'authorized' as const,
            currency: 'EUR',
            amount: 100 * (i + 1),
            orders: orders(100 * (i + 1)),
            period: crashPeriod,
            ledgerSeq: i + 1,
            createdAt: at,
            updatedAt: at,
            statusHistory: [{ status: 'authorized' as const, at }],
          })),
        ),
      );
    });

    const child = spawn(process.execPath, ['--import', 'tsx', RUN_AND_DIE], {
      env: { ...process.env, MONGO_URL, MONGO_DB: svc.dbName, PERIOD: crashPeriod, KILL_AFTER: '7' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect((await exited(child)).signal, stderr).to.equal('SIGKILL');
    const left = await withMongo(async (client) => (await client.db(svc.dbName).collection<StoredInvoice>('invoices').find({ period: crashPeriod }).toArray()).length);
    // Killed at the 7th; the few contracts being invoiced beside it may have got theirs too.
    expect(left, 'invoices issued before the crash').to.be.within(7, 10);
    const runId = `run_${crashPeriod}`;
    expect((await operator.GET('/billing-runs/{runId}', { params: { path: { runId } } })).data!.status).to.equal('running');

    // A billing instance whose reconciler looks at runs left pending for more than 300 ms.
    const resumer = await startTestService(billingService, issuer, { BILLING_SCHEDULE: 'off', MONGO_DB: svc.dbName, RECONCILE_AFTER_MS: '300', RECONCILE_INTERVAL_MS: '200' });
    try {
      const client = createBillingClient({ baseUrl: resumer.url, token: await issuer.sign('op-alice', { roles: ['operator'] }), middleware: checked() });
      const run = await eventually(() => client.GET('/billing-runs/{runId}', { params: { path: { runId } } }), (r) => r.data?.status === 'completed', 'resumed run completed', 30_000);
      expect(run.data).to.include({ contractsSeen: 20, invoicesIssued: 20, operationsInvoiced: 100 });
      const invoices = await withMongo(async (c) => c.db(svc.dbName).collection<StoredInvoice>('invoices').find({ period: crashPeriod }).toArray());
      expect(invoices).to.have.length(20);
      expect(new Set(invoices.map((i) => i.contractId)).size).to.equal(20);
      expect(invoices.every((i) => i.purchases === 1_500 && i.lines.length === 5)).to.equal(true);
      const announced = await probe.waitFor((e) => (e.data as { period: string }).period === crashPeriod, 20, 20_000);
      expect(announced).to.have.length(20);
      expect(new Set(announced.map((e) => (e.data as { invoiceId: string }).invoiceId)).size).to.equal(20);
      expect(await withMongo(async (c) => c.db(svc.dbName).collection('billing_runs_pending').countDocuments({}))).to.equal(0);
    } finally {
      await resumer.stop();
    }
  });
});
