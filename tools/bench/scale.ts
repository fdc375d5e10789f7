// Scale (part of `make bench`): does each hot route cost the same whether 1,000 or 100,000
// records are stored? FerretDB on SQLite scans a collection for every filter except `_id` alone
// (with the launcher's `_id` index, tools/infra/README.md), so a route whose cost grows with
// records that are not the caller's own is sending some other filter (docs/architecture.md, data access).
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
// time), and runs events end to end through the bus into the grown inbox. It checks the balances
// and cleans up (servers, exchanges and queues, databases), also on failure and Ctrl-C. Run
// alone, it prints its section of docs/benchmarks.md.
import { randomUUID } from 'node:crypto';
import type autocannon from 'autocannon';
import type { Db, Document } from 'mongodb';
import { pino } from 'pino';
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
  amqpUrl,
  formatTable,
  loadRoute,
  localDatabaseProcess,
  log,
  ms,
  openBenchDatabase,
  parseBenchOptions,
  perSec,
  redact,
  startBenchService,
  startServer,
  counter,
  inBatches,
} from './harness.js';
import { contractSubscribed } from './events.js';
import type { DatabaseInfo } from './report.js';
import { type Row, type Scenario, failedRows, toRow } from './results.js';
import { isMain, runAlone } from './scenarios.js';

const SCRIPT = 'tools/bench/scale.ts';
export interface ScaleOptions {
  load: LoadOptions;
  /** Records of each kind at each measurement, growing. */
  scales: number[];
  /** Events end to end per scale. */
  events: number;
  /** Timed runs per route and scale; the one with the lower p50 is kept. */
  passes: number;
}

/** Short runs: 10 routes × 3 scales, plus seeding 100k records of each kind. */
export const SCALE_DEFAULTS: ScaleOptions = { load: { duration: 3, connections: 20, warmup: 1, timeout: 30 }, scales: [1_000, 10_000, 100_000], events: 2_000, passes: 2 };

/** Users signed up through the API; the first PAIRS send, the next PAIRS receive. */
export const USERS = 20;
export const PAIRS = 10;
/** One top-up per sender, the largest the spec allows: ~10⁸ transfers of 1. */
export const FUNDING = 100_000_000;
/** Transfers each sender makes before the first scale: a history longer than one ledger read (50 entries). */
export const HISTORY = 60;
/** All the load comes from one address, and the limiter counts attempts in flight (see gateway.ts). */
export const SIGN_IN_LIMIT = 100_000;
/** Contracts created through the API for the reads: LOAD_CUSTOMERS customers, a full page (20) each. */
export const LOAD_CONTRACTS = 40;
export const LOAD_CUSTOMERS = 2;
/** PUT …/credit-limit rotates over this many seeded contracts (one hot contract would measure queueing). */
const MAX_ROTATION = 1_000;
/** Seeded records come in pairs of wallets of 10 ledger entries each: scales are multiples of this. */
const PAIR_ENTRIES = 20;
/** Seeded contracts per seeded customer. */
export const CONTRACTS_PER_CUSTOMER = 10;
export const SEED_BATCH = 1_000;
/** The list routes: requests per scale, one at a time, and how long one may take (a whole-collection read). */
const LIST_REQUESTS = 3;
export const LIST_TIMEOUT_S = 300;
/** Seconds one list route may take at a scale: past it, fewer requests (at least 1), from the previous scale's latency. */
const LIST_BUDGET_S = 30;
/** Finds by `_id` timed per scale (after a tenth as many unmeasured). */
export const LOOKUPS = 1_000;
/** The event consumer's retry delays (short: the bench's handler never fails). */
const RETRIES = [1_000];

const SETTINGS = loadGatewayConfig({});
const CURRENCY = 'EUR'; // a wallet's currency is fixed by its first top-up
const ARGON2 = { ARGON2_MEMORY_KIB: SETTINGS.ARGON2_MEMORY_KIB, ARGON2_TIME_COST: SETTINGS.ARGON2_TIME_COST };

