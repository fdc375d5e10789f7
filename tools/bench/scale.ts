// make bench (scale part): does each hot route cost the same whether 1,000 or 100,000 records
// are stored? FerretDB on SQLite scans a collection for every filter except `_id` alone (with the
// launcher's `_id` index, tools/infra/README.md), so a route whose cost grows with records that
// are not the caller's own is sending some other filter (docs/architecture.md, data access).
//
//   npx tsx tools/bench/scale.ts [--duration 3] [--connections 20] [--warmup 1] [--timeout 30]
//                                [--scales 1000,10000,100000] [--events 2000] [--passes 2]
//
// In one run it: opens three fresh `bench_*` databases (payment gateway, contract service, an
// event consumer's inbox: each service its own, as in production); starts the baseline, the
// gateway and the contract service in their own processes; creates the records the load uses
// through the API (users, funded senders, contracts); then for each scale grows the databases
// to that many records of each kind — users, wallet ledger entries, contracts, inbox records,
// mostly other owners' — by inserting the difference directly (insertMany, 1,000 at a time),
// checks with FerretDB's explain that lookups by `_id` are indexed, times finds by `_id` alone,
// loads each route with autocannon (the list routes, which read every contract, one request at a
// time), and runs events end to end through the bus into the grown inbox. It prints a
// table per scale, checks the balances, rewrites its section of docs/benchmarks.md and cleans
// up (servers, exchanges and queues, databases), also on failure and Ctrl-C. It exits 1,
// leaving the docs as they were, if any measured request failed.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type autocannon from 'autocannon';
import type { Db, Document } from 'mongodb';
import { pino } from 'pino';
import type { EventPayloads } from '../../generated/events/types.js';
import { commandIdFor } from '../../services/common/data/idempotency.js';
import { logKey } from '../../services/common/data/sequenced-log.js';
import { EventBus } from '../../services/common/events/event-bus.js';
import { Inbox } from '../../services/common/events/inbox.js';
import { idForIdempotencyKey, requestHash } from '../../services/common/ids.js';
import { type StoredContract, toApiContract } from '../../services/contract/contract-domain.js';
import { loadGatewayConfig } from '../../services/payment-gateway/gateway-config.js';
import { PasswordHasher } from '../../services/payment-gateway/identity/passwords.js';
import { toTransaction } from '../../services/payment-gateway/wallet/wallet-delegate.js';
import { type LedgerEntry, type Party, legKey } from '../../services/payment-gateway/wallet/wallet-repository.js';
import { deleteTopology } from '../testing/service-harness.js';
import { createTokenIssuer } from '../testing/tokens.js';
import {
  type BenchDatabase,
  Cleanup,
  type LoadOptions,
  type Route,
  type RouteResult,
  type RunningServer,
  formatTable,
  loadRoute,
  localDatabaseProcess,
  log,
  ms,
  openBenchDatabase,
  parseBenchOptions,
  perSec,
  redact,
  reportFailures,
  startBenchService,
  startServer,
  counter,
  inBatches,
} from './harness.js';
import { type DatabaseInfo, machineDetails, writeDocSection } from './report.js';
import { UNOPENABLE_SEALED_IBAN } from '../../services/common/events/test-support/fixtures.js';

const SCRIPT = 'tools/bench/scale.ts';
/** Short runs: 10 routes × 3 scales, plus seeding 100k records of each kind, in well under 10 minutes. */
const DEFAULTS: Partial<LoadOptions> = { duration: 3, connections: 20, warmup: 1, timeout: 30 };
const EXTRA = {
  scales: { default: '1000,10000,100000', meta: 'list' },
  events: { default: '2000', meta: 'n' },
  passes: { default: '2', meta: 'n' },
};

/** Users signed up through the API; the first PAIRS send, the next PAIRS receive. */
const USERS = 20;
const PAIRS = 10;
/** One top-up per sender, the largest the spec allows: ~10⁸ transfers of 1. */
const FUNDING = 100_000_000;
/** Transfers each sender makes before the first scale: a history longer than one ledger read (50 entries). */
const HISTORY = 60;
/** All the load comes from one address, and the limiter counts attempts in flight (see gateway.ts). */
const SIGN_IN_LIMIT = 100_000;
/** Contracts created through the API for the reads: LOAD_CUSTOMERS customers, a full page (20) each. */
const LOAD_CONTRACTS = 40;
const LOAD_CUSTOMERS = 2;
/** PUT …/credit-limit rotates over this many seeded contracts (one hot contract would measure queueing). */
const MAX_ROTATION = 1_000;
/** Seeded records come in pairs of wallets of 10 ledger entries each: scales are multiples of this. */
const PAIR_ENTRIES = 20;
/** Seeded contracts per seeded customer. */
const CONTRACTS_PER_CUSTOMER = 10;
const SEED_BATCH = 1_000;
/** The list routes: requests per scale, one at a time, and how long one may take (a whole-collection read). */
const LIST_REQUESTS = 3;
const LIST_TIMEOUT_S = 300;
/** Seconds one list route may take at a scale: past it, fewer requests (at least 1), from the previous scale's latency. */
const LIST_BUDGET_S = 30;
/** Finds by `_id` timed per scale (after a tenth as many unmeasured). */
const LOOKUPS = 1_000;
/** The event consumer's retry delays (short: the bench's handler never fails). */
const RETRIES = [1_000];

const SETTINGS = loadGatewayConfig({});
const CURRENCY = 'EUR'; // a wallet's currency is fixed by its first top-up
const ARGON2 = { ARGON2_MEMORY_KIB: SETTINGS.ARGON2_MEMORY_KIB, ARGON2_TIME_COST: SETTINGS.ARGON2_TIME_COST };

const ROUTE = {
  baseline: 'baseline GET /hello',
  wallet: 'GET /wallet',
  me: 'GET /me',
  transfers: `POST /wallet/transfers (${PAIRS} pairs)`,
  transactions: 'GET /wallet/transactions?limit=20',
  contract: 'GET /contracts/{id}',
  creditLimit: 'PUT /contracts/{id}/credit-limit',
  create: 'POST /contracts',
  listCustomer: 'GET /contracts?customerId=…&limit=20',
  listAll: 'GET /contracts?limit=20',
} as const;
const EVENTS_ROW = 'events end to end (publish → consume → inbox → ack)';
const LOOKUP_ROW = '`findOne({_id})` on `wallet_ledger`, one at a time, no HTTP';
/** Routes that filter on something else than `_id` by design (they scan the head copies on FerretDB). */
const LIST_ROUTES = new Set<string>([ROUTE.listCustomer, ROUTE.listAll]);

interface BenchUser {
  /** The gateway account id (`usr_…`), from the sign-up answer. */
  id: string;
  email: string;
  password: string;
  token: string;
}

interface ScaleResult {
  scale: number;
  routes: RouteResult[];
  eventsPerSec: number;
  /** Documents per collection (`db/collection`) when the routes ran. */
  counts: Map<string, number>;
  /** Collections whose find by `_id` did not use an index (FerretDB only). */
  unindexed: string[];
  /** Collections checked. */
  checked: number;
  /** Finds by `_id` of random seeded ledger entries, one at a time from this process. */
  lookup: Lookups;
  /** Requests measured on each list route at this scale. */
  listRequests: number;
}

