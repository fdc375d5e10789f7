// The Billing API and its event handlers end to end: the real service on FerretDB and RabbitMQ,
// called through the generated client (every response checked against specs/billing.yaml); the
// other services' events (contract.*, payment.*, mail.invoice-sent) published by this test
// through real buses (test-support/fixtures.ts).
import { randomUUID } from 'node:crypto';
import amqplib from 'amqplib';
import { expect } from 'chai';
import { type BillingClient, createBillingClient } from '../../generated/billing/client.js';
import type { Schemas } from '../../generated/billing/delegate.js';
import spec from '../../generated/billing/spec.json' with { type: 'json' };
import { type OpenApiSpec, createContractCheckingMiddleware, runInvalidRequests } from '../../tools/contract-testing/index.js';
import { type EventProbe, startEventProbe } from '../../tools/testing/event-probe.js';
import { AMQP_PREFIX, AMQP_URL, type TestService, deleteTopology, startTestService, testDatabaseName, withMongo } from '../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer, forgedToken } from '../../tools/testing/tokens.js';
import { eventually } from '../../tools/testing/wait.js';
import { newId } from '../common/ids.js';
import type { HeldContract, LedgerEntry, StoredOperation } from './billing-repository.js';
import { billingService } from './main.js';
import { type ContractSnapshot, type Publishers, day, orders, publishers, sealed, snapshot } from './test-support/fixtures.js';

