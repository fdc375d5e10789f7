// Benchmark of the billing service (issue 10, item 8), against a bare Express baseline:
//   1. POST /operations (a new Idempotency-Key each, purchases spread over 50 contracts), GET
//      /operations/{id} and GET /contracts/{id}/outstanding, with 10,000 operations stored;
//   2. a billing run over 100,000 authorized operations of 1,000 contracts: seconds from the POST
//      to the run completed, and the billing process's peak resident memory.
//
//   npx tsx tools/bench/billing.ts [--duration 10] [--connections 50] [--warmup 2] [--timeout 30]
//                                  [--contracts 1000] [--stored-for-post 10000] [--stored-for-run 100000]
//
// Billing runs in its own process (production settings) on a fresh `bench_*` database and AMQP
// prefix. Its 1,000 contracts arrive as contract.subscribed events, published as the contract
// service would; the stored operations are inserted directly (insertMany, 1,000 at a time) as
// billing stores them, with their ledger entries. It cleans up (servers, exchanges and queues,
// database), also on failure. Part of `make bench`; run alone, it prints its section of
// docs/benchmarks.md.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type autocannon from 'autocannon';
import type { Db } from 'mongodb';
import { pino } from 'pino';
import { EventBus } from '../../services/common/events/event-bus.js';
import { type HeadCopy, logKey } from '../../services/common/data/sequenced-log.js';
import { newId } from '../../services/common/ids.js';
import type { LedgerEntry, StoredOperation } from '../../services/billing/billing-repository.js';
import { periodOf } from '../../services/billing/billing-domain.js';
import { orders, sealed, snapshot } from '../../services/billing/test-support/fixtures.js';
import { deleteTopology } from '../testing/service-harness.js';
import { createTokenIssuer } from '../testing/tokens.js';
import { Cleanup, type LoadOptions, type RouteResult, amqpUrl, formatTable, loadRoute, localDatabaseProcess, log, openBenchDatabase, parseBenchOptions, startBenchService, startServer } from './harness.js';
import type { DatabaseInfo } from './report.js';
import { type Scenario, rowsAgainstFirst } from './results.js';
import { isMain, runAlone } from './scenarios.js';

const SCRIPT = 'tools/bench/billing.ts';
/** Contracts the POST load spreads over (each a ledger of its own). */
export const LOAD_CONTRACTS = 50;
export const SEED_BATCH = 1_000;
/** The targets (issue 10). */
export const TARGET = { postVsBaseline: 0.05, runSeconds: 60, runRssMb: 250 };
export interface BillingOptions {
  load: LoadOptions;
  /** Contracts billing knows (received as contract.subscribed events). */
  contracts: number;
  /** Operations stored while the routes are loaded, and when the billing run starts. */
  storedForPost: number;
  storedForRun: number;
}

/** The sizes: the routes with 10,000 operations stored, the run over 100,000 of 1,000 contracts. */
export const BILLING_DEFAULTS: BillingOptions = { load: { duration: 10, connections: 50, warmup: 2, timeout: 30 }, contracts: 1_000, storedForPost: 10_000, storedForRun: 100_000 };
export const BILLING_ROUTE = { post: 'POST /operations', get: 'GET /operations/{id}', outstanding: 'GET /contracts/{id}/outstanding' } as const;

export interface BillingDetails {
  options: BillingOptions;
  database: DatabaseInfo;
  /** Seconds billing took to handle the CONTRACTS contract.subscribed events. */
  eventsSeconds: number;
  /** Authorized operations of the period when the run started. */
  invoiceable: number;
  run: { seconds: number; invoicesIssued: number; operationsInvoiced: number };
  /** The run's billing process: resident MB before the run, the peak sampled every 250 ms, and its VmHWM. */
  rssBeforeMb: number;
  peakSampledMb: number;
  hwmMb: number;
}