interface Lookups {
  perSec: number;
  p50: number;
  p99: number;
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const loadBefore = os.loadavg()[0] ?? 0;
  const cleanup = new Cleanup();
  cleanup.runOnSignals();

  try {
    const { load: options, extra } = parseBenchOptions(SCRIPT, DEFAULTS, EXTRA);
    const scales = parseScales(extra.scales);
    const eventCount = positive('events', extra.events);
    const passes = positive('passes', extra.passes);
    const command = commandLine(options, scales, eventCount, passes);

    // 1. One database per service, and one for the event consumer's inbox (each also its AMQP prefix).
    const gatewayDb = await openBenchDatabase(cleanup);
    const contractDb = await openBenchDatabase(cleanup);
    const eventsDb = await openBenchDatabase(cleanup);
    const databaseProcess = localDatabaseProcess(gatewayDb.mongoUrl);
    const withDatabasePid = (route: Route): Route => (databaseProcess ? { ...route, databasePid: databaseProcess.pid } : route);

    // 2. The servers, each in its own process.
    const issuer = await createTokenIssuer('scale-key');
    const operator = { authorization: `Bearer ${await issuer.sign('bench-operator', { roles: ['operator'], expiresIn: '6h' })}` };
    const baseline = await startServer('baseline', 'tools/bench/baseline-server.ts', {}, '/hello');
    cleanup.add(() => baseline.stop());
    const gateway = await startBenchService('payment-gateway', gatewayDb, cleanup, {
      ARGON2_MEMORY_KIB: String(ARGON2.ARGON2_MEMORY_KIB),
      ARGON2_TIME_COST: String(ARGON2.ARGON2_TIME_COST),
      SIGN_IN_MAX_FAILURES_PER_CLIENT: String(SIGN_IN_LIMIT),
      SIGN_IN_MAX_FAILURES_PER_ACCOUNT: String(SIGN_IN_LIMIT),
      SIGN_UP_MAX_PER_CLIENT: String(SIGN_IN_LIMIT),
    });
    const contract = await startBenchService('contract', contractDb, cleanup, { AUTH_JWKS: JSON.stringify(issuer.jwks) });

    // 3. What the load uses, through the API (so it is exactly what the services write).
    const api = new Api(gateway.url);
    const users = await signUpUsers(api);
    await signInAll(api, users);
    await inBatches(users.slice(0, PAIRS), 5, (user) =>
      api.call('POST', '/wallet/top-ups', { token: user.token, key: randomUUID(), body: { amount: FUNDING, currency: CURRENCY } }),
    );
    // A page of transactions reads the ledger from the head, 50 entries at a time (wallet-repository.ts
    // list): with a shorter history a page would read less. Every sender starts with more.
    await inBatches(Array.from({ length: PAIRS * HISTORY }, (_, n) => n), 20, (n) =>
      api.call('POST', '/wallet/transfers', {
        token: users[n % PAIRS]!.token,
        key: randomUUID(),
        body: { toEmail: users[PAIRS + (n % PAIRS)]!.email, amount: 1, currency: CURRENCY },
      }),
    );
    const contracts = new Api(contract.url, operator);
    const loadContracts = await createLoadContracts(contracts, users);
    // A real change record and head copy, cloned for the bulk seed (new ids, other customers).
    const template = await contractDb.mongo.db(contractDb.dbName).collection('contract_changes').findOne({ _id: logKey(loadContracts[0]!, 1) } as Document);
    if (!template) throw new Error('the first contract created through the API has no change record at version 1');
    log(`${USERS} users signed up, ${PAIRS} senders funded, ${HISTORY} transfers each; ${LOAD_CONTRACTS} contracts created`);

    // 4. The event consumer and publisher, on the events database's inbox and prefix.
    const events = await startEvents(eventsDb, cleanup);

    // 5. Each scale: grow the data, check the `_id` index, load each route, run the events.
    const seeder = new Seeder(gatewayDb, contractDb, eventsDb, template, await new PasswordHasher(ARGON2).hash('a seeded user never signs in'));
    const rotation = Math.min(MAX_ROTATION, scales[0]!);
    const results: ScaleResult[] = [];
    for (const scale of scales) {
      await seeder.growTo(scale);
      const counts = await countAll([gatewayDb, contractDb, eventsDb]);
      const { unindexed, checked } = await checkIdIndex([gatewayDb, contractDb, eventsDb], gatewayDb.database, counts);
      if (unindexed.length > 0) log(`finds by _id NOT indexed in: ${unindexed.join(', ')}`);
      const lookup = await timeLookups(gatewayDb, scale);
      log(`findOne({_id}) on wallet_ledger at ${scale.toLocaleString('en-US')}: p50 ${ms(lookup.p50)} ms, p99 ${ms(lookup.p99)} ms`);
      await signInAll(api, users); // fresh 10-minute tokens for this scale's gateway routes
      const listRequests = listRequestsAt(scale, results[results.length - 1]);
      const input = { baseline, gateway, contract, users, loadContracts, operator, rotation, first: results.length === 0, listRequests };
      const measured = await measureRoutes(scaleRoutes(input).map(withDatabasePid), options, passes);
      const eventsPerSec = await events.measure(eventCount);
      log(`events end to end at ${scale.toLocaleString('en-US')}: ${perSec(eventsPerSec)}/s`);
      console.log(`\n${scale.toLocaleString('en-US')} records of each kind:\n${formatTable(measured, { database: databaseProcess !== undefined, machine: true })}\n`);
      results.push({ scale, routes: measured, eventsPerSec, lookup, listRequests, counts, unindexed, checked });
    }

    // 6. Report. Failed requests make the figures meaningless: say so, and keep the docs as they were.
    const table = scaleTable(results);
    console.log(`\n${table}\n`);
    const failed = results.flatMap((r) => [
      ...reportFailures(r.routes).map((f) => `${f.name} at ${r.scale}`),
      ...r.routes.filter((f) => f.completed === 0).map((f) => `${f.name} at ${r.scale}: no request completed`),
    ]);
    if (failed.length > 0) {
      console.error(`Requests failed (${failed.join('; ')}), so these figures are not meaningful; docs/benchmarks.md is left unchanged.`);
      process.exitCode = 1;
      return;
    }
    const transferred = await checkBalances(api, users);
    log(`balances add up to ${(PAIRS * FUNDING).toLocaleString('en-US')}; ${transferred.toLocaleString('en-US')} transfers in all (warm-ups included)`);
    writeDocSection(
      'scale',
      renderSection({ command, options, scales, eventCount, passes, rotation, database: gatewayDb.database, mongoUrl: gatewayDb.mongoUrl, databaseProcess, results, table, loadBefore }),
    );
    log(`wrote docs/benchmarks.md (${Math.round((Date.now() - startedAt) / 1000)} s in all)`);
  } catch (err) {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  } finally {
    await cleanup.run();
  }
}

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}

