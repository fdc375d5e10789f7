// HTTP benchmark of the payment gateway against a bare Express baseline (part of `make bench`).
//
//   npx tsx tools/bench/gateway.ts [--duration 8] [--connections 50] [--warmup 2] [--timeout 30]
//
// In one run it: times argon2id hash and verify in this process (the gateway's hasher and default
// parameters); starts the baseline and the gateway (services/payment-gateway/main.ts, production
// settings), each in its own process, against a fresh `bench_*` database and AMQP prefix; signs
// up users and funds the senders through the API; loads one route at a time with autocannon —
// sign-in, GET /wallet, transfers between pairs of users, transfers from one sender — measuring
// the gateway's, the database's (when local) and the machine's CPU; checks that the balances
// still add up; stops everything, deletes the run's exchange and queues and drops the database
// (also on failure and Ctrl-C). Run alone, it prints its section of docs/benchmarks.md.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type autocannon from 'autocannon';
import { loadGatewayConfig } from '../../services/payment-gateway/gateway-config.js';
import { PasswordHasher } from '../../services/payment-gateway/identity/passwords.js';
import {
  Cleanup,
  type LoadOptions,
  type Route,
  type RouteResult,
  type RunningServer,
  formatTable,
  loadRoute,
  log,
  microsPerCall,
  ms,
  openBenchDatabase,
  parseLoadOptions,
  perSec,
  redact,
  startBenchService,
  startServer,
  counter,
  inBatches,
  GatewayApi,
  localDatabaseProcess,
} from './harness.js';
import type { DatabaseInfo } from './report.js';
import { type Scenario, failedRows, rowsAgainstFirst } from './results.js';
import { isMain, runAlone } from './scenarios.js';

const SCRIPT = 'tools/bench/gateway.ts';
/** Short enough that the whole run (5 routes, set-up, clean-up) stays under 2 minutes. */
export const GATEWAY_DEFAULTS: LoadOptions = { duration: 8, connections: 50, warmup: 2, timeout: 30 };

/** Users signed up before the load; sign-in and GET /wallet rotate over all of them. */
export const USERS = 20;
/** Transfers run between users 0…PAIRS-1 (senders) and PAIRS…2·PAIRS-1 (their recipients). */
export const PAIRS = 10;
/** One top-up per sender: the largest amount the spec allows (1,000,000.00 EUR), ~10⁸ transfers of 1. */
export const FUNDING = 100_000_000;
/**
 * The limiter records every attempt before checking the password and forgets it only on
 * success, so attempts in flight count too; all the load comes from one address, so the
 * production limits (20 per client, 5 per account) would answer 429 at 50 connections. The
 * users' sign-ups come from that one address too (production: 20 per hour).
 */
export const SIGN_IN_LIMIT = 100_000;
/** Failed sign-ins timed one at a time for each kind (wrong password, unknown e-mail). */
export const FAILED_SIGN_IN_ROUNDS = 10;

/** The production defaults of gateway-config.ts (not whatever this shell's environment says). */
const DEFAULT_SETTINGS = loadGatewayConfig({});
const ARGON2 = { ARGON2_MEMORY_KIB: DEFAULT_SETTINGS.ARGON2_MEMORY_KIB, ARGON2_TIME_COST: DEFAULT_SETTINGS.ARGON2_TIME_COST };
const CURRENCY = 'EUR'; // a wallet's currency is fixed by its first top-up
export const argon2Description = `argon2id, memory ${ARGON2.ARGON2_MEMORY_KIB.toLocaleString('en-US')} KiB, time cost ${ARGON2.ARGON2_TIME_COST}, parallelism 1`;

interface BenchUser {
  email: string;
  password: string;
  /** A current access token, from POST /auth/sign-in. */
  token: string;
}

export interface GatewayDetails {
  load: LoadOptions;
  /** The machine's cores. */
  cores: number;
  database: DatabaseInfo;
  /** MONGO_URL, password hidden. */
  mongoUrl: string;
  /** The database's executable, when it runs on this machine (its CPU is measured). */
  databaseExe?: string;
  amqpHost: string;
  argon2: Argon2Costs;
  failedSignIns: { wrongMs: number; unknownMs: number };
  /** wallet_ledger entries before each signed-in route, by route name, and at the end. */
  ledgerBefore: Record<string, number>;
  ledgerAfter: number;
  /** Transfers made in all (warm-ups included), from the balances that were checked to add up. */
  transferred: number;
}

