// The Contract API end to end: the real service on FerretDB/MongoDB, called over HTTP through the
// generated client; every response is checked against specs/contract.yaml by the client middleware.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createContractClient, type ContractClient } from '../../generated/contract/client.js';
import type { Schemas } from '../../generated/contract/delegate.js';
import spec from '../../generated/contract/spec.json' with { type: 'json' };
import { createContractCheckingMiddleware, getCoverageSummary, runInvalidRequests, skipUnlessWholeFileRuns } from '../../tools/contract-testing/index.js';
import type { OpenApiSpec } from '../../tools/contract-testing/index.js';
import { eventTypes } from '../../generated/events/catalog.js';
import { type EventProbe, startEventProbe } from '../../tools/testing/event-probe.js';
import { type TestService, startTestService, withMongo } from '../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer, forgedToken, unsignedToken } from '../../tools/testing/tokens.js';
import { logKey } from '../common/data/sequenced-log.js';
import { newId } from '../common/ids.js';
import { contractService } from './main.js';
import { mandateSealer } from '../common/sealed-values.js';

const VALID_IBAN = 'FR76 3000 6000 0112 3456 7890 189';
const OTHER_IBAN = 'DE89 3704 0044 0532 0130 00';

/** The gateway account acting for each corporate customer in these tests (what sign-up would answer). */
const accounts = new Map<string, string>();
const accountOf = (customerId: string) => accounts.get(customerId) ?? (accounts.set(customerId, newId('usr')), accounts.get(customerId)!);

function contractRequest(customerId = 'cust-acme-001', overrides: Partial<Schemas['ContractCreateRequest']> = {}): Schemas['ContractCreateRequest'] {
  return {
    customer: { id: customerId, name: 'ACME Works Council', billingEmail: 'accounts@example.com', userId: accountOf(customerId) },
    validFrom: '2026-01-01',
    validTo: '2026-12-31',
    currency: 'EUR',
    creditLimit: 500_000,
    mandate: { reference: 'ACME-2026-0001', iban: VALID_IBAN, bic: 'AGRIFRPP', signedOn: '2025-12-01' },
    ...overrides,
  };
}