function parseScales(value: string): number[] {
  const scales = value.split(',').map((s) => Number(s.trim()));
  for (const [i, n] of scales.entries()) {
    if (!Number.isInteger(n) || n < 100 || n % PAIR_ENTRIES !== 0) throw new Error(`--scales: each a multiple of ${PAIR_ENTRIES} ≥ 100, got ${value}`);
    if (i > 0 && n <= scales[i - 1]!) throw new Error(`--scales must grow (the databases are grown, never shrunk), got ${value}`);
  }
  if (scales.length === 0) throw new Error('--scales is empty');
  return scales;
}

/** The exact command, with every flag, for the write-up. */
function commandLine(options: LoadOptions, scales: number[], events: number, passes: number): string {
  const url = process.env.MONGO_URL ? `MONGO_URL=${redact(process.env.MONGO_URL)} ` : '';
  return `${url}npx tsx ${SCRIPT} --duration ${options.duration} --connections ${options.connections} --warmup ${options.warmup} --timeout ${options.timeout} --scales ${scales.join(',')} --events ${events} --passes ${passes}`;
}

// --- routes -----------------------------------------------------------------------------------

interface RouteInput {
  baseline: RunningServer;
  gateway: RunningServer;
  contract: RunningServer;
  users: BenchUser[];
  loadContracts: string[];
  operator: Record<string, string>;
  rotation: number;
  /** The first scale measured (the servers have not run these routes yet). */
  first: boolean;
  listRequests: number;
}

/** The routes of one scale, in order; baseline first. Transfers run before the transactions list, so its page is full. */
function scaleRoutes({ baseline, gateway, contract, users, loadContracts, operator, rotation, first, listRequests }: RouteInput): Route[] {
  // The lists read every contract stored: at 100k a request takes many seconds, and 20 connections
  // would only measure the queue. One at a time is their cost; a warm-up (the JIT) only at the
  // first scale, since the server process stays up.
  const listLoad = { amount: listRequests, connections: 1, warmupRequests: first ? 1 : 0, timeout: LIST_TIMEOUT_S };
  const json = { 'content-type': 'application/json' };
  const bearer = (user: BenchUser) => ({ authorization: `Bearer ${user.token}` });
  const next = counter();
  const asUser = (pick: () => BenchUser) => (request: autocannon.Request) => ({ ...request, headers: { ...request.headers, ...bearer(pick()) } });
  const anyUser = () => users[next() % USERS]!;
  const rotated = Array.from({ length: rotation }, (_, i) => seededContractId(i));
  const sender = () => users[next() % PAIRS]!;

  return [
    { name: ROUTE.baseline, server: baseline, method: 'GET', path: '/hello' },
    { name: ROUTE.wallet, server: gateway, method: 'GET', path: '/wallet', setupRequest: asUser(anyUser) },
    { name: ROUTE.me, server: gateway, method: 'GET', path: '/me', setupRequest: asUser(anyUser) },
    {
      // Sender i pays recipient i, 1 at a time, a new Idempotency-Key (a new transfer) each.
      name: ROUTE.transfers,
      server: gateway,
      method: 'POST',
      path: '/wallet/transfers',
      headers: json,
      setupRequest: (request) => {
        const i = next() % PAIRS;
        return {
          ...request,
          headers: { ...request.headers, ...bearer(users[i]!), 'idempotency-key': randomUUID() },
          body: JSON.stringify({ toEmail: users[PAIRS + i]!.email, amount: 1, currency: CURRENCY }),
        };
      },
    },
    { name: ROUTE.transactions, server: gateway, method: 'GET', path: '/wallet/transactions?limit=20', setupRequest: asUser(sender) },
    {
      name: ROUTE.contract,
      server: contract,
      method: 'GET',
      path: `/contracts/${loadContracts[0]}`,
      headers: operator,
      setupRequest: (request) => ({ ...request, path: `/contracts/${loadContracts[next() % loadContracts.length]}` }),
    },
    {
      // Over many seeded contracts: each change is an append at the contract's next version.
      name: ROUTE.creditLimit,
      server: contract,
      method: 'PUT',
      path: `/contracts/${rotated[0]}/credit-limit`,
      headers: { ...operator, ...json },
      setupRequest: (request) => {
        const n = next();
        return {
          ...request,
          path: `/contracts/${rotated[n % rotation]}/credit-limit`,
          body: JSON.stringify({ creditLimit: 100_000 + (n % 1_000), reason: 'scale benchmark' }),
        };
      },
    },
    {
      name: ROUTE.create,
      server: contract,
      method: 'POST',
      path: '/contracts',
      headers: { ...operator, ...json },
      body: JSON.stringify(contractBody('bench-post', users[0]!.id, 0)),
      setupRequest: (request) => ({ ...request, headers: { ...request.headers, 'idempotency-key': randomUUID() } }),
    },
    { name: ROUTE.listCustomer, server: contract, method: 'GET', path: `/contracts?customerId=${loadCustomer(0)}&limit=20`, headers: operator, ...listLoad },
    { name: ROUTE.listAll, server: contract, method: 'GET', path: '/contracts?limit=20', headers: operator, ...listLoad },
  ];
}


/**
 * Each timed route `passes` times, all routes in turn per pass (the warm-up only before the
 * first), keeping per route the pass with the lowest p50: the machine is shared, and whatever
 * else runs on it only ever adds latency. The list routes (a fixed number of requests) run once.
 */
async function measureRoutes(routes: Route[], options: LoadOptions, passes: number): Promise<RouteResult[]> {
  const best = new Map<string, RouteResult>();
  const timed = routes.filter((r) => r.amount === undefined);
  for (let pass = 1; pass <= passes; pass++) {
    for (const route of timed) {
      const result = await loadRoute(route, pass === 1 ? options : { ...options, warmup: 0 });
      const kept = best.get(route.name);
      // A failed request in any pass counts: its failures stay in the kept result.
      const failures = { non2xx: result.non2xx + (kept?.non2xx ?? 0), errors: result.errors + (kept?.errors ?? 0), timeouts: result.timeouts + (kept?.timeouts ?? 0) };
      const winner = !kept || result.p50 < kept.p50 || (result.p50 === kept.p50 && result.reqPerSec > kept.reqPerSec) ? result : kept;
      best.set(route.name, { ...winner, ...failures, statusCodes: mergeCounts(kept?.statusCodes, result.statusCodes) });
    }
  }
  for (const route of routes.filter((r) => r.amount !== undefined)) best.set(route.name, await loadRoute(route, options));
  return routes.map((r) => best.get(r.name)!);
}

function mergeCounts(a: Record<string, number> = {}, b: Record<string, number>): Record<string, number> {
  const merged = { ...a };
  for (const [code, n] of Object.entries(b)) merged[code] = (merged[code] ?? 0) + n;
  return merged;
}

/**
 * LIST_REQUESTS, or fewer when the slower list would take longer than LIST_BUDGET_S: its latency
 * at the previous scale, grown in proportion to the records (what a whole-collection read does).
 */