export async function runGateway(load: LoadOptions): Promise<Scenario<GatewayDetails>> {
  const cleanup = new Cleanup();
  try {
    // 1. The database (and, under the same name, the run's AMQP exchange and queues).
    const db = await openBenchDatabase(cleanup);
    const { mongo, mongoUrl, database, dbName } = db;
    const databaseProcess = localDatabaseProcess(mongoUrl);
    if (databaseProcess) log(`database process on this machine: ${databaseProcess.exe} (pid ${databaseProcess.pid}); its CPU is measured too`);

    // 2. What argon2id costs alone, before anything else runs.
    log(`${argon2Description}: timing hash and verify in this process…`);
    const argon2 = await measureArgon2();
    log(`argon2id hash ${ms(argon2.hashMicros / 1000)} ms, verify ${ms(argon2.verifyMicros / 1000)} ms; ceiling ${perSec(argon2.ceiling)} sign-ins/s; ${argon2.threads} at a time: ${perSec(argon2.parallelRate)}/s`);

    // 3. The two servers, each in its own process.
    const baseline = await startServer('baseline', 'tools/bench/baseline-server.ts', {}, '/hello');
    cleanup.add(() => baseline.stop());
    const gateway = await startBenchService('payment-gateway', db, cleanup, {
      ARGON2_MEMORY_KIB: String(ARGON2.ARGON2_MEMORY_KIB),
      ARGON2_TIME_COST: String(ARGON2.ARGON2_TIME_COST),
      SIGN_IN_MAX_FAILURES_PER_CLIENT: String(SIGN_IN_LIMIT),
      SIGN_IN_MAX_FAILURES_PER_ACCOUNT: String(SIGN_IN_LIMIT),
      SIGN_UP_MAX_PER_CLIENT: String(SIGN_IN_LIMIT),
    });

    // 4. Users, their tokens, and money for the senders — all through the API.
    const api = new GatewayApi(gateway.url);
    const users = await signUpUsers(api);
    await signInAll(api, users);
    await inBatches(users.slice(0, PAIRS), 5, (user) => api.call('POST', '/wallet/top-ups', { token: user.token, key: randomUUID(), body: { amount: FUNDING, currency: CURRENCY } }));
    log(`${USERS} users signed up and signed in; ${PAIRS} senders funded with ${FUNDING.toLocaleString('en-US')} each`);
    const failedSignIns = await measureFailedSignIns(gateway.url, users[0]!);
    log(`failed sign-ins one at a time (median of ${FAILED_SIGN_IN_ROUNDS}): wrong password ${ms(failedSignIns.wrongMs)} ms, unknown e-mail ${ms(failedSignIns.unknownMs)} ms`);
    const entries = mongo.db(dbName).collection('wallet_ledger');

    // 5. Load, one route at a time. Baseline first: every ratio is relative to it.
    const routes = gatewayRoutes(baseline, gateway, users).map((route) => ({
      ...route,
      ...(databaseProcess ? { databasePid: databaseProcess.pid } : {}),
    }));
    const results: RouteResult[] = [];
    /** wallet_ledger entries before each authenticated run (reads are by _id: its size should not matter). */
    const ledgerBefore: Record<string, number> = {};
    for (const route of routes) {
      if (SIGNED_IN.has(route.name)) {
        // Fresh tokens (10 minutes), so a long --duration never runs into expiry (401s).
        await signInAll(api, users);
        ledgerBefore[route.name] = await entries.countDocuments();
      }
      results.push(await loadRoute(route, load));
    }
    const ledgerAfter = await entries.countDocuments();
    console.error(`\n${formatTable(results, { database: databaseProcess !== undefined, machine: true })}\n`);

    // 6. Every transfer moved 1 from a funded sender: the balances must still add up to the funding
    // (unless requests failed, which the rows say).
    const rows = rowsAgainstFirst(results);
    let transferred = 0;
    if (failedRows(rows).length === 0) {
      transferred = (await checkBalances(api, users)).transferred;
      log(`balances add up; ${transferred.toLocaleString('en-US')} transfers in all (warm-ups included); ledger ${ledgerAfter.toLocaleString('en-US')} entries`);
    }
    return {
      rows,
      details: {
        load,
        cores: os.cpus().length,
        database,
        mongoUrl: redact(mongoUrl),
        ...(databaseProcess ? { databaseExe: databaseProcess.exe } : {}),
        amqpHost: new URL(process.env.AMQP_URL ?? 'amqp://127.0.0.1:5672').host,
        argon2,
        failedSignIns,
        ledgerBefore,
        ledgerAfter,
        transferred,
      },
      command: `npx tsx ${SCRIPT} --duration ${load.duration} --connections ${load.connections} --warmup ${load.warmup} --timeout ${load.timeout}`,
    };
  } finally {
    // 7. Stop both servers, delete the exchange and queues, drop the database, disconnect.
    await cleanup.run();
  }
}