export const SCALE_ROUTE = {
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
const ROUTE = SCALE_ROUTE;
export const EVENTS_ROW = 'events end to end (publish → consume → inbox → ack)';
export const LOOKUP_ROW = 'findOne({_id}) on wallet_ledger, one at a time, no HTTP';
/** Routes that filter on something else than `_id` by design (they scan the head copies on FerretDB). */
export const LIST_ROUTES = new Set<string>([ROUTE.listCustomer, ROUTE.listAll]);

interface BenchUser {
  /** The gateway account id (`usr_…`), from the sign-up answer. */
  id: string;
  email: string;
  password: string;
  token: string;
}

/** What one scale measured besides its rows. */
export interface ScaleStep {
  scale: number;
  /** Documents per collection (`db/collection`) when the routes ran. */
  counts: Record<string, number>;
  /** Collections whose find by `_id` did not use an index (FerretDB only). */
  unindexed: string[];
  /** Collections checked. */
  checked: number;
  /** Requests measured on each list route at this scale. */
  listRequests: number;
  /** Seconds to grow the databases to this scale. */
  seedSeconds: number;
}

export interface ScaleDetails {
  options: ScaleOptions;
  steps: ScaleStep[];
  rotation: number;
  database: DatabaseInfo;
  /** MONGO_URL, password hidden. */
  mongoUrl: string;
  databaseExe?: string;
  amqpHost: string;
  /** Transfers made in all (warm-ups included), from the balances checked to add up. */
  transferred: number;
}

interface Lookups {
  perSec: number;
  p50: number;
  p99: number;
}

/** `1k`, `100k`: the group of a scale's rows. */
export const scaleLabel = (n: number) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : n.toLocaleString('en-US'));