function listRequestsAt(scale: number, previous: ScaleResult | undefined): number {
  if (!previous) return LIST_REQUESTS;
  const slowest = Math.max(...previous.routes.filter((r) => LIST_ROUTES.has(r.name)).map((r) => r.p50));
  const expectedS = (slowest * (scale / previous.scale)) / 1000;
  return Math.max(1, Math.min(LIST_REQUESTS, Math.floor(LIST_BUDGET_S / expectedS)));
}

// --- data through the API ---------------------------------------------------------------------

/** Calls for set-up and checks; any answer but a 2xx throws. */
class Api {
  constructor(
    private readonly baseUrl: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  async call(method: 'GET' | 'POST', path: string, options: { token?: string; key?: string; body?: object } = {}): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...this.headers,
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.key !== undefined ? { 'idempotency-key': options.key } : {}),
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${String(body.detail ?? '')}`);
    return body;
  }
}

async function signUpUsers(api: Api): Promise<BenchUser[]> {
  const users = Array.from({ length: USERS }, (_, i) => ({ id: '', email: `scale-load-${i}@example.com`, password: `scale load password ${i}`, token: '' }));
  // Each sign-up hashes a password: a few at a time.
  await inBatches(users, 4, async (user, i) => {
    const created = await api.call('POST', '/auth/sign-up', {
      body: { email: user.email, password: user.password, firstName: 'Load', lastName: `User ${i}`, phone: `+4477009${String(i).padStart(5, '0')}`, role: 'customer' },
    });
    user.id = String(created.id);
  });
  return users;
}

async function signInAll(api: Api, users: BenchUser[]): Promise<void> {
  await inBatches(users, 4, async (user) => {
    const tokens = await api.call('POST', '/auth/sign-in', { body: { email: user.email, password: user.password } });
    if (typeof tokens.accessToken !== 'string') throw new Error(`sign-in of ${user.email} returned no access token`);
    user.token = tokens.accessToken;
  });
}

const IBAN = 'FR76 3000 6000 0112 3456 7890 189';
/** A contract for customer `customerId`, whose gateway account is `userId`. */
const contractBody = (customerId: string, userId: string, n: number) => ({
  customer: { id: customerId, name: `Bench customer ${customerId}`, billingEmail: 'accounts@example.com', userId },
  validFrom: '2026-01-01',
  validTo: '2026-12-31',
  currency: 'EUR',
  creditLimit: 500_000,
  mandate: { reference: `BENCH-${n}`, iban: IBAN, signedOn: '2025-12-01' },
});
const loadCustomer = (n: number) => `bench-load-cust-${n}`;

/** The contracts of LOAD_CUSTOMERS customers, each acting through one of the signed-up users. */
async function createLoadContracts(api: Api, users: BenchUser[]): Promise<string[]> {
  const ids: string[] = [];
  await inBatches(
    Array.from({ length: LOAD_CONTRACTS }, (_, n) => n),
    10,
    async (n) => {
      const customer = n % LOAD_CUSTOMERS;
      const created = await api.call('POST', '/contracts', { key: `scale-load-${n}`, body: contractBody(loadCustomer(customer), users[customer]!.id, n) });
      ids[n] = String(created.id);
    },
  );
  return ids;
}

/**
 * The balances (GET /wallet) add up to what the senders were funded with, and the recipients'
 * to the transfers made (1 each); transfers still settling get a few seconds.
 */
async function checkBalances(api: Api, users: BenchUser[]): Promise<number> {
  await signInAll(api, users);
  const expected = PAIRS * FUNDING;
  for (let attempt = 1; ; attempt++) {
    const balances = await Promise.all(users.map(async (user) => Number((await api.call('GET', '/wallet', { token: user.token })).balance)));
    const total = balances.reduce((a, b) => a + b, 0);
    if (total === expected) return balances.slice(PAIRS).reduce((a, b) => a + b, 0);
    if (attempt === 5) throw new Error(`balances add up to ${total}, not ${expected}: money was lost or made`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}


// --- data seeded directly ---------------------------------------------------------------------

const pad = (n: number) => String(n).padStart(24, '0');
/** Ids shaped like the services' (`usr_` + 26 characters), recognisably seeded (`sc…`). */
const seededUserId = (i: number) => `usr_sc${pad(i)}`;
const seededEmail = (i: number) => `scale-user-${i}@example.com`;
/** E.164, unique per seeded user, apart from the load users' +44 numbers. */
const seededPhone = (i: number) => `+336${String(i).padStart(8, '0')}`;
/** Seeded records are dated in the past month, older than anything the load writes. */
const SEED_EPOCH = Date.now() - 30 * 86_400_000;
const seededAt = (i: number) => new Date(SEED_EPOCH + i * 10).toISOString();

/**
 * What a POST with an Idempotency-Key creates is named after its command (services/common/data/
 * idempotency.ts): the same id keys the idempotency record and the contract, top-up or transfer.
 */
const commandId = (service: string, prefix: string, operation: string, principal: string, key: string) =>
  commandIdFor(service, prefix, { operation, principal, key });
const SEED_OPERATOR = 'scale-seed-operator';
const seededContractId = (i: number) => commandId('contract', 'ctr', 'createContract', SEED_OPERATOR, `scale-seed-${i}`);
/** The stored answer of a completed command, replayed to a retry. */
const completedCommand = (id: string, body: unknown, request: unknown, at: string, headers?: Record<string, string>) => ({
  _id: id,
  requestHash: requestHash(request),
  state: 'completed',
  answer: { status: 201, ...(headers ? { headers } : {}), body },
  at: new Date(at),
});

/**
 * Grows the three databases to N records of each kind, as the repositories store them (see
 * services/payment-gateway/identity/identity-repository.ts, wallet/wallet-repository.ts,
 * services/contract/contract-repository.ts, services/common/data/idempotency.ts,
 * services/common/events/inbox.ts):
 *
 * - users: N `users` with their `user_emails` and `user_phones` claims (one real argon2id hash for all);
 * - wallets: N `wallet_ledger` entries over N/10 of those users, in pairs of wallets: each is
 *   opened (`wallet_accounts`) and topped up once, then the pair makes 9 transfers to each other
 *   (alternating), so every entry, leg pointer (`wallet_legs`), transfer (`wallet_transfers`),
 *   head copy and idempotency record (`idempotency_keys`) agrees with the others;
 * - contracts: N `contract_changes` (version 1, cloned from one created through the API), their
 *   head copies in `contracts` and the creations' `idempotency_keys`, 10 contracts per customer;
 * - inbox: N handled events in `inbox` and `inbox_claims`.
 */
class Seeder {
  private seeded = 0;

  constructor(
    private readonly gateway: BenchDatabase,
    private readonly contract: BenchDatabase,
    private readonly events: BenchDatabase,
    private readonly template: Document,
    private readonly passwordHash: string,
  ) {}

  async growTo(scale: number): Promise<void> {
    const from = this.seeded;
    if (scale <= from) return;
    const started = Date.now();
    log(`seeding records ${from.toLocaleString('en-US')}…${(scale - 1).toLocaleString('en-US')} of each kind…`);
    // One SQLite file per database: the three grow in parallel, each by one writer.
    await Promise.all([this.seedGateway(from, scale), this.seedContracts(from, scale), this.seedInbox(from, scale)]);
    this.seeded = scale;
    log(`seeded up to ${scale.toLocaleString('en-US')} in ${Math.round((Date.now() - started) / 1000)} s`);
  }

  private async seedGateway(from: number, to: number): Promise<void> {
    const db = this.gateway.mongo.db(this.gateway.dbName);
    for (let start = from; start < to; start += SEED_BATCH) {
      const end = Math.min(start + SEED_BATCH, to);
      const users: Document[] = [];
      const emails: Document[] = [];
      const phones: Document[] = [];
      for (let i = start; i < end; i++) {
        const at = new Date(seededAt(i));
        users.push({
          _id: seededUserId(i),
          email: seededEmail(i),
          phone: seededPhone(i),
          passwordHash: this.passwordHash,
          firstName: 'Scale',
          lastName: `User ${i}`,
          role: 'customer',
          createdAt: at.toISOString(),
        });
        emails.push({ _id: seededEmail(i), userId: seededUserId(i), at });
        phones.push({ _id: seededPhone(i), userId: seededUserId(i), at });
      }
      const wallets = walletPairs(start / PAIR_ENTRIES, end / PAIR_ENTRIES);
      await insertAll(db, { users, user_emails: emails, user_phones: phones, ...wallets });
    }
  }

  private async seedContracts(from: number, to: number): Promise<void> {
    const db = this.contract.mongo.db(this.contract.dbName);
    const { _id: _templateId, requestId: _requestId, correlationId: _correlationId, ...template } = this.template;
    const templateContract = template.contract as StoredContract;
    for (let start = from; start < to; start += SEED_BATCH) {
      const changes: Document[] = [];
      const heads: Document[] = [];
      const commands: Document[] = [];
      for (let i = start; i < Math.min(start + SEED_BATCH, to); i++) {
        const id = seededContractId(i);
        const at = seededAt(i);
        const customer = `scale-cust-${Math.floor(i / CONTRACTS_PER_CUSTOMER)}`;
        const contract: StoredContract = {
          ...templateContract,
          id,
          customer: { id: customer, name: `Scale customer ${customer}`, billingEmail: 'accounts@example.com', userId: seededUserId(Math.floor(i / CONTRACTS_PER_CUSTOMER)) },
          mandate: { ...templateContract.mandate, reference: `SCALE-${i}` },
          version: 1,
          createdAt: at,
          updatedAt: at,
        };
        const change = { ...template, _id: logKey(id, 1), owner: id, seq: 1, contractId: id, version: 1, at, actor: SEED_OPERATOR, contract };
        changes.push(change);
        heads.push({ _id: id, seq: 1, entry: change });
        const { id: _id, version: _version, status: _status, createdAt: _createdAt, updatedAt: _updatedAt, ...request } = toApiContract(contract);
        commands.push(completedCommand(id, toApiContract(contract), request, at, { location: `/contracts/${id}` }));
      }
      await insertAll(db, { contract_changes: changes, contracts: heads, idempotency_keys: commands });
    }
  }

  private async seedInbox(from: number, to: number): Promise<void> {
    const db = this.events.mongo.db(this.events.dbName);
    for (let start = from; start < to; start += SEED_BATCH) {
      const records: Document[] = [];
      for (let i = start; i < Math.min(start + SEED_BATCH, to); i++) {
        // Event ids as the contract service makes them: the change's key.
        records.push({ _id: logKey(seededContractId(i), 1), type: 'contract.subscribed', at: new Date(seededAt(i)) });
      }
      await insertAll(db, { inbox_claims: records, inbox: records });
    }
  }
}

const TOP_UP = 100_000;
const TRANSFER = 1_000;
const TRANSFERS_PER_PAIR = PAIR_ENTRIES / 2 - 1;
const GATEWAY = 'payment-gateway';

/** Accounts, ledger entries, head copies, leg pointers, transfers and idempotency records of the wallet pairs [fromPair, toPair). */
function walletPairs(fromPair: number, toPair: number): Record<string, Document[]> {
  const accounts: Document[] = [];
  const ledger: Document[] = [];
  const heads: Document[] = [];
  const legs: Document[] = [];
  const transfers: Document[] = [];
  const commands: Document[] = [];
  for (let p = fromPair; p < toPair; p++) {
    const parties: Party[] = [2 * p, 2 * p + 1].map((i) => ({ userId: seededUserId(i), email: seededEmail(i), name: `Scale User ${i}` }));
    const balances = [0, 0];
    const latest: LedgerEntry[] = [];
    const append = (side: number, seq: number, entry: Omit<LedgerEntry, '_id' | 'owner' | 'seq' | 'transactionId' | 'currency'>) => {
      const account = parties[side]!.userId;
      const full: LedgerEntry = { _id: logKey(account, seq), owner: account, seq, ...entry, transactionId: idForIdempotencyKey('txn', 'wallet-ledger', entry.legId), currency: CURRENCY };
      ledger.push(full);
      legs.push({ _id: entry.legId, account, seq, at: entry.at });
      latest[side] = full;
      return full;
    };
    for (const side of [0, 1]) {
      const at = seededAt(PAIR_ENTRIES * p);
      const request = { amount: TOP_UP, currency: CURRENCY };
      const topUpId = commandId(GATEWAY, 'top', 'topUp', parties[side]!.userId, `scale-seed-top-up-${p}`);
      accounts.push({ _id: parties[side]!.userId, currency: CURRENCY, openedAt: at });
      balances[side]! += TOP_UP;
      const entry = append(side, 1, { legId: legKey(topUpId, 'credit'), type: 'top-up', amount: TOP_UP, balanceAfter: balances[side]!, at, requestHash: requestHash(request) });
      commands.push(completedCommand(topUpId, toTransaction(entry), request, at));
    }
    for (let t = 0; t < TRANSFERS_PER_PAIR; t++) {
      const [payer, payee] = t % 2 === 0 ? [0, 1] : [1, 0];
      const from = parties[payer]!;
      const to = parties[payee]!;
      const request = { toEmail: to.email, amount: TRANSFER, currency: CURRENCY };
      const transferId = commandId(GATEWAY, 'trf', 'transfer', from.userId, `scale-seed-transfer-${p}-${t}`);
      const at = seededAt(PAIR_ENTRIES * p + t + 1);
      const seq = t + 2;
      balances[payer]! -= TRANSFER;
      balances[payee]! += TRANSFER;
      const common = { amount: TRANSFER, at, transferId };
      const debit = append(payer, seq, { ...common, legId: legKey(transferId, 'debit'), type: 'transfer-out', balanceAfter: balances[payer]!, counterparty: to });
      append(payee, seq, { ...common, legId: legKey(transferId, 'credit'), type: 'transfer-in', balanceAfter: balances[payee]!, counterparty: from });
      transfers.push({ _id: transferId, from, to, amount: TRANSFER, currency: CURRENCY, requestHash: requestHash(request), status: 'completed', createdAt: at, completedAt: at });
      commands.push(completedCommand(transferId, toTransaction(debit), request, at));
    }
    for (const entry of latest) heads.push({ _id: entry.owner, seq: entry.seq, entry });
  }
  return {
    wallet_accounts: accounts,
    wallet_ledger: ledger,
    wallet_ledger_heads: heads,
    wallet_legs: legs,
    wallet_transfers: transfers,
    idempotency_keys: commands,
  };
}

/** insertMany per collection, unordered, one collection after the other (one writer per database file). */
async function insertAll(db: Db, byCollection: Record<string, Document[]>): Promise<void> {
  for (const [name, docs] of Object.entries(byCollection)) {
    if (docs.length > 0) await db.collection(name).insertMany(docs, { ordered: false });
  }
}

/** The three databases, in the order they are passed around. */
const ROLES = ['gateway', 'contract', 'events'];
/** Collections smaller than this are not checked for the `_id` index (see checkIdIndex). */
const MIN_CHECKED = 100;

/** Documents per collection of each database, as `<role>/<collection>`. */
async function countAll(databases: BenchDatabase[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const [i, database] of databases.entries()) {
    const db = database.mongo.db(database.dbName);
    for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
      counts.set(`${ROLES[i]}/${name}`, await countOf(db, name));
    }
  }
  return counts;
}

/** collStats' count: FerretDB answers it from SQLite at once, where a count reads every document (seconds at 100k). */
async function countOf(db: Db, collection: string): Promise<number> {
  try {
    const stats = await db.command({ collStats: collection });
    if (typeof stats.count === 'number') return stats.count;
  } catch {
    // a server without collStats
  }
  return db.collection(collection).estimatedDocumentCount();
}

/**
 * Whether FerretDB answers a find by `_id` from an index in every collection: its explain
 * returns SQLite's plan, `SEARCH <table> USING INDEX …` or `SCAN <table>`. A real lookup runs
 * first: an idle connection explains with the schema it had before the launcher added the index.
 */
async function checkIdIndex(databases: BenchDatabase[], database: DatabaseInfo, counts: Map<string, number>): Promise<{ unindexed: string[]; checked: number }> {
  if (!database.isFerretDb) return { unindexed: [], checked: 0 };
  const unindexed: string[] = [];
  let checked = 0;
  for (const [i, bench] of databases.entries()) {
    const db = bench.mongo.db(bench.dbName);
    for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
      // SQLite's planner scans a table of a few rows even with the index (its statistics say it
      // is cheaper): only collections that hold enough documents to matter are checked.
      if ((counts.get(`${ROLES[i]}/${name}`) ?? 0) < MIN_CHECKED) continue;
      checked++;
      let plan = '';
      for (let attempt = 0; attempt < 10; attempt++) {
        await db.collection(name).findOne({ _id: 'scale-probe' } as Document);
        const explained = await db.command({ explain: { find: name, filter: { _id: 'scale-probe' } } });
        plan = String((explained.queryPlanner as { Plan?: string[] } | undefined)?.Plan?.join(' ') ?? '');
        if (plan.includes('USING INDEX')) break;
        await new Promise((resolve) => setTimeout(resolve, 300)); // the launcher looks every 250 ms
      }
      if (!plan.includes('USING INDEX')) unindexed.push(`${ROLES[i]}/${name}`);
    }
  }
  return { unindexed, checked };
}

/**
 * The index itself, without HTTP: finds by `_id` of random seeded ledger entries (anywhere in the
 * collection, so also pages a route's recent entries would not touch), one at a time.
 */
async function timeLookups(bench: BenchDatabase, scale: number): Promise<Lookups> {
  const ledger = bench.mongo.db(bench.dbName).collection('wallet_ledger');
  const randomKey = () => logKey(seededUserId(Math.floor(Math.random() * (scale / 10))), 1 + Math.floor(Math.random() * 10));
  for (let i = 0; i < LOOKUPS / 10; i++) await ledger.findOne({ _id: randomKey() } as Document);
  const times: number[] = [];
  for (let i = 0; i < LOOKUPS; i++) {
    const key = randomKey();
    const started = performance.now();
    const found = await ledger.findOne({ _id: key } as Document);
    times.push(performance.now() - started);
    if (!found) throw new Error(`seeded ledger entry ${key} is missing`);
  }
  times.sort((a, b) => a - b);
  const total = times.reduce((a, b) => a + b, 0);
  return { perSec: (1000 * LOOKUPS) / total, p50: times[Math.floor(LOOKUPS / 2)]!, p99: times[Math.floor(LOOKUPS * 0.99)]! };
}

// --- events -----------------------------------------------------------------------------------

/**
 * A consumer (with the inbox of the events database, as a service's) and a publisher in this
 * process, under the events database's name as AMQP prefix; `measure(n)` publishes n
 * `contract.subscribed` events at once and times them until the consumer has handled them all
 * (as tools/bench/events.ts, on an inbox of the scale's size).
 */
async function startEvents(db: BenchDatabase, cleanup: Cleanup): Promise<{ measure(count: number): Promise<number> }> {
  const silent = pino({ level: 'silent' });
  const prefix = db.dbName;
  cleanup.add(() => deleteTopology(prefix, 'scale-consumer', RETRIES));
  const consumer = new EventBus({ url: amqpUrl(), prefix, service: 'scale-consumer', log: silent, inbox: new Inbox(db.mongo.db(db.dbName)), retryDelaysMs: RETRIES });
  cleanup.add(() => consumer.close());
  const publisher = new EventBus({ url: amqpUrl(), prefix, service: 'scale-publisher', log: silent });
  cleanup.add(() => publisher.close());

  let handled = 0;
  let target = 0;
  let reached: () => void = () => {};
  consumer.subscribe('contract.subscribed', async () => {
    if (++handled === target) reached();
  });
  await consumer.start();

  let published = 0;
  const run = async (count: number) => {
    handled = 0;
    target = count;
    const done = new Promise<void>((resolve) => (reached = resolve));
    const started = performance.now();
    await Promise.all(Array.from({ length: count }, () => publisher.publish('contract.subscribed', eventPayload(published++), { correlationId: prefix })));
    const timeout = setTimeout(() => reached(), 300_000);
    await done;
    clearTimeout(timeout);
    if (handled < count) throw new Error(`events: ${handled} of ${count} handled within 5 minutes`);
    return count / ((performance.now() - started) / 1000);
  };
  return {
    async measure(count) {
      await run(Math.max(1, Math.floor(count / 10))); // warm-up: connections, JIT
      return run(count);
    },
  };
}

const amqpUrl = () => process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

function eventPayload(i: number): EventPayloads['contract.subscribed'] {
  const at = new Date().toISOString();
  const id = `ctr_ev${pad(i)}`;
  return {
    contractId: id,
    version: 1,
    at,
    actor: 'bench',
    contract: {
      id,
      customer: { id: `cust-${i % 50}`, name: 'ACME', billingEmail: 'accounts@example.com', userId: 'usr_00000000000000000000000000' },
      status: 'active',
      validFrom: '2026-01-01',
      validTo: '2026-12-31',
      currency: 'EUR',
      creditLimit: 500_000,
      mandate: { reference: `R${i}`, ibanMasked: 'FR76 **** **** **** **** ***0 189', signedOn: '2025-12-01' },
      version: 1,
      createdAt: at,
      updatedAt: at,
    },
    mandateIbanSealed: UNOPENABLE_SEALED_IBAN,
  };
}

// --- report -----------------------------------------------------------------------------------

const k = (n: number) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : n.toLocaleString('en-US'));
/** req/s: whole numbers, but two digits for the slow lists (0.05/s is not 0). */
const rate = (n: number) => (n >= 10 ? perSec(n) : n.toPrecision(2));
const growth = (last: number, first: number) => (first > 0 ? `${(last / first).toFixed(2)}×` : '?');

/** A Markdown table padded to read well in a terminal; every column but the first right-aligned. */
function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i > 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i > 0 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Rows per route, columns per scale (req/s, p50, p99), then p50 at the largest scale over p50 at the smallest. */
function scaleTable(results: ScaleResult[]): string {
  const first = results[0]!;
  const last = results[results.length - 1]!;
  const header = ['route', ...results.flatMap((r) => [`req/s @${k(r.scale)}`, `p50 ms @${k(r.scale)}`, `p99 ms @${k(r.scale)}`]), `p50 @${k(last.scale)} / @${k(first.scale)}`];
  const rows = first.routes.map((route, i) => [
    `\`${route.name}\``,
    ...results.flatMap((r) => [rate(r.routes[i]!.reqPerSec), ms(r.routes[i]!.p50), ms(r.routes[i]!.p99)]),
    route.name === ROUTE.baseline ? '' : growth(last.routes[i]!.p50, route.p50),
  ]);
  rows.push([
    LOOKUP_ROW,
    ...results.flatMap((r) => [rate(r.lookup.perSec), ms(r.lookup.p50), ms(r.lookup.p99)]),
    growth(last.lookup.p50, first.lookup.p50),
  ]);
  // Events have a rate, not a latency per request: their ratio is time per event (the rates' inverse).
  rows.push([EVENTS_ROW, ...results.flatMap((r) => [`${perSec(r.eventsPerSec)} ev/s`, '–', '–']), `${growth(first.eventsPerSec, last.eventsPerSec)} (time/event)`]);
  return markdownTable(header, rows);
}