// --- routes -----------------------------------------------------------------------------------

export const GATEWAY_ROUTE = {
  baseline: 'baseline GET /hello',
  signIn: 'POST /auth/sign-in',
  wallet: 'GET /wallet',
  transfers: `POST /wallet/transfers (${PAIRS} pairs)`,
  oneSender: 'POST /wallet/transfers (1 sender)',
} as const;
/** The routes whose requests carry an access token. */
const SIGNED_IN = new Set<string>([GATEWAY_ROUTE.wallet, GATEWAY_ROUTE.transfers, GATEWAY_ROUTE.oneSender]);
const ROUTE = GATEWAY_ROUTE;

/** The routes under load, in order. */
function gatewayRoutes(baseline: RunningServer, gateway: RunningServer, users: BenchUser[]): Route[] {
  const json = { 'content-type': 'application/json' };
  const bearer = (user: BenchUser) => `Bearer ${user.token}`;
  const senders = users.slice(0, PAIRS);
  const recipients = users.slice(PAIRS, 2 * PAIRS);
  const transferBody = (to: BenchUser) => JSON.stringify({ toEmail: to.email, amount: 1, currency: CURRENCY });
  /** A transfer from `from` to `to`: each request a new Idempotency-Key, so a new transfer. */
  const transfer = (request: autocannon.Request, from: BenchUser, to: BenchUser): autocannon.Request => ({
    ...request,
    headers: { ...request.headers, authorization: bearer(from), 'idempotency-key': randomUUID() },
    body: transferBody(to),
  });
  const next = counter();

  return [
    { name: ROUTE.baseline, server: baseline, method: 'GET', path: '/hello' },
    {
      name: ROUTE.signIn,
      server: gateway,
      method: 'POST',
      path: '/auth/sign-in',
      headers: json,
      body: signInBody(users[0]!),
      setupRequest: (request) => ({ ...request, body: signInBody(users[next() % USERS]!) }),
    },
    {
      name: ROUTE.wallet,
      server: gateway,
      method: 'GET',
      path: '/wallet',
      setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: bearer(users[next() % USERS]!) } }),
    },
    {
      // Sender i pays recipient i: no two pairs touch the same account.
      name: ROUTE.transfers,
      server: gateway,
      method: 'POST',
      path: '/wallet/transfers',
      headers: json,
      setupRequest: (request) => {
        const i = next() % PAIRS;
        return transfer(request, senders[i]!, recipients[i]!);
      },
    },
    {
      // One account debited by every request: its appends queue up behind each other.
      name: ROUTE.oneSender,
      server: gateway,
      method: 'POST',
      path: '/wallet/transfers',
      headers: json,
      setupRequest: (request) => transfer(request, senders[0]!, recipients[next() % PAIRS]!),
    },
  ];
}

const signInBody = (user: BenchUser) => JSON.stringify({ email: user.email, password: user.password });


// --- data -------------------------------------------------------------------------------------


async function signUpUsers(api: GatewayApi): Promise<BenchUser[]> {
  const users = Array.from({ length: USERS }, (_, i) => ({ email: `bench-user-${i}@example.com`, password: `bench password ${i}`, token: '' }));
  // Each sign-up hashes a password: a few at a time.
  await inBatches(users, 4, (user, i) =>
    api.call('POST', '/auth/sign-up', {
      body: {
        email: user.email,
        password: user.password,
        firstName: 'Bench',
        lastName: `User ${i}`,
        phone: `+4477009${String(i).padStart(5, '0')}`,
        role: 'customer',
      },
    }),
  );
  return users;
}