describe('Billing API (integration)', function () {
  this.timeout(60_000);
  let issuer: TokenIssuer;
  let svc: TestService;
  let publish: Publishers;
  let probe: EventProbe;
  let operatorToken: string;
  let operator: BillingClient;

  const checked = () => [createContractCheckingMiddleware({ api: 'billing', spec: spec as OpenApiSpec })];
  const clientFor = (token: string) => createBillingClient({ baseUrl: svc.url, token, middleware: checked() });
  const asCustomer = async (contract: ContractSnapshot) => clientFor(await issuer.sign(contract.customer.userId, { roles: ['customer'] }));

  /** The read model as billing holds it (the test reads billing's database by `_id`). */
  const held = (contractId: string) => withMongo(async (client) => (await client.db(svc.dbName).collection<HeldContract>('contracts').findOne({ _id: contractId })) ?? undefined);
  const ledgerOf = (contractId: string) =>
    withMongo(async (client) => (await client.db(svc.dbName).collection<LedgerEntry>('ledger').find({ owner: contractId }).toArray()).sort((a, b) => a.seq - b.seq));
  const storedOp = (id: string) => withMongo(async (client) => (await client.db(svc.dbName).collection<StoredOperation>('operations').findOne({ _id: id })) ?? undefined);

  /** Publishes the contract (as the contract service would) and waits until billing's ledger has recorded that version. */
  async function contractAt(type: Parameters<Publishers['contract']>[0], contract: ContractSnapshot) {
    const sent = await publish.contract(type, contract);
    await eventually(() => ledgerOf(contract.id), (entries) => entries.some((e) => e.contractVersion >= contract.version), `ledger of ${contract.id} at v${contract.version}`);
    return sent;
  }
  async function subscribed(overrides: Partial<ContractSnapshot> = {}) {
    const contract = snapshot(overrides);
    await contractAt('contract.subscribed', contract);
    return contract;
  }
  const next = (contract: ContractSnapshot, changes: Partial<ContractSnapshot>): ContractSnapshot => ({ ...contract, ...changes, version: contract.version + 1, updatedAt: new Date().toISOString() });

  const operationBody = (contractId: string, amount: number, extra: Partial<Schemas['OperationRequest']> = {}): Schemas['OperationRequest'] => ({
    contractId,
    type: 'purchase',
    currency: 'EUR',
    orders: orders(amount),
    ...extra,
  });
  const post = (body: Schemas['OperationRequest'], key = randomUUID(), client = operator) => client.POST('/operations', { params: { header: { 'Idempotency-Key': key } }, body });
  async function purchase(contractId: string, amount: number, client = operator) {
    const { data, response, error } = await post(operationBody(contractId, amount), randomUUID(), client);
    expect(response.status, JSON.stringify(error)).to.equal(201);
    return data!;
  }
  const outstanding = async (contractId: string) => (await operator.GET('/contracts/{contractId}/outstanding', { params: { path: { contractId } } })).data!;
  const getOp = (id: string, client = operator) => client.GET('/operations/{operationId}', { params: { path: { operationId: id } } });

  before(async () => {
    issuer = await createTokenIssuer();
    publish = publishers();
    probe = await startEventProbe('billing-probe', ['billing.payment-requested']);
    svc = await startTestService(billingService, issuer, { BILLING_SCHEDULE: 'off' });
    operatorToken = await issuer.sign('op-alice', { roles: ['operator'] });
    operator = clientFor(operatorToken);
  });

  after(async () => {
    await svc?.stop();
    await probe?.stop();
    await publish?.close();
    await svc?.drop();
  });

  describe('the contract read model', () => {
    it('applies only newer versions: out of order and duplicated events leave the highest one', async () => {
      const v1 = snapshot();
      const v2 = next(v1, { creditLimit: 50_000 });
      const v3 = next(v2, { status: 'suspended', statusReason: 'audit' });
      await publish.contract('contract.subscribed', v1);
      await publish.contract('contract.suspended', v3);
      await eventually(() => held(v1.id), (h) => h?.version === 3, 'v3 held');
      await publish.contract('contract.credit-limit-changed', v2); // late: older than what is held
      await publish.contract('contract.suspended', v3, { id: randomUUID() }); // the same version again, as another event
      await publish.contract('contract.subscribed', v1); // a redelivery (same event id)
      await eventually(() => ledgerOf(v1.id), (entries) => entries.length >= 1, 'ledger');
      // Everything above was handled once billing sees this later marker event's version.
      const v4 = next(v3, { status: 'active', statusReason: 'cleared' });
      await contractAt('contract.reactivated', v4);
      const contract = await held(v1.id);
      expect(contract).to.include({ version: 4 });
      expect(contract!.contract).to.include({ status: 'active', creditLimit: 50_000 });
      expect(contract!.mandateIbanSealed).to.equal(await sealed());
      expect(contract!.contract.customer.billingEmail).to.equal('accounts@acme.example');
      // The ledger recorded versions in rising order only.
      const versions = (await ledgerOf(v1.id)).map((e) => e.contractVersion);
      expect(versions).to.deep.equal([...versions].sort((a, b) => a - b));
      expect((await outstanding(v1.id)).creditLimit).to.equal(50_000);
    });

    it('keeps contract events published before billing first starts (the producer declared its queue)', async () => {
      const prefix = `${AMQP_PREFIX}_early`;
      const early = publishers(prefix);
      const contract = snapshot();
      let late: TestService | undefined;
      try {
        await early.contract('contract.subscribed', contract);
        // Nothing consumes yet: the event waits in billing's durable queue.
        const connection = await amqplib.connect(AMQP_URL);
        const channel = await connection.createChannel();
        const queue = await channel.checkQueue(`${prefix}.billing`);
        await connection.close();
        expect(queue.messageCount).to.equal(1);

        late = await startTestService(billingService, issuer, { BILLING_SCHEDULE: 'off', AMQP_PREFIX: prefix, MONGO_DB: `${testDatabaseName('billing')}_early` });
        const client = createBillingClient({ baseUrl: late.url, token: operatorToken, middleware: checked() });
        const answer = await eventually(
          () => client.GET('/contracts/{contractId}/outstanding', { params: { path: { contractId: contract.id } } }),
          (r) => r.response.status === 200,
          'the contract known to billing',
        );
        expect(answer.data).to.include({ outstanding: 0, creditLimit: contract.creditLimit });
      } finally {
        await early.close();
        await late?.stop();
        await late?.drop();
        await deleteTopology(prefix, 'contract', []);
      }
    });
  });

  describe('operations', () => {
    it('accepts a purchase as pending authorization, adds it to the outstanding amount and asks for its payment with the sealed mandate', async () => {
      const contract = await subscribed();
      const op = await purchase(contract.id, 1_250);
      expect(op).to.include({ contractId: contract.id, type: 'purchase', status: 'pending-authorization', amount: 1_250, currency: 'EUR', refundedAmount: 0 });
      expect(op.period).to.equal(new Date().toISOString().slice(0, 7));
      expect(op.statusHistory.map((s) => s.status)).to.deep.equal(['pending-authorization']);
      expect(await outstanding(contract.id)).to.include({ outstanding: 1_250, available: contract.creditLimit - 1_250 });

      const [requested] = await probe.waitFor((e) => (e.data as { operationId: string }).operationId === op.id, 1);
      expect(requested, 'billing.payment-requested').to.not.equal(undefined);
      expect(requested!.data).to.deep.include({
        operationId: op.id,
        contractId: contract.id,
        amount: 1_250,
        currency: 'EUR',
        mandate: { reference: contract.mandate.reference, ibanSealed: await sealed(), signedOn: contract.mandate.signedOn },
      });
      expect(JSON.stringify(requested)).not.to.include('30006000011234567890');
    });

    it('replays the first answer for the same Idempotency-Key and body, and refuses another body with 409', async () => {
      const contract = await subscribed();
      const key = randomUUID();
      const body = operationBody(contract.id, 300);
      const first = await post(body, key);
      const again = await post(body, key);
      expect(first.response.status).to.equal(201);
      expect(again.response.status).to.equal(201);
      expect(again.data!.id).to.equal(first.data!.id);
      const other = await post(operationBody(contract.id, 301), key);
      expect(other.response.status).to.equal(409);
      expect(other.error!.code).to.equal('idempotency-key-reused');
      expect((await outstanding(contract.id)).outstanding).to.equal(300);
    });

    it('refuses with 422 and the reason: not active, expired, mandate invalid, currency, credit limit; 404 for an unknown contract', async () => {
      const cases: [string, Partial<ContractSnapshot>, Partial<Schemas['OperationRequest']>, number, string][] = [
        ['suspended', { status: 'suspended' }, {}, 100, 'contract-not-active'],
        ['cancelled', { status: 'cancelled' }, {}, 100, 'contract-not-active'],
        ['not started', { validFrom: day(1), validTo: day(30) }, {}, 100, 'contract-not-active'],
        ['ended', { validFrom: day(-60), validTo: day(-1) }, {}, 100, 'contract-expired'],
        ['mandate signed tomorrow', { mandate: { reference: 'M', ibanMasked: 'FR76 ****', signedOn: day(1) } }, {}, 100, 'mandate-invalid'],
        ['mandate expired', { mandate: { reference: 'M', ibanMasked: 'FR76 ****', signedOn: day(-60), expiresOn: day(-1) } }, {}, 100, 'mandate-invalid'],
        ['another currency', {}, { currency: 'USD' }, 100, 'currency-mismatch'],
        ['over the limit', { creditLimit: 1_000 }, {}, 1_001, 'credit-limit-exceeded'],
      ];
      for (const [what, contractChanges, bodyChanges, amount, code] of cases) {
        const contract = await subscribed(contractChanges);
        const { response, error } = await post(operationBody(contract.id, amount, bodyChanges));
        expect(response.status, what).to.equal(422);
        expect(error!.code, what).to.equal(code);
        expect((await outstanding(contract.id)).outstanding, what).to.equal(0);
      }
      const unknown = await post(operationBody(newId('ctr'), 100));
      expect(unknown.response.status).to.equal(404);
      expect(unknown.error!.code).to.equal('contract-not-found');
      const zero = await post({ ...operationBody((await subscribed()).id, 0) });
      expect(zero.response.status).to.equal(422);
      expect(zero.error!.code).to.equal('zero-amount');
    });

    it('refunds an authorized purchase up to what remains of it, also under concurrency, and refuses the rest', async () => {
      const contract = await subscribed();
      const bought = await purchase(contract.id, 1_000);
      const refund = (amount: number, refundOf: string | null = bought.id) => post(operationBody(contract.id, amount, { type: 'refund', ...(refundOf !== null ? { refundOf } : {}) }));

      expect((await refund(100)).error!.code, 'before authorization').to.equal('purchase-not-authorized');
      await publish.gateway('payment.authorized', { operationId: bought.id, contractId: contract.id, amount: 1_000, currency: 'EUR', bankReference: 'dd-1', at: new Date().toISOString() });
      await eventually(() => getOp(bought.id), (r) => r.data?.status === 'authorized', 'authorized');

      const missing = await refund(100, null);
      expect(missing.response.status).to.equal(400);
      expect(missing.error!.errors?.[0]?.pointer).to.equal('/body/refundOf');
      expect((await refund(100, newId('op'))).error!.code).to.equal('purchase-not-found');

      // 10 concurrent refunds of 150 against 1,000: six fit.
      const answers = await Promise.all(Array.from({ length: 10 }, () => refund(150)));
      const statuses = answers.map((a) => a.response.status);
      expect(statuses.filter((s) => s === 201)).to.have.length(6);
      expect(answers.filter((a) => a.response.status === 422).map((a) => a.error!.code)).to.deep.equal(Array(4).fill('refund-exceeds-purchase'));
      expect((await refund(101)).error!.code).to.equal('refund-exceeds-purchase');
      const last = await refund(100);
      expect(last.response.status).to.equal(201);
      expect(last.data).to.include({ type: 'refund', status: 'authorized', refundOf: bought.id, amount: 100 });
      expect((await getOp(bought.id)).data!.refundedAmount).to.equal(1_000);
      expect((await outstanding(contract.id)).outstanding).to.equal(0);
    });

    it('accepts exactly 10 of 100 concurrent purchases when the credit limit allows 10', async () => {
      const contract = await subscribed({ creditLimit: 10_000 });
      const answers = await Promise.all(Array.from({ length: 100 }, () => post(operationBody(contract.id, 1_000))));
      const accepted = answers.filter((a) => a.response.status === 201);
      expect(accepted).to.have.length(10);
      expect(answers.filter((a) => a.response.status === 422).every((a) => a.error!.code === 'credit-limit-exceeded')).to.equal(true);
      expect(answers.filter((a) => a.response.status !== 201 && a.response.status !== 422)).to.deep.equal([]);
      expect(await outstanding(contract.id)).to.include({ outstanding: 10_000, available: 0 });
      const purchases = (await ledgerOf(contract.id)).filter((e) => e.kind === 'purchase');
      expect(purchases.map((e) => e.outstandingAfter)).to.deep.equal(Array.from({ length: 10 }, (_, i) => (i + 1) * 1_000));
    });

    it('accepts no purchase once a suspension arriving while purchases are in flight was handled (lag logged)', async () => {
      const contract = await subscribed({ creditLimit: 100_000_000 });
      const results: { status: number; code?: string; sentAt: number; id?: string }[] = [];
      let stop = false;
      const buyer = async () => {
        while (!stop) {
          const sentAt = Date.now();
          const { response, data, error } = await post(operationBody(contract.id, 10));
          results.push({ status: response.status, sentAt, ...(data ? { id: data.id } : {}), ...(error ? { code: error.code } : {}) });
        }
      };
      const buyers = Array.from({ length: 4 }, buyer);
      await eventually(async () => results.length, (n) => n >= 8, 'purchases flowing');
      const suspended = next(contract, { status: 'suspended', statusReason: 'payment incident' });
      const { publishedAt } = await publish.contract('contract.suspended', suspended);
      const ledger = await eventually(() => ledgerOf(contract.id), (entries) => entries.some((e) => e.kind === 'contract' && e.ref === 'v2'), 'suspension on the ledger');
      const handledSeen = Date.now();
      await eventually(async () => results.filter((r) => r.sentAt > handledSeen).length, (n) => n >= 8, 'purchases after the suspension');
      stop = true;
      await Promise.all(buyers);

      const suspensionSeq = ledger.find((e) => e.kind === 'contract' && e.ref === 'v2')!.seq;
      const entries = await ledgerOf(contract.id);
      expect(entries.filter((e) => e.kind === 'purchase' && e.seq > suspensionSeq), 'purchases after the suspension on the ledger').to.deep.equal([]);
      const after = results.filter((r) => r.sentAt > handledSeen);
      expect(after.every((r) => r.status === 422 && r.code === 'contract-not-active')).to.equal(true);
      const accepted = results.filter((r) => r.status === 201);
      expect(accepted.length).to.be.greaterThan(0);
      for (const r of accepted) expect((await storedOp(r.id!))!.ledgerSeq).to.be.lessThan(suspensionSeq);
      const firstRefused = Math.min(...results.filter((r) => r.status === 422).map((r) => r.sentAt));
      console.log(`      suspension lag: event published → first purchase refused ${Math.max(0, firstRefused - publishedAt)} ms (${accepted.length} accepted before, ${results.length - accepted.length} refused)`);
    });

    it('records the payment answers: authorized, or declined with the reason (no longer outstanding)', async () => {
      const contract = await subscribed();
      const ok = await purchase(contract.id, 700);
      const ko = await purchase(contract.id, 300);
      expect((await outstanding(contract.id)).outstanding).to.equal(1_000);
      const at = new Date().toISOString();
      await publish.gateway('payment.authorized', { operationId: ok.id, contractId: contract.id, amount: 700, currency: 'EUR', bankReference: 'dd-ok', at });
      await publish.gateway('payment.declined', { operationId: ko.id, contractId: contract.id, amount: 300, currency: 'EUR', reason: 'insufficient-funds', at });
      await publish.gateway('payment.declined', { operationId: ko.id, contractId: contract.id, amount: 300, currency: 'EUR', reason: 'insufficient-funds', at }); // redelivered
      const authorized = await eventually(() => getOp(ok.id), (r) => r.data?.status === 'authorized', 'authorized');
      expect(authorized.data!.statusHistory.map((s) => s.status)).to.deep.equal(['pending-authorization', 'authorized']);
      const declined = await eventually(() => getOp(ko.id), (r) => r.data?.status === 'declined', 'declined');
      expect(declined.data).to.include({ declineReason: 'insufficient-funds' });
      expect(declined.data!.statusHistory.map((s) => [s.status, s.reason])).to.deep.equal([
        ['pending-authorization', undefined],
        ['declined', 'insufficient-funds'],
      ]);
      expect((await outstanding(contract.id)).outstanding).to.equal(700);
      expect((await ledgerOf(contract.id)).filter((e) => e.kind === 'decline')).to.have.length(1);
    });

    it("lists a contract's operations newest first, a page at a time", async () => {
      const contract = await subscribed();
      const made = [];
      for (const amount of [1, 2, 3, 4, 5]) made.push(await purchase(contract.id, amount));
      const path = { contractId: contract.id };
      const first = await operator.GET('/contracts/{contractId}/operations', { params: { path, query: { limit: 2 } } });
      expect(first.data!.data.map((o) => o.amount)).to.deep.equal([5, 4]);
      expect(first.data!.hasMore).to.equal(true);
      const second = await operator.GET('/contracts/{contractId}/operations', { params: { path, query: { limit: 2, cursor: first.data!.nextCursor! } } });
      expect(second.data!.data.map((o) => o.amount)).to.deep.equal([3, 2]);
      const third = await operator.GET('/contracts/{contractId}/operations', { params: { path, query: { limit: 2, cursor: second.data!.nextCursor! } } });
      expect(third.data!.data.map((o) => o.amount)).to.deep.equal([1]);
      expect(third.data!.hasMore).to.equal(false);
    });
  });

  describe('access', () => {
    it('lets the customer account named by the contract use its own contract; another customer gets 404, a merchant 403', async () => {
      const mine = await subscribed();
      const theirs = await subscribed();
      const me = await asCustomer(mine);
      const op = await purchase(mine.id, 100, me);
      expect((await getOp(op.id, me)).response.status).to.equal(200);
      expect((await me.GET('/contracts/{contractId}/outstanding', { params: { path: { contractId: mine.id } } })).data!.outstanding).to.equal(100);
      expect((await me.GET('/contracts/{contractId}/operations', { params: { path: { contractId: mine.id } } })).data!.data).to.have.length(1);
      expect((await me.GET('/invoices', { params: { query: { contractId: mine.id } } })).response.status).to.equal(200);
      const noContract = await me.GET('/invoices', { params: { query: {} } });
      expect(noContract.response.status).to.equal(400);
      expect(noContract.error!.code).to.equal('contract-id-required');

      const other = await asCustomer(theirs);
      expect((await getOp(op.id, other)).response.status).to.equal(404);
      expect((await other.GET('/contracts/{contractId}/outstanding', { params: { path: { contractId: mine.id } } })).response.status).to.equal(404);
      expect((await other.GET('/contracts/{contractId}/operations', { params: { path: { contractId: mine.id } } })).response.status).to.equal(404);
      expect((await post(operationBody(mine.id, 100), randomUUID(), other)).response.status).to.equal(404);
      expect((await other.GET('/invoices', { params: { query: { contractId: mine.id } } })).data!.data).to.deep.equal([]);
      expect((await other.POST('/billing-runs', { body: { period: '2026-01' } })).response.status).to.equal(403);

      const merchant = clientFor(await issuer.sign(mine.customer.userId, { roles: ['merchant'] }));
      expect((await getOp(op.id, merchant)).response.status).to.equal(403);
      expect((await post(operationBody(mine.id, 100), randomUUID(), merchant)).response.status).to.equal(403);
    });
  });

  describe('contract tests derived from the spec', () => {
    it('answers every schema-derived invalid request with a 4xx problem+json, never a 5xx', async () => {
      const contract = await subscribed();
      const op = await purchase(contract.id, 100);
      const forged = await forgedToken('op-alice', ['operator']);
      const valid: Record<string, Parameters<typeof runInvalidRequests>[0]['valid']> = {
        createOperation: { headers: { 'idempotency-key': randomUUID() }, body: operationBody(contract.id, 100) },
        getOperation: { path: { operationId: op.id } },
        listContractOperations: { path: { contractId: contract.id }, query: { limit: 10 } },
        getOutstanding: { path: { contractId: contract.id } },
        getBillingRun: { path: { runId: 'run_2026-01' } },
        listInvoices: { query: { contractId: contract.id, period: '2026-01', limit: 10 } },
        getInvoice: { path: { invoiceId: newId('inv') } },
      };
      let cases = 0;
      const failures: string[] = [];
      for (const [operationId, request] of Object.entries(valid)) {
        const result = await runInvalidRequests({ api: 'billing', baseUrl: svc.url, spec: spec as OpenApiSpec, operationId, valid: request, tokens: { valid: operatorToken, forged } });
        cases += result.cases;
        failures.push(...result.failures);
      }
      console.log(`      billing API: ${cases} schema-derived invalid requests, ${failures.length} failures`);
      expect(failures).to.deep.equal([]);
      expect((await outstanding(contract.id)).outstanding).to.equal(100);
    });
  });
});