describe('Contract API (integration)', function () {
  let issuer: TokenIssuer;
  let svc: TestService;
  let operatorToken: string;
  let operator: ContractClient;
  let otherOperator: ContractClient;
  let customer: ContractClient;
  const checked = () => [createContractCheckingMiddleware({ api: 'contract', spec: spec as OpenApiSpec })];
  const clientFor = (token: string) => createContractClient({ baseUrl: svc.url, token, middleware: checked() });

  before(async () => {
    issuer = await createTokenIssuer();
    svc = await startTestService(contractService, issuer);
    operatorToken = await issuer.sign('op-alice', { roles: ['operator'] });
    operator = clientFor(operatorToken);
    otherOperator = clientFor(await issuer.sign('op-bob', { roles: ['operator'] }));
    customer = clientFor(await issuer.sign(accountOf('cust-acme-001'), { roles: ['customer'] }));
  });

  after(async () => {
    await svc?.stop();
    await svc?.drop();
  });

  async function create(body = contractRequest(), key = randomUUID(), client = operator) {
    const { data, response } = await client.POST('/contracts', { params: { header: { 'Idempotency-Key': key } }, body });
    expect(response.status, 'create status').to.equal(201);
    return data!;
  }

  describe('creating', () => {
    it('creates an active contract at version 1 with the IBAN masked, and serves it at Location', async () => {
      const { data, response } = await operator.POST('/contracts', {
        params: { header: { 'Idempotency-Key': randomUUID() } },
        body: contractRequest(),
      });
      expect(response.status).to.equal(201);
      expect(data!.status).to.equal('active');
      expect(data!.version).to.equal(1);
      expect(data!.mandate.ibanMasked).to.equal('FR76 **** **** **** **** ***0 189');
      expect(JSON.stringify(data)).not.to.include('30006000011234567890');
      expect(response.headers.get('location')).to.equal(`/contracts/${data!.id}`);

      const fetched = await operator.GET('/contracts/{contractId}', { params: { path: { contractId: data!.id } } });
      expect(fetched.data).to.deep.equal(data);
    });

    it('replays the first answer for the same Idempotency-Key and body, and refuses another body with 409', async () => {
      const key = randomUUID();
      const first = await create(contractRequest(), key);
      const again = await create(contractRequest(), key);
      expect(again).to.deep.equal(first);

      const other = await operator.POST('/contracts', {
        params: { header: { 'Idempotency-Key': key } },
        body: contractRequest('cust-other'),
      });
      expect(other.response.status).to.equal(409);
      expect(other.error!.code).to.equal('idempotency-key-reused');
    });

    it('scopes Idempotency-Keys to the caller: two operators with one key create two contracts', async () => {
      const key = randomUUID();
      const a = await create(contractRequest(), key, operator);
      const b = await create(contractRequest(), key, otherOperator);
      expect(a.id).not.to.equal(b.id);
    });

    it('creates exactly one contract when 20 retries of one request race', async () => {
      const key = randomUUID();
      const results = await Promise.all(Array.from({ length: 20 }, () => create(contractRequest('cust-race'), key)));
      expect(new Set(results.map((r) => r.id)).size).to.equal(1);
      const history = await operator.GET('/contracts/{contractId}/history', { params: { path: { contractId: results[0]!.id } } });
      expect(history.data!.data.map((c) => c.version)).to.deep.equal([1]);
    });

    const refusals: [string, Partial<Schemas['ContractCreateRequest']>, string, string][] = [
      ['validTo before validFrom', { validFrom: '2026-06-01', validTo: '2026-05-31' }, 'invalid-validity-period', '/body/validTo'],
      ['an unknown currency', { currency: 'XYZ' }, 'unknown-currency', '/body/currency'],
      ['an IBAN with bad check digits', { mandate: { reference: 'R1', iban: 'FR77 3000 6000 0112 3456 7890 189', signedOn: '2025-12-01' } }, 'invalid-iban', '/body/mandate/iban'],
      ['an IBAN of the wrong length', { mandate: { reference: 'R1', iban: 'FR76 3000 6000 0112 3456 7890 18', signedOn: '2025-12-01' } }, 'invalid-iban', '/body/mandate/iban'],
      ['a mandate expiring before it was signed', { mandate: { reference: 'R1', iban: VALID_IBAN, signedOn: '2025-12-01', expiresOn: '2025-11-30' } }, 'invalid-mandate-dates', '/body/mandate/expiresOn'],
    ];
    for (const [what, overrides, code, pointer] of refusals) {
      it(`refuses ${what} with 422 ${code}, storing nothing`, async () => {
        const key = randomUUID();
        const { error, response } = await operator.POST('/contracts', {
          params: { header: { 'Idempotency-Key': key } },
          body: contractRequest('cust-refused', overrides),
        });
        expect(response.status).to.equal(422);
        expect(error!.code).to.equal(code);
        expect(error!.errors?.[0]?.pointer).to.equal(pointer);
        const list = await operator.GET('/contracts', { params: { query: { customerId: 'cust-refused' } } });
        expect(list.data!.data).to.have.length(0);
      });
    }
  });

  describe('lifecycle', () => {
    it('suspends, reactivates and cancels, raising the version, and refuses transitions the status does not allow', async () => {
      const { id } = await create();
      const path = { contractId: id };
      const suspended = await operator.POST('/contracts/{contractId}/suspend', { params: { path }, body: { reason: 'late payment' } });
      expect(suspended.data).to.include({ status: 'suspended', version: 2, statusReason: 'late payment' });

      const again = await operator.POST('/contracts/{contractId}/suspend', { params: { path }, body: { reason: 'again' } });
      expect(again.response.status).to.equal(409);
      expect(again.error!.code).to.equal('transition-not-allowed');

      const reactivated = await operator.POST('/contracts/{contractId}/reactivate', { params: { path }, body: { reason: 'paid' } });
      expect(reactivated.data).to.include({ status: 'active', version: 3 });
      const notSuspended = await operator.POST('/contracts/{contractId}/reactivate', { params: { path }, body: { reason: 'x' } });
      expect(notSuspended.response.status).to.equal(409);

      const cancelled = await operator.POST('/contracts/{contractId}/cancel', { params: { path }, body: { reason: 'customer left' } });
      expect(cancelled.data).to.include({ status: 'cancelled', version: 4 });
      for (const call of [
        () => operator.POST('/contracts/{contractId}/reactivate', { params: { path }, body: { reason: 'x' } }),
        () => operator.POST('/contracts/{contractId}/suspend', { params: { path }, body: { reason: 'x' } }),
        () => operator.POST('/contracts/{contractId}/cancel', { params: { path }, body: { reason: 'x' } }),
        () => operator.PUT('/contracts/{contractId}/credit-limit', { params: { path }, body: { creditLimit: 1, reason: 'x' } }),
        () => operator.PUT('/contracts/{contractId}/mandate', { params: { path }, body: { reason: 'x', mandate: { reference: 'R2', iban: OTHER_IBAN, signedOn: '2026-01-01' } } }),
      ]) {
        const { response } = await call();
        expect(response.status).to.equal(409);
      }
      const final = await operator.GET('/contracts/{contractId}', { params: { path } });
      expect(final.data).to.include({ status: 'cancelled', version: 4 });
    });

    it('changes the mandate and the credit limit, keeping every change in the history', async () => {
      const { id } = await create();
      const path = { contractId: id };
      const mandate = await operator.PUT('/contracts/{contractId}/mandate', {
        params: { path },
        body: { reason: 'bank changed', mandate: { reference: 'ACME-2026-0002', iban: OTHER_IBAN, signedOn: '2026-02-01', expiresOn: '2029-02-01' } },
      });
      expect(mandate.data!.mandate).to.deep.equal({ reference: 'ACME-2026-0002', ibanMasked: 'DE89 **** **** **** **30 00', signedOn: '2026-02-01', expiresOn: '2029-02-01' });
      const badIban = await operator.PUT('/contracts/{contractId}/mandate', {
        params: { path },
        body: { reason: 'x', mandate: { reference: 'R', iban: 'DE88 3704 0044 0532 0130 00', signedOn: '2026-02-01' } },
      });
      expect(badIban.response.status).to.equal(422);

      const limit = await operator.PUT('/contracts/{contractId}/credit-limit', { params: { path }, body: { creditLimit: 750_000, reason: 'more travel' } });
      expect(limit.data).to.include({ creditLimit: 750_000, version: 3 });

      const history = await operator.GET('/contracts/{contractId}/history', { params: { path } });
      expect(history.data!.data.map((c) => [c.version, c.type, c.reason ?? null, c.actor])).to.deep.equal([
        [1, 'subscribed', null, 'op-alice'],
        [2, 'mandate-changed', 'bank changed', 'op-alice'],
        [3, 'credit-limit-changed', 'more travel', 'op-alice'],
      ]);
      expect(history.data!.data[1]!.contract.mandate.reference).to.equal('ACME-2026-0002');
      expect(history.data!.data[0]!.contract.mandate.reference).to.equal('ACME-2026-0001');
    });

    it('answers 404 for a contract that does not exist, on reads and writes', async () => {
      const path = { contractId: 'ctr_00000000000000000000000000' };
      const responses = await Promise.all([
        operator.GET('/contracts/{contractId}', { params: { path } }),
        operator.GET('/contracts/{contractId}/history', { params: { path } }),
        operator.POST('/contracts/{contractId}/suspend', { params: { path }, body: { reason: 'x' } }),
        operator.POST('/contracts/{contractId}/reactivate', { params: { path }, body: { reason: 'x' } }),
        operator.POST('/contracts/{contractId}/cancel', { params: { path }, body: { reason: 'x' } }),
        operator.PUT('/contracts/{contractId}/credit-limit', { params: { path }, body: { creditLimit: 5, reason: 'x' } }),
        operator.PUT('/contracts/{contractId}/mandate', { params: { path }, body: { reason: 'x', mandate: { reference: 'R', iban: VALID_IBAN, signedOn: '2026-01-01' } } }),
      ]);
      expect(responses.map((r) => r.response.status)).to.deep.equal([404, 404, 404, 404, 404, 404, 404]);
      expect(responses[0]!.error!.code).to.equal('contract-not-found');
    });

    it('lets exactly one of 10 concurrent suspensions win; the others get 409 and the versions stay contiguous', async () => {
      const { id } = await create();
      const path = { contractId: id };
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => operator.POST('/contracts/{contractId}/suspend', { params: { path }, body: { reason: `r${i}` } })),
      );
      const statuses = results.map((r) => r.response.status);
      expect(statuses.filter((s) => s === 200)).to.have.length(1);
      expect(statuses.filter((s) => s === 409)).to.have.length(9);
      const history = await operator.GET('/contracts/{contractId}/history', { params: { path } });
      expect(history.data!.data.map((c) => c.version)).to.deep.equal([1, 2]);
    });

    it('applies concurrent credit-limit changes one version at a time, losing none that answered 200', async () => {
      const { id } = await create();
      const path = { contractId: id };
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => operator.PUT('/contracts/{contractId}/credit-limit', { params: { path }, body: { creditLimit: 1_000 + i, reason: `r${i}` } })),
      );
      const ok = results.filter((r) => r.response.status === 200);
      const refused = results.filter((r) => r.response.status === 409);
      expect(ok.length + refused.length).to.equal(8);
      expect(ok.length).to.be.greaterThan(0);
      for (const r of refused) expect(r.error!.code).to.equal('concurrent-modification');
      const history = await operator.GET('/contracts/{contractId}/history', { params: { path, query: { limit: 100 } } });
      const versions = history.data!.data.map((c) => c.version);
      expect(versions).to.deep.equal(Array.from({ length: ok.length + 1 }, (_, i) => i + 1));
      expect(new Set(ok.map((r) => r.data!.version)).size).to.equal(ok.length);
    });
  });

  describe('listing and history pages', () => {
    it('pages through a customer\'s contracts newest first with a cursor, with no gaps or repeats', async () => {
      const customerId = `cust-page-${randomUUID().slice(0, 8)}`;
      const created: string[] = [];
      for (let i = 0; i < 5; i++) created.push((await create(contractRequest(customerId))).id);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const { data } = await operator.GET('/contracts', { params: { query: { customerId, limit: 2, ...(cursor ? { cursor } : {}) } } });
        seen.push(...data!.data.map((c) => c.id));
        cursor = data!.nextCursor;
        expect(data!.hasMore).to.equal(cursor !== undefined);
        pages++;
      } while (cursor);
      expect(pages).to.equal(3);
      expect(seen).to.deep.equal([...created].reverse());
    });

    it('filters by status', async () => {
      const customerId = `cust-status-${randomUUID().slice(0, 8)}`;
      const a = await create(contractRequest(customerId));
      await create(contractRequest(customerId));
      await operator.POST('/contracts/{contractId}/suspend', { params: { path: { contractId: a.id } }, body: { reason: 'x' } });
      const { data } = await operator.GET('/contracts', { params: { query: { customerId, status: 'suspended' } } });
      expect(data!.data.map((c) => c.id)).to.deep.equal([a.id]);
    });

    it('pages through the history oldest first', async () => {
      const { id } = await create();
      const path = { contractId: id };
      for (let i = 0; i < 4; i++) {
        await operator.PUT('/contracts/{contractId}/credit-limit', { params: { path }, body: { creditLimit: 10 * i, reason: `step ${i}` } });
      }
      const first = await operator.GET('/contracts/{contractId}/history', { params: { path, query: { limit: 3 } } });
      expect(first.data!.data.map((c) => c.version)).to.deep.equal([1, 2, 3]);
      const second = await operator.GET('/contracts/{contractId}/history', { params: { path, query: { limit: 3, cursor: first.data!.nextCursor! } } });
      expect(second.data!.data.map((c) => c.version)).to.deep.equal([4, 5]);
      expect(second.data!.hasMore).to.equal(false);
    });

    it('answers 400 for a cursor it did not issue', async () => {
      const { error, response } = await operator.GET('/contracts', { params: { query: { cursor: 'bm90LWEtY3Vyc29y' } } });
      expect(response.status).to.equal(400);
      expect(error!.code).to.equal('invalid-cursor');
    });
  });

  describe('who may do what', () => {
    it('lets a customer account read the contracts that name it and their history, and nobody else\'s', async () => {
      const own = await create(contractRequest('cust-acme-001'));
      const foreign = await create(contractRequest('cust-globex'));
      expect((await customer.GET('/contracts/{contractId}', { params: { path: { contractId: own.id } } })).response.status).to.equal(200);
      expect((await customer.GET('/contracts/{contractId}/history', { params: { path: { contractId: own.id } } })).response.status).to.equal(200);
      expect((await customer.GET('/contracts/{contractId}', { params: { path: { contractId: foreign.id } } })).response.status).to.equal(404);
      expect((await customer.GET('/contracts/{contractId}/history', { params: { path: { contractId: foreign.id } } })).response.status).to.equal(404);

      const mine = await customer.GET('/contracts', {});
      expect(mine.data!.data.every((c) => c.customer.userId === accountOf('cust-acme-001'))).to.equal(true);
      expect(mine.data!.data.map((c) => c.id)).to.include(own.id);
      // Asking for another customer's contracts finds none of them: a customer account sees only what names it.
      const theirs = await customer.GET('/contracts', { params: { query: { customerId: 'cust-globex' } } });
      expect(theirs.response.status).to.equal(200);
      expect(theirs.data!.data).to.deep.equal([]);
    });

    it('refuses writes from a customer with 403', async () => {
      const own = await create(contractRequest('cust-acme-001'));
      const path = { contractId: own.id };
      const responses = await Promise.all([
        customer.POST('/contracts', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: contractRequest() }),
        customer.POST('/contracts/{contractId}/suspend', { params: { path }, body: { reason: 'x' } }),
        customer.POST('/contracts/{contractId}/cancel', { params: { path }, body: { reason: 'x' } }),
        customer.PUT('/contracts/{contractId}/credit-limit', { params: { path }, body: { creditLimit: 9_999_999, reason: 'x' } }),
        customer.POST('/contracts/{contractId}/reactivate', { params: { path }, body: { reason: 'x' } }),
        customer.PUT('/contracts/{contractId}/mandate', { params: { path }, body: { reason: 'x', mandate: { reference: 'R', iban: OTHER_IBAN, signedOn: '2026-01-01' } } }),
      ]);
      expect(responses.map((r) => r.response.status)).to.deep.equal([403, 403, 403, 403, 403, 403]);
      const after = await operator.GET('/contracts/{contractId}', { params: { path } });
      expect(after.data).to.include({ status: 'active', version: 1 });
    });

    it('refuses every contract operation to a merchant with 403', async () => {
      const merchant = clientFor(await issuer.sign('merchant-1', { roles: ['merchant'] }));
      const { id } = await create();
      const path = { contractId: id };
      const responses = await Promise.all([
        merchant.GET('/contracts', {}),
        merchant.GET('/contracts/{contractId}', { params: { path } }),
        merchant.GET('/contracts/{contractId}/history', { params: { path } }),
      ]);
      expect(responses.map((r) => r.response.status)).to.deep.equal([403, 403, 403]);
      expect(responses[0]!.error!.code).to.equal('forbidden');
    });

    it('refuses tokens that are unsigned, forged, expired, or for another issuer or audience with 401', async () => {
      const tokens = {
        'alg none': unsignedToken('op-alice', ['operator']),
        forged: await forgedToken('op-alice', ['operator']),
        expired: await issuer.sign('op-alice', { roles: ['operator'], expiresIn: Math.floor(Date.now() / 1000) - 60 }),
        'other issuer': await issuer.sign('op-alice', { roles: ['operator'], issuer: 'someone-else' }),
        'other audience': await issuer.sign('op-alice', { roles: ['operator'], audience: 'another-api' }),
        garbage: 'not-a-jwt',
      };
      for (const [what, token] of Object.entries(tokens)) {
        const { response, error } = await clientFor(token).GET('/contracts', {});
        expect(response.status, what).to.equal(401);
        expect(response.headers.get('www-authenticate'), what).to.match(/^Bearer/);
        expect(error!.code, what).to.be.oneOf(['invalid-token', 'token-expired', 'malformed-token']);
      }
      const missing = await createContractClient({ baseUrl: svc.url, middleware: checked() }).GET('/contracts', {});
      expect(missing.response.status).to.equal(401);
      expect(missing.error!.code).to.equal('missing-token');
    });
  });

  describe('crash recovery', () => {
    it('serves a change whose head copy a crash never wrote, at once, and lists it after the first read', async () => {
      const { id } = await create();
      // Simulate a crash between appending version 2 and writing the contract's head copy.
      await withMongo(async (client) => {
        const changes = client.db(svc.dbName).collection<{ _id: string; seq: number; version: number; contract: Record<string, unknown>; [field: string]: unknown }>('contract_changes');
        const v1 = await changes.findOne({ _id: logKey(id, 1) });
        await changes.insertOne({
          ...v1!,
          _id: logKey(id, 2),
          seq: 2,
          version: 2,
          type: 'suspended',
          status: 'suspended',
          reason: 'written before the crash',
          contract: { ...v1!.contract, status: 'suspended', statusReason: 'written before the crash', version: 2 },
        });
      });
      // Reads probe past the head copy: the change is served, and the copy repaired.
      const read = await operator.GET('/contracts/{contractId}', { params: { path: { contractId: id } } });
      expect(read.data).to.include({ version: 2, status: 'suspended' });
      const listed = await operator.GET('/contracts', { params: { query: { customerId: read.data!.customer.id } } });
      expect(listed.data!.data.find((c) => c.id === id)).to.include({ version: 2, status: 'suspended' });
      // And the next change builds on version 2, not on the stale copy.
      const next = await operator.POST('/contracts/{contractId}/reactivate', { params: { path: { contractId: id } }, body: { reason: 'ok' } });
      expect(next.data).to.include({ version: 3, status: 'active' });
    });
  });

  describe('events', () => {
    let probe: EventProbe;
    before(async () => {
      probe = await startEventProbe('contract-events-probe', eventTypes.filter((t) => t.startsWith('contract.')));
    });
    after(() => probe?.stop());

    /** This contract's events once `count` have arrived, or what came within `timeoutMs`. */
    const eventsOf = (contractId: string, count: number, timeoutMs?: number) =>
      probe.waitFor((e) => (e.data as { contractId?: string }).contractId === contractId, count, timeoutMs);

    it('announces every change as a CloudEvent carrying the version, the masked snapshot and the request\'s correlation id', async () => {
      const correlation = { 'X-Correlation-Id': `corr-${randomUUID()}` };
      const created = await operator.POST('/contracts', {
        params: { header: { 'Idempotency-Key': randomUUID(), ...correlation } as { 'Idempotency-Key': string } },
        body: contractRequest('cust-events'),
      });
      const path = { contractId: created.data!.id };
      const suspended = await operator.POST('/contracts/{contractId}/suspend', { params: { path }, body: { reason: 'audit' }, headers: correlation });
      await operator.PUT('/contracts/{contractId}/credit-limit', { params: { path }, body: { creditLimit: 42, reason: 'lower' }, headers: correlation });

      const events = await eventsOf(path.contractId, 3);
      expect(events.map((e) => [e.type, (e.data as { version: number }).version])).to.deep.equal([
        ['contract.subscribed', 1],
        ['contract.suspended', 2],
        ['contract.credit-limit-changed', 3],
      ]);
      for (const event of events) {
        expect(event).to.include({ specversion: '1.0', source: 'payspec/contract', datacontenttype: 'application/json', correlationid: correlation['X-Correlation-Id'] });
        expect(JSON.stringify(event)).not.to.include('30006000011234567890');
        // The IBAN travels sealed for the payment gateway only (the development key here).
        const sealed = (event.data as { mandateIbanSealed: string }).mandateIbanSealed;
        expect(await mandateSealer({}, {}).sealer.open(sealed, 'iban')).to.equal('FR7630006000011234567890189');
      }
      expect(events[0]!.id).to.equal(logKey(path.contractId, 1));
      const metrics = await (await fetch(`${svc.url}/metrics`)).text();
      expect(metrics, 'published events are counted for /metrics').to.match(/^events_published_total\{[^}]*type="contract\.suspended"[^}]*\} [1-9]/m);
      expect(metrics, 'request durations are labelled by operationId').to.match(/^http_request_duration_seconds_count\{[^}]*operation="createContract"[^}]*status="201"[^}]*\} [1-9]/m);
      expect(events[1]!.causationid).to.equal(suspended.response.headers.get('x-request-id'));
      expect((events[1]!.data as { reason?: string; contract: { status: string } })).to.deep.include({ reason: 'audit' });
      expect((events[2]!.data as { contract: { creditLimit: number; mandate: { ibanMasked: string } } }).contract).to.deep.include({ creditLimit: 42 });
    });

    it('announces nothing for a refused change', async () => {
      const { id } = await create(contractRequest('cust-events-refused'));
      await eventsOf(id, 1);
      const refused = await operator.POST('/contracts/{contractId}/reactivate', { params: { path: { contractId: id } }, body: { reason: 'x' } });
      expect(refused.response.status).to.equal(409);
      // Rather than wait a while for an event that should not come: a change accepted after the
      // refusal is announced after anything the refusal announced (the relay publishes in write
      // order, on one queue to the probe), so once its event is here, so would the other be.
      const sentinel = await operator.POST('/contracts/{contractId}/suspend', { params: { path: { contractId: id } }, body: { reason: 'sentinel' } });
      expect(sentinel.response.status).to.equal(200);
      await probe.waitFor((e) => e.type === 'contract.suspended' && (e.data as { contractId?: string }).contractId === id, 1);
      expect((await eventsOf(id, 0)).map((e) => [e.type, (e.data as { version: number }).version])).to.deep.equal([
        ['contract.subscribed', 1],
        ['contract.suspended', 2],
      ]);
    });
  });

  describe('contract tests derived from the spec', () => {
    it('answers every schema-derived invalid request with a 4xx problem+json, never a 5xx', async () => {
      const { id } = await create();
      const forged = await forgedToken('op-alice', ['operator']);
      const contractId = { contractId: id };
      const valid: Record<string, Parameters<typeof runInvalidRequests>[0]['valid']> = {
        createContract: { headers: { 'idempotency-key': randomUUID() }, body: contractRequest() },
        listContracts: { query: { customerId: 'cust-acme-001', status: 'active', limit: 10 } },
        getContract: { path: contractId },
        suspendContract: { path: contractId, body: { reason: 'x' } },
        reactivateContract: { path: contractId, body: { reason: 'x' } },
        cancelContract: { path: contractId, body: { reason: 'x' } },
        changeMandate: { path: contractId, body: { reason: 'x', mandate: { reference: 'R', iban: VALID_IBAN, bic: 'AGRIFRPP', signedOn: '2026-01-01', expiresOn: '2027-01-01' } } },
        changeCreditLimit: { path: contractId, body: { creditLimit: 10, reason: 'x' } },
        listContractHistory: { path: contractId, query: { limit: 10 } },
      };
      let cases = 0;
      const failures: string[] = [];
      for (const [operationId, request] of Object.entries(valid)) {
        const result = await runInvalidRequests({
          api: 'contract',
          baseUrl: svc.url,
          spec: spec as OpenApiSpec,
          operationId,
          valid: request,
          tokens: { valid: operatorToken, forged },
        });
        cases += result.cases;
        failures.push(...result.failures);
      }
      console.log(`      contract API: ${cases} schema-derived invalid requests, ${failures.length} failures`);
      expect(failures).to.deep.equal([]);
      expect(cases).to.be.greaterThan(150);
      // None of them changed anything.
      const after = await operator.GET('/contracts/{contractId}', { params: { path: contractId } });
      expect(after.data).to.include({ version: 1, status: 'active' });
    });

    it('has exercised every operation of the spec with a success status', function () {
      skipUnlessWholeFileRuns(this); // what this file exercised: only meaningful when all of it ran
      const api = getCoverageSummary().apis.find((a) => a.api === 'contract');
      expect(api, 'coverage for the contract API').to.not.equal(undefined);
      const missing = api!.operations.filter((op) => !op.statuses.some((s) => s.exercised && s.key.startsWith('2'))).map((op) => op.operationId);
      expect(missing).to.deep.equal([]);
    });
  });
});