export async function runBilling(options: BillingOptions): Promise<Scenario<BillingDetails>> {
  const { load, contracts: CONTRACTS, storedForPost: STORED_FOR_POST, storedForRun: STORED_FOR_RUN } = options;
  const cleanup = new Cleanup();
  try {
    const db = await openBenchDatabase(cleanup);
    const billingDb = db.mongo.db(db.dbName);
    const databaseProcess = localDatabaseProcess(db.mongoUrl);
    const issuer = await createTokenIssuer();
    const token = await issuer.sign('op-bench', { roles: ['operator'] });

    const baseline = await startServer('baseline', 'tools/bench/baseline-server.ts', {}, '/hello');
    cleanup.add(() => baseline.stop());
    // The contract producer's topology (the exchange too) goes last, once billing has stopped publishing.
    cleanup.add(() => deleteTopology(db.dbName, 'contract', []));
    const billing = await startBenchService('billing', db, cleanup, { AUTH_JWKS: JSON.stringify(issuer.jwks), BILLING_SCHEDULE: 'off' });

    // Contracts: as the contract service announces them.
    const contracts = Array.from({ length: CONTRACTS }, (_, i) => snapshot({ creditLimit: 1_000_000_000_000, customer: { id: `cust-${i}`, name: `Customer ${i}`, billingEmail: `billing-${i}@example.com`, userId: newId('usr') } }));
    const producer = new EventBus({ url: amqpUrl(), prefix: db.dbName, service: 'contract', log: pino({ level: 'silent' }) });
    const mandateIbanSealed = await sealed();
    const eventsStarted = Date.now();
    await Promise.all(contracts.map((c) => producer.publish('contract.subscribed', { contractId: c.id, version: 1, at: c.createdAt, actor: 'op-bench', contract: c, mandateIbanSealed }, { id: logKey(c.id, 1), correlationId: c.id })));
    await producer.close();
    await waitFor(async () => (await billingDb.collection('ledger_heads').countDocuments()) >= CONTRACTS, 'contracts in the read model', 120_000);
    const eventsSeconds = (Date.now() - eventsStarted) / 1000;
    log(`${CONTRACTS} contract.subscribed events handled in ${eventsSeconds.toFixed(1)} s`);

    // 10,000 operations stored, then the routes.
    const period = periodOf(new Date());
    const seeder = new Seeder(billingDb, contracts, period);
    await seeder.grow(STORED_FOR_POST);
    const someOperation = await billingDb.collection<StoredOperation>('operations').findOne({});
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    let n = 0;
    const routes = [
      { name: 'baseline GET /hello', server: baseline, method: 'GET' as const, path: '/hello' },
      {
        name: BILLING_ROUTE.post,
        server: billing,
        method: 'POST' as const,
        path: '/operations',
        headers: auth,
        setupRequest: (request: autocannon.Request): autocannon.Request => {
          const contract = contracts[n++ % LOAD_CONTRACTS]!;
          return { ...request, headers: { ...auth, 'idempotency-key': randomUUID() }, body: JSON.stringify({ contractId: contract.id, type: 'purchase', currency: 'EUR', orders: orders(1_000) }) };
        },
      },
      { name: BILLING_ROUTE.get, server: billing, method: 'GET' as const, path: `/operations/${someOperation!._id}`, headers: auth },
      { name: BILLING_ROUTE.outstanding, server: billing, method: 'GET' as const, path: `/contracts/${contracts[0]!.id}/outstanding`, headers: auth },
    ];
    const results: RouteResult[] = [];
    for (const route of routes) results.push(await loadRoute({ ...route, ...(databaseProcess ? { databasePid: databaseProcess.pid } : {}) }, load));
    console.error(`\n${formatTable(results, { database: databaseProcess !== undefined, machine: true })}\n`);

    // The billing run over 100,000 operations.
    await seeder.grow(STORED_FOR_RUN, { withLedger: false });
    const invoiceable = await billingDb.collection('operations').countDocuments({ period, status: 'authorized' });
    // The run in a billing process of its own, started for it: what the HTTP load above left in
    // the heap is not the run's, and the process's VmHWM is then the run's peak.
    await billing.stop();
    const runner = await startBenchService('billing', db, cleanup, { AUTH_JWKS: JSON.stringify(issuer.jwks), BILLING_SCHEDULE: 'off' });
    log(`billing run over ${invoiceable} authorized operations of ${CONTRACTS} contracts…`);
    const rssBefore = rssMb(runner.pid);
    let peakRss = rssBefore;
    const runStarted = Date.now();
    const started = await fetch(`${runner.url}/billing-runs`, { method: 'POST', headers: auth, body: JSON.stringify({ period }) });
    if (started.status !== 202) throw new Error(`POST /billing-runs answered ${started.status}`);
    let run: { status: string; invoicesIssued: number; operationsInvoiced: number; contractsSeen: number } | undefined;
    for (;;) {
      peakRss = Math.max(peakRss, rssMb(runner.pid));
      run = (await (await fetch(`${runner.url}/billing-runs/run_${period}`, { headers: auth })).json()) as typeof run;
      if (run!.status === 'completed') break;
      if (Date.now() - runStarted > 600_000) throw new Error('the run did not complete within 10 minutes');
      await sleep(250);
    }
    const runSeconds = (Date.now() - runStarted) / 1000;
    const hwm = hwmMb(runner.pid);
    log(`run: ${runSeconds.toFixed(1)} s, ${run!.invoicesIssued} invoices, ${run!.operationsInvoiced} operations; RSS ${rssBefore} MB before, peak sampled ${peakRss} MB, VmHWM ${hwm} MB`);

    return {
      rows: rowsAgainstFirst(results),
      details: {
        options,
        database: db.database,
        eventsSeconds,
        invoiceable,
        run: { seconds: runSeconds, invoicesIssued: run!.invoicesIssued, operationsInvoiced: run!.operationsInvoiced },
        rssBeforeMb: rssBefore,
        peakSampledMb: peakRss,
        hwmMb: hwm,
      },
      command: `npx tsx ${SCRIPT} --duration ${load.duration} --connections ${load.connections} --warmup ${load.warmup} --timeout ${load.timeout} --contracts ${CONTRACTS} --stored-for-post ${STORED_FOR_POST} --stored-for-run ${STORED_FOR_RUN}`,
    };
  } finally {
    await cleanup.run();
  }
}