export async function runScale(options: ScaleOptions): Promise<Scenario<ScaleDetails>> {
  const { load, scales, events: eventCount, passes } = options;
  checkScales(scales);
  const cleanup = new Cleanup();
  try {
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
    const rows: Row[] = [];
    const steps: ScaleStep[] = [];
    let previousListP50: number | undefined;
    for (const scale of scales) {
      const seedStarted = Date.now();
      await seeder.growTo(scale);
      const seedSeconds = (Date.now() - seedStarted) / 1000;
      const counts = await countAll([gatewayDb, contractDb, eventsDb]);
      const { unindexed, checked } = await checkIdIndex([gatewayDb, contractDb, eventsDb], gatewayDb.database, counts);
      if (unindexed.length > 0) log(`finds by _id NOT indexed in: ${unindexed.join(', ')}`);
      const lookup = await timeLookups(gatewayDb, scale);
      log(`findOne({_id}) on wallet_ledger at ${scale.toLocaleString('en-US')}: p50 ${ms(lookup.p50)} ms, p99 ${ms(lookup.p99)} ms`);
      await signInAll(api, users); // fresh 10-minute tokens for this scale's gateway routes
      const previous = steps[steps.length - 1];
      const listRequests = listRequestsAt(scale, previous && previousListP50 !== undefined ? { scale: previous.scale, p50: previousListP50 } : undefined);
      const input = { baseline, gateway, contract, users, loadContracts, operator, rotation, first: steps.length === 0, listRequests };
      const measured = await measureRoutes(scaleRoutes(input).map(withDatabasePid), load, passes);
      const eventsRun = await events.measure(eventCount);
      log(`events end to end at ${scale.toLocaleString('en-US')}: ${perSec(eventsRun.perSec)}/s`);
      console.error(`\n${scale.toLocaleString('en-US')} records of each kind:\n${formatTable(measured, { database: databaseProcess !== undefined, machine: true })}\n`);
      const group = scaleLabel(scale);
      const baselineRate = measured[0]!.reqPerSec;
      rows.push(...measured.map((r) => toRow(r, baselineRate, group)));
      rows.push({ group, name: LOOKUP_ROW, unit: 'finds', rate: lookup.perSec, p50: lookup.p50, p99: lookup.p99, non2xx: 0, errors: 0, timeouts: 0, completed: LOOKUPS, baseline: baselineRate });
      rows.push({ group, name: EVENTS_ROW, unit: 'events', rate: eventsRun.perSec, non2xx: 0, errors: eventsRun.lost, timeouts: 0, completed: eventCount - eventsRun.lost, baseline: baselineRate });
      previousListP50 = Math.max(...measured.filter((r) => LIST_ROUTES.has(r.name)).map((r) => r.p50));
      steps.push({ scale, counts: Object.fromEntries(counts), unindexed, checked, listRequests, seedSeconds });
    }

    // 6. The balances still add up (unless requests failed, which the rows say).
    let transferred = 0;
    if (failedRows(rows).length === 0) {
      transferred = await checkBalances(api, users);
      log(`balances add up to ${(PAIRS * FUNDING).toLocaleString('en-US')}; ${transferred.toLocaleString('en-US')} transfers in all (warm-ups included)`);
    }
    return {
      rows,
      details: {
        options,
        steps,
        rotation,
        database: gatewayDb.database,
        mongoUrl: redact(gatewayDb.mongoUrl),
        ...(databaseProcess ? { databaseExe: databaseProcess.exe } : {}),
        amqpHost: new URL(amqpUrl()).host,
        transferred,
      },
      command: commandLine(options),
    };
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
  return value.split(',').map((s) => Number(s.trim()));
}

function checkScales(scales: number[]): void {
  for (const [i, n] of scales.entries()) {
    if (!Number.isInteger(n) || n < 100 || n % PAIR_ENTRIES !== 0) throw new Error(`--scales: each a multiple of ${PAIR_ENTRIES} ≥ 100, got ${scales.join(',')}`);
    if (i > 0 && n <= scales[i - 1]!) throw new Error(`--scales must grow (the databases are grown, never shrunk), got ${scales.join(',')}`);
  }
  if (scales.length === 0) throw new Error('--scales is empty');
}

/** The exact command, with every flag. */
function commandLine({ load, scales, events, passes }: ScaleOptions): string {
  const url = process.env.MONGO_URL ? `MONGO_URL=${redact(process.env.MONGO_URL)} ` : '';
  return `${url}npx tsx ${SCRIPT} --duration ${load.duration} --connections ${load.connections} --warmup ${load.warmup} --timeout ${load.timeout} --scales ${scales.join(',')} --events ${events} --passes ${passes}`;
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
function listRequestsAt(scale: number, previous: { scale: number; p50: number } | undefined): number {
  if (!previous) return LIST_REQUESTS;
  const expectedS = (previous.p50 * (scale / previous.scale)) / 1000;
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
export const MIN_CHECKED = 100;

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
async function startEvents(db: BenchDatabase, cleanup: Cleanup): Promise<{ measure(count: number): Promise<{ perSec: number; lost: number }> }> {
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
    // Events not handled 2 minutes after the last publish count as lost (the row's errors).
    const timeout = setTimeout(() => reached(), 120_000);
    await done;
    clearTimeout(timeout);
    const lost = count - Math.min(handled, count);
    if (lost > 0) log(`events: ${lost} of ${count} not handled within 2 minutes`);
    return { perSec: (count - lost) / ((performance.now() - started) / 1000), lost };
  };
  return {
    async measure(count) {
      await run(Math.max(1, Math.floor(count / 10))); // warm-up: connections, JIT
      return run(count);
    },
  };
}

const eventPayload = (i: number) => contractSubscribed(`ctr_ev${pad(i)}`, i);

if (isMain(import.meta.url)) {
  const d = SCALE_DEFAULTS;
  const { load, extra } = parseBenchOptions(SCRIPT, d.load, {
    scales: { default: d.scales.join(','), meta: 'list' },
    events: { default: String(d.events), meta: 'n' },
    passes: { default: String(d.passes), meta: 'n' },
  });
  void runAlone('scale', () => runScale({ load, scales: parseScales(extra.scales), events: positive('events', extra.events), passes: positive('passes', extra.passes) }));
}
