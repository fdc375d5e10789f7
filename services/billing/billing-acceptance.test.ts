// An operation's acceptance cut short: the states a crash leaves between its draft, its ledger
// movement (and, for a refund, its reservation on the purchase) and its own record — written
// here straight through the repository, as the dead request left them — finished by the
// service's reconciler: stored when the movement is on the ledger or the refund reserved,
// dropped when nothing was posted. The outstanding amount always matches the operations.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Db, MongoClient } from 'mongodb';
import { MongoClient as Client } from 'mongodb';
import { type BillingClient, createBillingClient } from '../../generated/billing/client.js';
import spec from '../../generated/billing/spec.json' with { type: 'json' };
import { type OpenApiSpec, createContractCheckingMiddleware } from '../../tools/contract-testing/index.js';
import { type EventProbe, startEventProbe } from '../../tools/testing/event-probe.js';
import { MONGO_URL, type TestService, startTestService, testDatabaseName, withMongo } from '../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer } from '../../tools/testing/tokens.js';
import { eventually } from '../../tools/testing/wait.js';
import { Outbox } from '../common/events/outbox.js';
import { newId } from '../common/ids.js';
import { periodOf } from './billing-domain.js';
import { BillingRepository, type StoredOperation } from './billing-repository.js';
import { billingService } from './main.js';
import { type ContractSnapshot, type Publishers, orders, publishers, sealed, snapshot } from './test-support/fixtures.js';

describe('Billing: an acceptance interrupted by a crash is finished by the reconciler (integration)', function () {
  this.timeout(60_000);
  let issuer: TokenIssuer;
  let svc: TestService;
  let publish: Publishers;
  let probe: EventProbe;
  let operator: BillingClient;
  let mongo: MongoClient;
  let db: Db;
  let repository: BillingRepository;

  before(async () => {
    issuer = await createTokenIssuer();
    publish = publishers();
    probe = await startEventProbe('billing-acceptance-probe', ['billing.payment-requested']);
    // Every pending acceptance is looked at at once, every 100 ms (finishing a live request's is harmless too).
    svc = await startTestService(billingService, issuer, { BILLING_SCHEDULE: 'off', MONGO_DB: `${testDatabaseName('billing')}_accept`, RECONCILE_AFTER_MS: '0', RECONCILE_INTERVAL_MS: '100' });
    operator = createBillingClient({ baseUrl: svc.url, token: await issuer.sign('op-alice', { roles: ['operator'] }), middleware: [createContractCheckingMiddleware({ api: 'billing', spec: spec as OpenApiSpec })] });
    mongo = await new Client(MONGO_URL).connect();
    db = mongo.db(svc.dbName);
    repository = new BillingRepository(db, new Outbox(db));
  });

  after(async () => {
    await svc?.stop();
    await probe?.stop();
    await publish?.close();
    await mongo?.close();
    await svc?.drop();
  });

  async function subscribed(): Promise<ContractSnapshot> {
    const contract = snapshot();
    await publish.contract('contract.subscribed', contract);
    await eventually(() => repository.contract(contract.id), (held) => held !== undefined, 'contract known');
    return contract;
  }
  const outstanding = async (contractId: string) => (await operator.GET('/contracts/{contractId}/outstanding', { params: { path: { contractId } } })).data!.outstanding;
  const getOp = (id: string) => operator.GET('/operations/{operationId}', { params: { path: { operationId: id } } });
  const pendingDrafts = () => withMongo(async (client) => client.db(svc.dbName).collection('operations_accepting').countDocuments({}));

  /** A purchase as the request would have stored it. */
  async function purchaseDraft(contract: ContractSnapshot, amount: number): Promise<Omit<StoredOperation, 'ledgerSeq'>> {
    const at = new Date().toISOString();
    return {
      _id: newId('op'),
      contractId: contract.id,
      type: 'purchase',
      status: 'pending-authorization',
      currency: 'EUR',
      amount,
      orders: orders(amount),
      period: periodOf(at),
      createdAt: at,
      updatedAt: at,
      statusHistory: [{ status: 'pending-authorization', at }],
      mandate: { reference: contract.mandate.reference, ibanSealed: await sealed(), signedOn: contract.mandate.signedOn },
    };
  }

  it('a purchase posted on the ledger but never stored is stored and its payment requested', async () => {
    const contract = await subscribed();
    const operation = await purchaseDraft(contract, 700);
    await repository.beginAcceptance({ _id: operation._id, operation, movement: { kind: 'purchase', amount: 700, contractVersion: 1 } });
    const posted = await repository.post(contract.id, { kind: 'purchase', ref: operation._id, amount: 700, contractVersion: 1, at: operation.createdAt });
    expect(posted.posted).to.equal(true);
    // …and the request died here.
    const stored = await eventually(() => getOp(operation._id), (r) => r.response.status === 200, 'the operation stored by the reconciler');
    expect(stored.data).to.deep.include({ status: 'pending-authorization', amount: 700 });
    const requested = await probe.waitFor((e) => (e.data as { operationId: string }).operationId === operation._id, 1);
    expect(requested[0]!.data).to.deep.include({ amount: 700, contractId: contract.id });
    expect(await outstanding(contract.id)).to.equal(700);
    await eventually(pendingDrafts, (n) => n === 0, 'no acceptance left pending');
  });

  it('a purchase that never reached the ledger is dropped: nothing stored, nothing owed', async () => {
    const contract = await subscribed();
    const operation = await purchaseDraft(contract, 900);
    await repository.beginAcceptance({ _id: operation._id, operation, movement: { kind: 'purchase', amount: 900, contractVersion: 1 } });
    await eventually(pendingDrafts, (n) => n === 0, 'the draft dropped');
    expect((await getOp(operation._id)).response.status).to.equal(404);
    expect(await outstanding(contract.id)).to.equal(0);
  });

  it('a refund whose amount was reserved on its purchase is posted and stored', async () => {
    const contract = await subscribed();
    const { data: purchase } = await operator.POST('/operations', {
      params: { header: { 'Idempotency-Key': randomUUID() } },
      body: { contractId: contract.id, type: 'purchase', currency: 'EUR', orders: orders(1_000) },
    });
    await publish.gateway('payment.authorized', { operationId: purchase!.id, contractId: contract.id, amount: 1_000, currency: 'EUR', at: new Date().toISOString() });
    const authorized = await eventually(() => repository.operation(purchase!.id), (op) => op?.status === 'authorized', 'purchase authorized');
    const at = new Date().toISOString();
    const refund: Omit<StoredOperation, 'ledgerSeq'> = {
      _id: newId('op'),
      contractId: contract.id,
      type: 'refund',
      status: 'authorized',
      currency: 'EUR',
      amount: 400,
      orders: orders(400),
      refundOf: purchase!.id,
      period: periodOf(at),
      createdAt: at,
      updatedAt: at,
      statusHistory: [{ status: 'authorized', at, reason: 'refund' }],
    };
    await repository.beginAcceptance({ _id: refund._id, operation: refund, movement: { kind: 'refund', amount: -400, contractVersion: 1 } });
    expect(await repository.reserveRefund(authorized!, refund._id, 400, at)).to.equal(true);
    // …and the request died before its ledger movement.
    const stored = await eventually(() => getOp(refund._id), (r) => r.response.status === 200, 'the refund stored by the reconciler');
    expect(stored.data).to.deep.include({ type: 'refund', status: 'authorized', amount: 400, refundOf: purchase!.id });
    expect(await outstanding(contract.id)).to.equal(600);
    expect((await getOp(purchase!.id)).data!.refundedAmount).to.equal(400);
  });
});