/** CPU per request in ms: the service's, and the database's when its process is on this machine. */
function cpuPerRequest(r: RouteResult): { service?: number; database?: number; total?: number } {
  const service = r.serverCpuMicros === undefined ? undefined : r.serverCpuMicros / 1000;
  const database = r.databaseCores === undefined || r.reqPerSec <= 0 ? undefined : (1000 * r.databaseCores) / r.reqPerSec;
  return { ...(service !== undefined ? { service } : {}), ...(database !== undefined ? { database } : {}), ...(service !== undefined ? { total: service + (database ?? 0) } : {}) };
}

/** Rows per route, a column per scale: service + database CPU ms per request; then the total's ratio. */
function cpuTable(results: ScaleResult[]): string {
  const first = results[0]!;
  const last = results[results.length - 1]!;
  const cell = (r: RouteResult) => {
    const { service, database } = cpuPerRequest(r);
    if (service === undefined) return '?';
    return database === undefined ? ms(service) : `${ms(service)} + ${ms(database)}`;
  };
  const rows = first.routes.map((route, i) => [
    `\`${route.name}\``,
    ...results.map((r) => cell(r.routes[i]!)),
    route.name === ROUTE.baseline ? '' : growth(cpuPerRequest(last.routes[i]!).total ?? 0, cpuPerRequest(route).total ?? 0),
  ]);
  return markdownTable(['route', ...results.map((r) => `CPU ms/req @${k(r.scale)}`), `@${k(last.scale)} / @${k(first.scale)}`], rows);
}

