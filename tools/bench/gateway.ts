// HTTP benchmark of the payment gateway against a bare Express baseline (`make bench`).
//
//   npx tsx tools/bench/gateway.ts [--duration 8] [--connections 50] [--warmup 2] [--timeout 30]
//
// In one run it: times argon2id hash and verify in this process (the gateway's hasher and default
// parameters); starts the baseline and the gateway (services/payment-gateway/main.ts, production
// settings), each in its own process, against a fresh `bench_*` database and AMQP prefix; signs
// up users and funds the senders through the API; loads one route at a time with autocannon —
// sign-in, GET /wallet, transfers between pairs of users, transfers from one sender — measuring
// the gateway's, the database's (when local) and the machine's CPU; prints a table; checks that
// the balances still add up; rewrites its own section of docs/benchmarks.md; stops everything,
// deletes the run's exchange and queues and drops the database (also on failure and Ctrl-C). It
// exits 1, leaving the docs as they were, if any measured request failed.
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
  ratio,
  redact,
  reportFailures,
  startBenchService,
  startServer,
  counter,
  inBatches,
  GatewayApi,
  localDatabaseProcess,
} from './harness.js';
import { type DatabaseInfo, machineDetails, writeDocSection } from './report.js';

const SCRIPT = 'tools/bench/gateway.ts';
const COMMAND = 'make bench';
/** Short enough that the whole run (5 routes, set-up, clean-up) stays under 2 minutes. */
const DEFAULTS: Partial<LoadOptions> = { duration: 8, warmup: 2 };

/** Users signed up before the load; sign-in and GET /wallet rotate over all of them. */
const USERS = 20;
/** Transfers run between users 0…PAIRS-1 (senders) and PAIRS…2·PAIRS-1 (their recipients). */
const PAIRS = 10;
/** One top-up per sender: the largest amount the spec allows (1,000,000.00 EUR), ~10⁸ transfers of 1. */
const FUNDING = 100_000_000;
/**
 * The limiter records every attempt before checking the password and forgets it only on
 * success, so attempts in flight count too; all the load comes from one address, so the
 * production limits (20 per client, 5 per account) would answer 429 at 50 connections. The
 * users' sign-ups come from that one address too (production: 20 per hour).
 */
const SIGN_IN_LIMIT = 100_000;
/** Failed sign-ins timed one at a time for each kind (wrong password, unknown e-mail). */
const FAILED_SIGN_IN_ROUNDS = 10;

/** The production defaults of gateway-config.ts (not whatever this shell's environment says). */
const DEFAULT_SETTINGS = loadGatewayConfig({});
const ARGON2 = { ARGON2_MEMORY_KIB: DEFAULT_SETTINGS.ARGON2_MEMORY_KIB, ARGON2_TIME_COST: DEFAULT_SETTINGS.ARGON2_TIME_COST };
const CURRENCY = 'EUR'; // a wallet's currency is fixed by its first top-up
const argon2Description = `argon2id, memory ${ARGON2.ARGON2_MEMORY_KIB.toLocaleString('en-US')} KiB, time cost ${ARGON2.ARGON2_TIME_COST}, parallelism 1`;

interface BenchUser {
  email: string;
  password: string;
  /** A current access token, from POST /auth/sign-in. */
  token: string;
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  // Other work on the machine skews the figures; the write-up records how busy it was before.
  const loadBefore = os.loadavg()[0] ?? 0;
  const cleanup = new Cleanup();
  cleanup.runOnSignals();

  try {
    const options = parseLoadOptions(SCRIPT, DEFAULTS);

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
    const ledgerBefore = new Map<string, number>();
    for (const route of routes) {
      if (SIGNED_IN.has(route.name)) {
        // Fresh tokens (10 minutes), so a long --duration never runs into expiry (401s).
        await signInAll(api, users);
        ledgerBefore.set(route.name, await entries.countDocuments());
      }
      results.push(await loadRoute(route, options));
    }
    const ledgerAfter = await entries.countDocuments();

    // 6. Report. Failed requests make the figures meaningless: say so, and keep the docs as they were.
    const table = formatTable(results, { database: databaseProcess !== undefined, machine: true });
    console.log(`\n${table}\n`);
    console.log(
      `${argon2Description}, in this process: hash ${ms(argon2.hashMicros / 1000)} ms, verify ${ms(argon2.verifyMicros / 1000)} ms → ceiling ${argon2.threads} threads / verify = ${perSec(argon2.ceiling)} sign-ins/s; ${argon2.threads} verifies at a time: ${perSec(argon2.parallelRate)}/s\n`,
    );
    if (reportFailures(results).length > 0) {
      console.error(`Requests failed, so these figures are not meaningful; docs/benchmarks.md is left unchanged.`);
      process.exitCode = 1;
      return;
    }
    // Every transfer moved 1 from a funded sender: the balances must still add up to the funding.
    const money = await checkBalances(api, users);
    log(`balances add up to ${money.total.toLocaleString('en-US')}; ${money.transferred.toLocaleString('en-US')} transfers in all (warm-ups included); ledger ${ledgerAfter.toLocaleString('en-US')} entries`);

    // 7. The docs section.
    writeDocSection('gateway', renderSection({ options, database, databaseProcess, mongoUrl, results, table, argon2, failedSignIns, ledgerBefore, ledgerAfter, loadBefore }));
    log(`wrote docs/benchmarks.md (${Math.round((Date.now() - startedAt) / 1000)} s so far)`);
  } catch (err) {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  } finally {
    // 8. Stop both servers, delete the exchange and queues, drop the database, disconnect.
    await cleanup.run();
  }
}