async function signInAll(api: GatewayApi, users: BenchUser[]): Promise<void> {
  await inBatches(users, 4, async (user) => {
    const tokens = await api.call('POST', '/auth/sign-in', { body: { email: user.email, password: user.password } });
    if (typeof tokens.accessToken !== 'string') throw new Error(`sign-in of ${user.email} returned no access token`);
    user.token = tokens.accessToken;
  });
}

/**
 * The balances from the ledger (GET /wallet) add up to what the senders were funded with, and
 * the recipients' to the number of transfers (amount 1 each). Transfers still settling when the
 * load stopped may take a moment: checked again for a few seconds before it counts as a failure.
 */
async function checkBalances(api: GatewayApi, users: BenchUser[]): Promise<{ total: number; transferred: number }> {
  const expected = PAIRS * FUNDING;
  for (let attempt = 1; ; attempt++) {
    const balances = await Promise.all(users.map(async (user) => Number((await api.call('GET', '/wallet', { token: user.token })).balance)));
    const total = balances.reduce((a, b) => a + b, 0);
    const transferred = balances.slice(PAIRS).reduce((a, b) => a + b, 0);
    if (total === expected) return { total, transferred };
    if (attempt === 5) throw new Error(`balances add up to ${total}, not ${expected}: money was lost or made`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}



/**
 * An unknown e-mail must cost what a wrong password costs (one argon2 verify, against a dummy
 * hash: identity.test.ts shows that is what runs); here the two are timed, alternating, one
 * request at a time, before any load. Medians, in ms.
 */
async function measureFailedSignIns(baseUrl: string, user: BenchUser): Promise<{ wrongMs: number; unknownMs: number }> {
  const timed = async (email: string) => {
    const started = performance.now();
    const res = await fetch(`${baseUrl}/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'not the password of anyone' }),
    });
    await res.arrayBuffer();
    if (res.status !== 401) throw new Error(`a failed sign-in answered ${res.status}, not 401`);
    return performance.now() - started;
  };
  const wrong: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < FAILED_SIGN_IN_ROUNDS; i++) {
    wrong.push(await timed(user.email));
    unknown.push(await timed(`nobody-${i}-${randomUUID().slice(0, 8)}@example.com`));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { wrongMs: median(wrong), unknownMs: median(unknown) };
}

// --- argon2 -----------------------------------------------------------------------------------

export interface Argon2Costs {
  hashMicros: number;
  verifyMicros: number;
  /** Threads that can verify at once: the cores, unless libuv's pool (where argon2 runs) is smaller. */
  threads: number;
  /** Sign-ins per second if the gateway did nothing but verify passwords on `threads` threads. */
  ceiling: number;
  /** Verifies per second measured with `threads` of them running at a time (they share caches and memory bandwidth). */
  parallelRate: number;
}

/** Hash and verify with the gateway's own hasher and parameters: one at a time, then `threads` at a time. */
async function measureArgon2(): Promise<Argon2Costs> {
  const hasher = new PasswordHasher(ARGON2);
  const password = 'bench password 0';
  const hash = await hasher.hash(password);
  if (!(await hasher.verify(hash, password))) throw new Error('argon2 verify refused the password it hashed');
  const hashMicros = await microsPerCall(() => hasher.hash(password), 10);
  const verifyMicros = await microsPerCall(() => hasher.verify(hash, password), 20);
  const threads = Math.min(os.cpus().length, Number(process.env.UV_THREADPOOL_SIZE ?? 4));

  const rounds = 10;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: threads }, async () => {
      for (let i = 0; i < rounds; i++) await hasher.verify(hash, password);
    }),
  );
  const parallelRate = (threads * rounds) / ((performance.now() - started) / 1000);
  return { hashMicros, verifyMicros, threads, ceiling: (threads * 1e6) / verifyMicros, parallelRate };
}

if (isMain(import.meta.url)) void runAlone('gateway', () => runGateway(parseLoadOptions(SCRIPT, GATEWAY_DEFAULTS)));