/** Collections × scales: what was stored when each scale's routes ran. */
function countsTable(results: ScaleResult[]): string {
  // Collections that stayed empty (inboxes of services that consume nothing here, idle outboxes) are left out.
  const names = [...new Set(results.flatMap((r) => [...r.counts].filter(([, n]) => n > 0).map(([name]) => name)))].sort();
  const rows = names.map((name) => [`\`${name}\``, ...results.map((r) => (r.counts.get(name) ?? 0).toLocaleString('en-US'))]);
  return markdownTable(['database/collection', ...results.map((r) => `@${k(r.scale)}`)], rows);
}

interface SectionInput {
  command: string;
  options: LoadOptions;
  scales: number[];
  eventCount: number;
  passes: number;
  rotation: number;
  database: DatabaseInfo;
  mongoUrl: string;
  databaseProcess: { pid: number; exe: string } | undefined;
  results: ScaleResult[];
  table: string;
  loadBefore: number;
}

function renderSection(input: SectionInput): string {
  const { command, options, scales, eventCount, passes, rotation, database, mongoUrl, databaseProcess, results, table, loadBefore } = input;
  const count = (n: number) => n.toLocaleString('en-US');
  const indexLine = !database.isFerretDb
    ? '- `_id` lookups: MongoDB, always from the `_id` index'
    : results.every((r) => r.unindexed.length === 0)
      ? `- \`_id\` lookups: indexed at every scale in every collection of ${MIN_CHECKED}+ documents (${[...new Set(results.map((r) => r.checked))].join(', ')} collections, checked before each scale's load): FerretDB's explain of a find by \`_id\` says \`SEARCH <table> USING INDEX <table>_payspec_id_path\`, the launcher's \`_id\` indexer (tools/infra/README.md). (SQLite still scans tables of a row or two, such as \`signing_keys\`, where its statistics say that is cheaper.)`
      : `- \`_id\` lookups: **not indexed** in ${results.map((r) => `${r.unindexed.length} of ${r.checked} collections at ${k(r.scale)}`).join(', ')} (FerretDB's explain says \`SCAN\`: a launcher without the \`_id\` indexer, tools/infra/README.md), e.g. ${[...new Set(results.flatMap((r) => r.unindexed))].slice(0, 6).map((c) => `\`${c}\``).join(', ')}`;
  return [
    `## Scale: hot routes at ${scales.map(k).join(', ').replace(/, ([^,]+)$/, ' and $1')} stored records`,
    '',
    `Written by \`make bench\` (\`${command}\`). Do not edit between the markers: the next run replaces it.`,
    '',
    `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    ...machineDetails(loadBefore),
    `- Database: ${database.description} at \`${redact(mongoUrl)}\`${databaseProcess ? ` (process \`${databaseProcess.exe}\` on this machine)` : ''}; three fresh \`bench_*\` databases — payment gateway, contract service, an event consumer's inbox — each also the AMQP prefix of its exchange and queues, all deleted at the end`,
    indexLine,
    `- Records: the databases are grown ${scales.map(k).join(' → ')} between measurements, the difference inserted directly (insertMany, ${count(SEED_BATCH)} at a time, unordered), as the repositories store them: N users (with their e-mail and phone claims; one real argon2id hash), N wallet ledger entries over N/10 of those users (pairs of wallets, each opened and topped up once, then 9 transfers between the two: accounts, entries, leg pointers, transfers, head copies and idempotency records agree), N contracts (version 1, cloned from one created through the API, ${CONTRACTS_PER_CUSTOMER} per customer, with their head copies and idempotency records) and N handled events in the inbox (claim and record). All belong to other owners than the load's. The counts when each scale's routes ran (they include what the earlier scales' load wrote):`,
    '',
    countsTable(results),
    '',
    `- Load: autocannon, ${options.connections} connections, ${options.duration} s per route and pass (${passes} passes per scale, a ${options.warmup} s warm-up before the first), one route at a time, ${options.timeout} s request timeout; the two list routes instead one request at a time (${results.map((r) => `${r.listRequests} at ${k(r.scale)}`).join(', ')}: fewer once one takes tens of seconds; ${LIST_TIMEOUT_S} s timeout), since each reads every contract stored and concurrent ones would only measure the queue; each server in its own process (\`LOG_LEVEL=warn\`, \`VALIDATE_RESPONSES=false\`; gateway sign-in limits raised to ${count(SIGN_IN_LIMIT)}, as in the gateway section)`,
    `- Through the API before the first scale: ${USERS} customers signed up (their ES256 access tokens from the gateway's sign-in, renewed before each scale), ${PAIRS} of them funded with ${count(FUNDING)} each, which then made ${HISTORY} transfers each (a page of transactions reads the ledger 50 entries at a time from the head: every sender's history is longer than that at every scale); \`GET /wallet\` and \`GET /me\` rotate over all ${USERS}, transfers of 1 (a new \`Idempotency-Key\` each) go from sender i to recipient i, \`GET /wallet/transactions\` rotates over the ${PAIRS} senders (a full page each). ${LOAD_CONTRACTS} contracts over ${LOAD_CUSTOMERS} customers (operator token): \`GET /contracts/{id}\` rotates over them, the customer list reads one of them (a full page); \`PUT …/credit-limit\` rotates over ${count(rotation)} seeded contracts (each request a new version); \`POST /contracts\` a new \`Idempotency-Key\` each`,
    `- \`findOne({_id})\` row: ${count(LOOKUPS)} finds of random seeded \`wallet_ledger\` entries (anywhere in the collection), one at a time from the benchmark process, after ${count(LOOKUPS / 10)} unmeasured: the index alone, without HTTP or the services`,
    `- Events: ${count(eventCount)} \`contract.subscribed\` events published at once by one bus and consumed by another in the benchmark process (after a warm-up of a tenth as many), into the grown inbox; RabbitMQ at ${new URL(amqpUrl()).host}, quorum queues, confirms`,
    '',
    `p50 and p99 are whole milliseconds at these latencies, and the machine is shared with whatever else runs (see the load average): each timed route ran ${passes} times per scale (all routes in turn, then again) and the run with the lower p50 is shown; compare the baseline row between scales for how busy the machine was.`,
    '',
    table,
    '',
    `CPU per request, in ms of ${databaseProcess ? "the service's CPU + the database process's (FerretDB's CPU counts all its clients: on a shared machine, others' queries too)" : "the service's CPU"}, from the same runs: the cost of a request, steadier than its latency when the machine is busy.`,
    '',
    cpuTable(results),
    '',
    interpretation(results),
    '',
  ].join('\n');
}