// --- routes -----------------------------------------------------------------------------------

const ROUTE = {
  baseline: 'baseline GET /hello',
  signIn: 'POST /auth/sign-in',
  wallet: 'GET /wallet',
  transfers: `POST /wallet/transfers (${PAIRS} pairs)`,
  oneSender: 'POST /wallet/transfers (1 sender)',
} as const;
/** The routes whose requests carry an access token. */
const SIGNED_IN = new Set<string>([ROUTE.wallet, ROUTE.transfers, ROUTE.oneSender]);

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

interface Argon2Costs {
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

// --- report -----------------------------------------------------------------------------------

interface SectionInput {
  options: LoadOptions;
  database: DatabaseInfo;
  databaseProcess: { pid: number; exe: string } | undefined;
  mongoUrl: string;
  results: RouteResult[];
  table: string;
  argon2: Argon2Costs;
  failedSignIns: { wrongMs: number; unknownMs: number };
  ledgerBefore: Map<string, number>;
  ledgerAfter: number;
  loadBefore: number;
}

function renderSection(input: SectionInput): string {
  const { options, database, databaseProcess, mongoUrl, table, argon2, failedSignIns, ledgerBefore, ledgerAfter, loadBefore } = input;
  const count = (n: number | undefined) => (n ?? 0).toLocaleString('en-US');
  const amqpHost = new URL(process.env.AMQP_URL ?? 'amqp://127.0.0.1:5672').host;
  return [
    '## HTTP: payment gateway (sign-in, wallet) against bare Express',
    '',
    `Written by \`${COMMAND}\` (\`npx tsx ${SCRIPT}\`; flags \`--duration N --connections N --warmup N --timeout N\`). Do not edit between the markers: the next run replaces it.`,
    '',
    `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    ...machineDetails(loadBefore),
    `- Database: ${database.description} at \`${redact(mongoUrl)}\`${databaseProcess ? ` (process \`${databaseProcess.exe}\` on this machine)` : ''}, a fresh \`bench_*\` database; the same name is the AMQP prefix of the run's exchange and queues (RabbitMQ at ${amqpHost}), all deleted at the end`,
    `- Load: autocannon, ${options.connections} connections, ${options.duration} s per route after a ${options.warmup} s warm-up, one route at a time, ${options.timeout} s request timeout; each server in its own process`,
    `- Gateway settings: \`LOG_LEVEL=warn\`, \`VALIDATE_RESPONSES=false\` (production); passwords ${argon2Description} (the defaults of gateway-config.ts); sign-in limits raised to ${count(SIGN_IN_LIMIT)} per client and per account, since the limiter also counts attempts in flight and all the load comes from one address (sign-ups per client too)`,
    `- Data, all through the API: ${USERS} customers signed up; sign-in and \`GET /wallet\` rotate over them, with ES256 access tokens from the gateway's own sign-in. Transfers of 1, a new \`Idempotency-Key\` each: ${PAIRS} senders (funded with ${count(FUNDING)} each by one top-up) each paying its own recipient, then sender 0 alone paying the ${PAIRS} recipients in turn`,
    `- Ledger (\`wallet_ledger\`): ${count(ledgerBefore.get(ROUTE.wallet))} entries before \`GET /wallet\`, ${count(ledgerBefore.get(ROUTE.transfers))} before the pairs, ${count(ledgerBefore.get(ROUTE.oneSender))} before the single sender, ${count(ledgerAfter)} at the end (warm-ups write too)`,
    `- Failed sign-ins before the load, one at a time, alternating (median of ${FAILED_SIGN_IN_ROUNDS} each): wrong password ${ms(failedSignIns.wrongMs)} ms, unknown e-mail ${ms(failedSignIns.unknownMs)} ms — an unknown e-mail is checked against a dummy hash, so the two should be close`,
    `- argon2id alone, in the benchmark process: hash ${ms(argon2.hashMicros / 1000)} ms, verify ${ms(argon2.verifyMicros / 1000)} ms one at a time; ceiling = ${argon2.threads} threads (cores, within libuv's pool) / verify = ${perSec(argon2.ceiling)} sign-ins/s; ${argon2.threads} verifies at a time measured ${perSec(argon2.parallelRate)}/s`,
    '',
    "req/s move with whatever else the machine is doing (see the load average); server CPU µs per request is the steadier figure (it counts all of the gateway's threads, argon2's included). Cores busy are CPU seconds per second of the run: the gateway's, the database's (when it runs on this machine) and the whole machine's (gateway, database, load generator, RabbitMQ and anything else).",
    '',
    table,
    '',
    interpretation(input),
    '',
  ].join('\n');
}

/** 3 sentences read from this run's numbers: what limited sign-ins, wallet reads and transfers. */
function interpretation({ results, argon2, database, ledgerBefore }: SectionInput): string {
  const byName = new Map(results.map((r) => [r.name, r]));
  const baseline = byName.get(ROUTE.baseline);
  const signIn = byName.get(ROUTE.signIn);
  const wallet = byName.get(ROUTE.wallet);
  const pairs = byName.get(ROUTE.transfers);
  const single = byName.get(ROUTE.oneSender);
  if (!baseline || !signIn || !wallet || !pairs || !single) return '';
  const db = database.isFerretDb ? 'FerretDB' : 'MongoDB';
  const cores = (n: number | undefined) => (n === undefined ? '?' : n.toFixed(2));
  const msOf = (micros: number | undefined) => (micros === undefined ? '?' : ms(micros / 1000));
  /** The database's CPU per request served, in ms (when its process is known). */
  const dbMs = (r: RouteResult) => (r.databaseCores === undefined || r.reqPerSec <= 0 ? undefined : ms((1000 * r.databaseCores) / r.reqPerSec));
  const machine = os.cpus().length;

  // Sign-in: how much of the gateway's CPU per sign-in is one verify, and was the machine full?
  const verifyShare = signIn.serverCpuMicros === undefined ? undefined : argon2.verifyMicros / signIn.serverCpuMicros;
  const saturated = (signIn.machineCores ?? 0) >= 0.9 * machine;
  const signInText =
    `\`POST /auth/sign-in\` ran at ${perSec(signIn.reqPerSec)}/s, ${Math.round((100 * signIn.reqPerSec) / argon2.ceiling)}% of the ${perSec(argon2.ceiling)}/s ceiling ` +
    `(${perSec(argon2.parallelRate)}/s measured with ${argon2.threads} verifies at a time), and cost ${msOf(signIn.serverCpuMicros)} ms of gateway CPU per sign-in, ` +
    (verifyShare === undefined ? '' : `of which a verify alone (${msOf(argon2.verifyMicros)} ms) would be ${Math.round(100 * verifyShare)}%`) +
    (saturated
      ? `; the machine's ${machine} cores were all busy (${cores(signIn.machineCores)}: gateway ${cores(signIn.serverCores)}${signIn.databaseCores === undefined ? '' : `, ${db} ${cores(signIn.databaseCores)}`}), so sign-ins are bounded by the CPU left to argon2id once the database (limiter records, refresh tokens) and the load generator have theirs.`
      : `; the gateway kept ${cores(signIn.serverCores)} of the machine's ${machine} cores busy (all processes: ${cores(signIn.machineCores)}).`);

  const walletDb = dbMs(wallet);
  const walletText =
    `\`GET /wallet\` (token check and one ledger read) ran at ${ratio(wallet.reqPerSec, baseline.reqPerSec)} the baseline with ${msOf(wallet.serverCpuMicros)} ms of gateway CPU per request` +
    (walletDb === undefined ? '.' : ` and ${walletDb} ms of ${db} CPU (${cores(wallet.databaseCores)} cores busy).`);

  const pairsDb = dbMs(pairs);
  const databaseBound = pairs.databaseCores !== undefined && pairs.serverCores !== undefined && pairs.databaseCores > 2 * pairs.serverCores;
  const pairsText =
    `Transfers between ${PAIRS} pairs ran at ${perSec(pairs.reqPerSec)}/s (p99 ${ms(pairs.p99)} ms) with the gateway only ${cores(pairs.serverCores)} cores busy (${msOf(pairs.serverCpuMicros)} ms of CPU per transfer)` +
    (databaseBound
      ? ` and ${db} ${cores(pairs.databaseCores)} (${pairsDb} ms of its CPU per transfer): the database sets the pace`
      : (pairs.serverCores ?? 1) < 0.7
        ? `, waiting for ${db}`
        : '') +
    `; all debiting one sender, whose appends the gateway queues one behind the other, they ran at ${perSec(single.reqPerSec)}/s (${ratio(single.reqPerSec, pairs.reqPerSec)} the pairs, p99 ${ms(single.p99)} ms, ` +
    `on a ledger of ${(ledgerBefore.get(ROUTE.oneSender) ?? 0).toLocaleString('en-US')} entries instead of ${(ledgerBefore.get(ROUTE.transfers) ?? 0).toLocaleString('en-US')}).`;

  return [signInText, walletText, pairsText].join(' ');
}

await main();