/** Operations inserted as billing stores authorized purchases, spread evenly over the contracts, with their ledger entries. */
class Seeder {
  private stored = 0;
  private readonly seqs = new Map<string, { seq: number; outstanding: number }>();

  constructor(
    private readonly db: Db,
    private readonly contracts: { id: string }[],
    private readonly period: string,
  ) {}

  /** `withLedger: false` once the API has written to the ledgers too (the run reads only operations). */
  async grow(total: number, { withLedger = true } = {}): Promise<void> {
    const started = Date.now();
    const operations = this.db.collection<StoredOperation>('operations');
    const ledger = this.db.collection<LedgerEntry>('ledger');
    while (this.stored < total) {
      const ops: StoredOperation[] = [];
      const entries: LedgerEntry[] = [];
      const at = new Date().toISOString();
      for (let i = 0; i < Math.min(SEED_BATCH, total - this.stored); i++) {
        const contractId = this.contracts[(this.stored + i) % this.contracts.length]!.id;
        const position = this.seqs.get(contractId) ?? { seq: 1, outstanding: 0 };
        const amount = 100 + ((this.stored + i) % 900);
        position.seq++;
        position.outstanding += amount;
        this.seqs.set(contractId, position);
        const id = newId('op');
        ops.push({ _id: id, contractId, type: 'purchase', status: 'authorized', currency: 'EUR', amount, orders: orders(amount, 1, 'Seeded trip'), period: this.period, ledgerSeq: position.seq, createdAt: at, updatedAt: at, statusHistory: [{ status: 'pending-authorization', at }, { status: 'authorized', at }] });
        entries.push({ _id: logKey(contractId, position.seq), owner: contractId, seq: position.seq, kind: 'purchase', ref: id, amount, outstandingAfter: position.outstanding, contractVersion: 1, at });
      }
      await operations.insertMany(ops, { ordered: false });
      if (withLedger) await ledger.insertMany(entries, { ordered: false });
      this.stored += ops.length;
    }
    if (!withLedger) return log(`${total.toLocaleString('en-US')} operations stored (${((Date.now() - started) / 1000).toFixed(0)} s to seed)`);
    // Head copies where the seeded ledgers end (readers probe past them anyway).
    const heads = this.db.collection<HeadCopy<LedgerEntry>>('ledger_heads');
    for (const [owner, { seq }] of this.seqs) {
      const entry = await ledger.findOne({ _id: logKey(owner, seq) });
      if (entry) await heads.replaceOne({ _id: owner }, { seq, entry }, { upsert: true });
    }
    log(`${total.toLocaleString('en-US')} operations stored (${((Date.now() - started) / 1000).toFixed(0)} s to seed)`);
  }
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

/** A process's resident memory now / at its peak (VmRSS / VmHWM, Linux), in MB. */
const procStatus = (pid: number | undefined, field: string) => {
  if (pid === undefined) return 0;
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : 0;
};
const rssMb = (pid: number | undefined) => procStatus(pid, 'VmRSS');
const hwmMb = (pid: number | undefined) => procStatus(pid, 'VmHWM');

if (isMain(import.meta.url)) {
  const d = BILLING_DEFAULTS;
  const { load, extra } = parseBenchOptions(SCRIPT, d.load, {
    contracts: { default: String(d.contracts), meta: 'n' },
    'stored-for-post': { default: String(d.storedForPost), meta: 'n' },
    'stored-for-run': { default: String(d.storedForRun), meta: 'n' },
  });
  void runAlone('billing', () => runBilling({ load, contracts: Number(extra.contracts), storedForPost: Number(extra['stored-for-post']), storedForRun: Number(extra['stored-for-run']) }));
}