/** 2–4 sentences from this run's numbers: which routes stayed flat (latency and CPU), which grew, and the events. */
function interpretation(results: ScaleResult[]): string {
  const first = results[0]!;
  const last = results[results.length - 1]!;
  const span = `${k(first.scale)} to ${k(last.scale)}`;
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? a / b : Number.POSITIVE_INFINITY);
  const rows = first.routes
    .map((r, i) => ({
      name: r.name,
      firstP50: r.p50,
      lastP50: last.routes[i]!.p50,
      ratio: ratio(last.routes[i]!.p50, r.p50),
      cpuRatio: ratio(cpuPerRequest(last.routes[i]!).total, cpuPerRequest(r).total),
    }))
    .filter((r) => r.name !== ROUTE.baseline);
  const hot = rows.filter((r) => !LIST_ROUTES.has(r.name));
  const lists = rows.filter((r) => LIST_ROUTES.has(r.name));
  const notFlat = hot.filter((r) => r.ratio > 1.5);
  const code = (r: (typeof rows)[number]) => `\`${r.name}\``;
  const describe = (r: (typeof rows)[number]) => `${code(r)} (p50 ${ms(r.firstP50)} → ${ms(r.lastP50)} ms, ${r.ratio.toFixed(2)}×; CPU per request ${r.cpuRatio.toFixed(2)}×)`;
  const largest = (key: 'ratio' | 'cpuRatio') => hot.reduce((a, b) => (b[key] > a[key] ? b : a));
  const lookupRatio = ratio(last.lookup.p50, first.lookup.p50);
  const lookup = `a find by \`_id\` alone took ${ms(first.lookup.p50)} and ${ms(last.lookup.p50)} ms (p50, ${lookupRatio.toFixed(2)}×)`;

  const sentences: string[] = [];
  if (notFlat.length === 0) {
    const worst = largest('ratio');
    const costliest = largest('cpuRatio');
    sentences.push(
      `From ${span} records every hot route stayed flat: p50 at ${k(last.scale)} within 1.5× of p50 at ${k(first.scale)} for all ${hot.length} (largest ${code(worst)}, ${worst.ratio.toFixed(2)}×), CPU per request within ${costliest.cpuRatio.toFixed(2)}× (${code(costliest)}), and ${lookup}: each route reads and writes its own records by \`_id\` alone, which the index answers whatever else is stored.`,
    );
  } else {
    const flat = hot.filter((r) => r.ratio <= 1.5);
    sentences.push(
      `From ${span} records ${flat.length} of ${hot.length} hot routes stayed flat (p50 within 1.5×${flat.length > 0 ? `: ${flat.map(code).join(', ')}` : ''}) and ${lookup}; ${notFlat.map(describe).join('; ')} did not${
        notFlat.every((r) => r.cpuRatio <= 1.5) ? `, though ${notFlat.length === 1 ? 'its' : 'their'} CPU per request did: latency that CPU does not explain is time spent waiting (for the database's single writer, or for cores others held)` : ''
      }.`,
    );
  }
  sentences.push(
    `The list routes filter and sort the head copies on something else than \`_id\`, which FerretDB answers by reading the whole \`contracts\` collection and sorting it in memory, so they grow with every contract stored, by design: ${lists.map((r) => `${code(r)} (p50 ${ms(r.firstP50)} → ${ms(r.lastP50)} ms, ${r.ratio.toFixed(r.ratio < 10 ? 2 : 0)}×)`).join(', ')}.`,
  );
  const rate = (r: ScaleResult) => `${perSec(r.eventsPerSec)}/s at ${k(r.scale)}`;
  sentences.push(
    `Events end to end ran at ${results.map(rate).join(', ')} (${(first.eventsPerSec / last.eventsPerSec).toFixed(2)}× the time per event at ${k(last.scale)}, into an inbox of ${k(last.scale)}+ records): the inbox claims each event by an insert under its \`_id\`, and looks one up only on a redelivery.`,
  );
  return sentences.join(' ');
}

await main();
