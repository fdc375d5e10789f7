// HTTP benchmark of the contract service against a bare Express baseline (`make bench`).
//
//   npx tsx tools/bench/run.ts [--duration 10] [--connections 50] [--warmup 2] [--timeout 30]
//
// In one run it: makes sure MongoDB (locally FerretDB) answers at MONGO_URL; starts the baseline
// and the contract service, each in its own process so the load generator here never shares
// their event loop; seeds contracts through the API; loads one route at a time with autocannon;
// prints a table; rewrites its own section of docs/benchmarks.md; stops everything and drops
// its database (also on failure and Ctrl-C). It exits 1 if any request failed, because a
// throughput that includes errors measures nothing.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import autocannon from 'autocannon';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { MongoClient } from 'mongodb';
import contractSpec from '../../generated/contract/spec.json' with { type: 'json' };
import { TEST_AUDIENCE, TEST_ISSUER, createTokenIssuer } from '../testing/tokens.js';
import { deleteTopology } from '../testing/service-harness.js';
import { type DatabaseInfo, describeDatabase, machineDetails, writeDocSection } from './report.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DOC = join(REPO, 'docs', 'benchmarks.md');
const COMMAND = 'make bench'; // = npx tsx tools/bench/run.ts
const SEED_CONTRACTS = 200;
/** Seeded contracts are spread over this many customers, so a customer's list is a full page. */
const SEED_CUSTOMERS = 10;
const LIST_CUSTOMER = 'bench-cust-0';

const IBAN = 'FR76 3000 6000 0112 3456 7890 189';
const contractBody = (customerId: string, n: number) => ({
  customer: { id: customerId, name: `Bench customer ${customerId}` },
  validFrom: '2026-01-01',
  validTo: '2026-12-31',
  currency: 'EUR',
  creditLimit: 500_000,
  mandate: { reference: `BENCH-${n}`, iban: IBAN, signedOn: '2025-12-01' },
});

interface Options {
  duration: number;
  connections: number;
  warmup: number;
  /** Seconds before autocannon gives up on a request (and counts an error). */
  timeout: number;
}

/** One route under load. `setupRequest` runs before each request (fresh header, rotating id). */
interface Route {
  name: string;
  server: RunningServer;
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: autocannon.Request) => autocannon.Request;
}

interface RouteResult {
  name: string;
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** e.g. { "201": 10432, "500": 3 }, to say what went wrong when something did. */
  statusCodes: Record<string, number>;
  /** CPU the server process used per completed request, in µs (Linux only). */
  serverCpuMicros?: number;
  /** The server's CPU time over the run's wall time: ~1 means its event loop was the bottleneck. */
  serverCores?: number;
}


// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAt = Date.now();
  // Other work on the machine skews the figures; the write-up records how busy it was before.
  const loadBefore = os.loadavg()[0] ?? 0;
  const cleanup = new Cleanup();
  // Ctrl-C or a kill while children are running: stop them and drop the database before leaving.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: cleaning up…`);
      void cleanup.run().finally(() => process.exit(130));
    });
  }

  try {
    const options = parseOptions();

    // 1. The database.
    // Without MONGO_URL: the local FerretDB, on the port tools/infra/up.sh uses.
    const mongoUrl = process.env.MONGO_URL ?? `mongodb://127.0.0.1:${process.env.FERRETDB_PORT ?? 27017}`;
    const mongo = await ensureMongo(mongoUrl);
    cleanup.add(() => mongo.close());
    const database = await describeDatabase(mongo);
    const dbName = `bench_${randomBytes(4).toString('hex')}`;
    cleanup.add(() => dropDatabase(mongo, dbName));
    log(`database: ${database.description} at ${redact(mongoUrl)}, db ${dbName}`);

    // Tokens: the same ES256 path as production, with keys the service trusts through AUTH_JWKS.
    // Long-lived so that a long --duration never runs into expiry (401s).
    const issuer = await createTokenIssuer('bench-key');
    const token = await issuer.sign('bench-operator', { roles: ['operator'], expiresIn: '6h' });
    const auth = { authorization: `Bearer ${token}` };

    // 2. The two servers, each in its own process.
    const baseline = await startServer('baseline', 'tools/bench/baseline-server.ts', {}, '/hello');
    cleanup.add(() => baseline.stop());
    const contract = await startServer(
      'contract',
      'services/contract/main.ts',
      {
        MONGO_URL: mongoUrl,
        MONGO_DB: dbName,
        // Its own exchange and queues: the contract events it publishes must not reach a running platform's.
        AMQP_PREFIX: dbName,
        AUTH_JWKS: JSON.stringify(issuer.jwks),
        LOG_LEVEL: 'warn',
        VALIDATE_RESPONSES: 'false', // the production setting
        SHUTDOWN_TIMEOUT_MS: '5000',
      },
      '/health/ready',
    );
    cleanup.add(() => contract.stop());
    cleanup.add(() => deleteTopology(dbName, 'contract'));

    // 3. Data for the read routes.
    const contractIds = await seedContracts(contract.url, auth);
    log(`seeded ${contractIds.length} contracts over ${SEED_CUSTOMERS} customers`);
    const costs = await measureUnitCosts(token, issuer.jwks);

    // 4. Load, one route at a time. Baseline first: every ratio is relative to it.
    let next = 0; // rotates GET /contracts/{id} over every seeded contract
    const routes: Route[] = [
      { name: 'baseline GET /hello', server: baseline, method: 'GET', path: '/hello' },
      { name: 'GET /health/live', server: contract, method: 'GET', path: '/health/live' },
      {
        name: 'GET /contracts/{id}',
        server: contract,
        method: 'GET',
        path: `/contracts/${contractIds[0]}`,
        headers: auth,
        setupRequest: (request) => ({ ...request, path: `/contracts/${contractIds[next++ % contractIds.length]}` }),
      },
      {
        name: 'GET /contracts?customerId&limit=20',
        server: contract,
        method: 'GET',
        path: `/contracts?customerId=${LIST_CUSTOMER}&limit=20`,
        headers: auth,
      },
      {
        name: 'POST /contracts',
        server: contract,
        method: 'POST',
        path: '/contracts',
        headers: { ...auth, 'content-type': 'application/json' },
        // Same body every time; a new Idempotency-Key makes each request a new contract.
        body: JSON.stringify(contractBody('bench-post', 0)),
        setupRequest: (request) => ({ ...request, headers: { ...request.headers, 'idempotency-key': randomUUID() } }),
      },
    ];
    const results: RouteResult[] = [];
    for (const route of routes) results.push(await loadRoute(route, options));

    // 5. Report. Failed requests make the figures meaningless: say so, and keep the docs as they were.
    const table = formatTable(results);
    console.log(`\n${table}\n`);
    const failed = results.filter((r) => r.non2xx > 0 || r.errors > 0);
    if (failed.length > 0) {
      for (const r of failed) {
        console.error(`FAILED ${r.name}: ${r.non2xx} non-2xx, ${r.errors} errors (${r.timeouts} timeouts); status codes ${JSON.stringify(r.statusCodes)}`);
      }
      console.error(`Requests failed, so these figures are not meaningful; ${DOC.slice(REPO.length)} is left unchanged.`);
      process.exitCode = 1;
      return;
    }

    // 6. The docs section.
    writeDocSection('http', renderSection({ options, database, mongoUrl, results, table, costs, loadBefore }));
    log(`wrote ${DOC.slice(REPO.length)} (${Math.round((Date.now() - startedAt) / 1000)} s so far)`);
  } catch (err) {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  } finally {
    // 7. Stop both servers, then drop the database and disconnect (last in, first out).
    await cleanup.run();
  }
}

// --- options ----------------------------------------------------------------------------------

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      warmup: { type: 'string', default: '2' },
      // Above autocannon's 10 s: creates on FerretDB can queue for ~10 s at 50 connections, and a
      // slow answer belongs in the latency figures, not in the errors.
      timeout: { type: 'string', default: '30' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npx tsx tools/bench/run.ts [--duration seconds=10] [--connections n=50] [--warmup seconds=2] [--timeout seconds=30]');
    process.exit(0);
  }
  const int = (name: string, value: string, min: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${value}`);
    return n;
  };
  return {
    duration: int('duration', values.duration, 1),
    connections: int('connections', values.connections, 1),
    warmup: int('warmup', values.warmup, 0),
    timeout: int('timeout', values.timeout, 1),
  };
}

// --- cleanup ----------------------------------------------------------------------------------

/** Undo steps, run once, last added first; one failing step does not stop the others. */
class Cleanup {
  private readonly steps: (() => Promise<void>)[] = [];
  private running: Promise<void> | undefined;

  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of [...this.steps].reverse()) {
        try {
          await step();
        } catch (err) {
          console.error(`cleanup step failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    })();
    return this.running;
  }
}

// --- database ---------------------------------------------------------------------------------

/** Connects to MONGO_URL (`make bench` has started the local FerretDB and RabbitMQ first). */
async function ensureMongo(url: string): Promise<MongoClient> {
  const client = await tryConnect(url, 5_000);
  if (!client) throw new Error(`nothing answers at ${redact(url)}: run \`make infra\` (or set MONGO_URL)`);
  return client;
}

async function tryConnect(url: string, timeoutMs: number): Promise<MongoClient | undefined> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: timeoutMs, appName: 'payspec-bench' });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    return client;
  } catch {
    await client.close();
    return undefined;
  }
}

/** FerretDB answers buildInfo with a `ferretdbVersion`; MongoDB does not. */

/**
 * Drops the benchmark's database, and again if it comes back: FerretDB still runs the commands a
 * client sent before it went away, so a create still queued there can re-create the database.
 */
async function dropDatabase(client: MongoClient, name: string): Promise<void> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    await client.db(name).dropDatabase();
    await sleep(1_000);
    const { databases } = await client.db('admin').admin().listDatabases({ nameOnly: true });
    if (!databases.some((db) => db.name === name)) {
      log(`dropped database ${name}`);
      return;
    }
  }
  console.error(`database ${name} keeps coming back after dropDatabase; drop it by hand`);
}

/** Hides a password in a connection string. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

// --- servers ----------------------------------------------------------------------------------

interface RunningServer {
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Runs a TypeScript entry point in a child node process (`node --import tsx`, one process, so
 * signals reach the server itself) and waits until `readyPath` answers 200.
 */
async function startServer(name: string, entry: string, env: Record<string, string>, readyPath: string): Promise<RunningServer> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, entry)], {
    cwd: REPO,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    // Servers log to this terminal (warnings and errors only for the contract service).
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const server: RunningServer = { url, pid: child.pid, stop: () => stopChild(name, child) };
  try {
    await waitUntilReady(name, child, `${url}${readyPath}`, 30_000);
  } catch (err) {
    await server.stop();
    throw err;
  }
  log(`${name} ready at ${url} (pid ${child.pid})`);
  return server;
}

async function waitUntilReady(name: string, child: ChildProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited during start (${child.exitCode ?? child.signalCode})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`${name} was not ready within ${timeoutMs / 1000} s (${url})`);
}

/** SIGTERM (graceful), then SIGKILL if the process is still there after 10 s. */
async function stopChild(name: string, child: ChildProcess): Promise<void> {
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  if (exited()) return;
  const gone = once(child, 'exit');
  child.kill('SIGTERM');
  const inTime = await Promise.race([gone.then(() => true), sleep(10_000).then(() => false)]);
  if (!inTime && !exited()) {
    console.error(`${name} ignored SIGTERM for 10 s: killing it`);
    child.kill('SIGKILL');
    await gone;
  }
  log(`${name} stopped`);
}

/** A port nothing listens on right now (the OS picks it). */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  if (address === null || typeof address === 'string') throw new Error('cannot find a free port');
  return address.port;
}

// --- data -------------------------------------------------------------------------------------

/** Creates the contracts the read routes use, through the API (10 requests at a time). */
async function seedContracts(baseUrl: string, auth: Record<string, string>): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < SEED_CONTRACTS; start += 10) {
    const batch = Array.from({ length: Math.min(10, SEED_CONTRACTS - start) }, async (_, i) => {
      const n = start + i;
      const res = await fetch(`${baseUrl}/contracts`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': `bench-seed-${n}` },
        body: JSON.stringify(contractBody(`bench-cust-${n % SEED_CUSTOMERS}`, n)),
      });
      const body = (await res.json()) as { id?: string; detail?: string };
      if (res.status !== 201 || !body.id) throw new Error(`seeding contract ${n}: ${res.status} ${body.detail ?? ''}`);
      return body.id;
    });
    ids.push(...(await Promise.all(batch)));
  }
  return ids;
}

interface UnitCosts {
  /** One ES256 access-token verification, as the services' bearerJwt does it. */
  jwtMicros: number;
  /** Checking the POST /contracts body against its JSON Schema (ajv, as the validator does). */
  validationMicros: number;
}

/**
 * Two per-request costs measured alone, in this process, before the load starts: they put
 * numbers on the auth and validation shares of an API request in the write-up.
 */
async function measureUnitCosts(token: string, jwks: Parameters<typeof createLocalJWKSet>[0]): Promise<UnitCosts> {
  const keys = createLocalJWKSet(jwks);
  const jwtMicros = await microsPerCall(() => jwtVerify(token, keys, { issuer: TEST_ISSUER, audience: TEST_AUDIENCE, algorithms: ['ES256'] }), 2_000);

  // The whole spec under an $id, so the body schema's `#/components/...` references resolve.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormatsModule.default(ajv);
  const specId = 'https://payspec.invalid/bench/contract.json';
  ajv.addSchema({ ...contractSpec, $id: specId });
  const validate = ajv.compile({ $ref: `${specId}#/components/schemas/ContractCreateRequest` });
  const body = contractBody('bench-cust-0', 0);
  if (!validate(body)) throw new Error(`the benchmark's contract body does not match the spec: ${ajv.errorsText(validate.errors)}`);
  const validationMicros = await microsPerCall(() => validate(body), 20_000);

  return { jwtMicros, validationMicros };
}

/** Mean time of `call` in µs, after a warm-up of a tenth as many calls. */
async function microsPerCall(call: () => unknown, rounds: number): Promise<number> {
  for (let i = 0; i < rounds / 10; i++) await call();
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) await call();
  return Number(process.hrtime.bigint() - started) / 1e3 / rounds;
}

// --- load -------------------------------------------------------------------------------------

async function loadRoute(route: Route, options: Options): Promise<RouteResult> {
  const request: autocannon.Request = {
    method: route.method,
    path: route.path,
    ...(route.headers ? { headers: route.headers } : {}),
    ...(route.body !== undefined ? { body: route.body } : {}),
    ...(route.setupRequest ? { setupRequest: route.setupRequest } : {}),
  };
  const fire = (duration: number) =>
    autocannon({ url: route.server.url, connections: options.connections, duration, timeout: options.timeout, requests: [request] });
  // autocannon drops its connections when time is up, but the server still finishes the requests
  // it had started (on a slow database, for up to the longest latency seen). Let them end before
  // the next run, so that one run's backlog is not measured as the next one's cost, and before
  // shutdown, so that no write is cut off.
  const settle = (result: autocannon.Result) => sleep(Math.min(options.timeout * 1000, result.latency.max + 500));

  // A short unmeasured run first, so JIT warm-up and connection set-up stay out of the figures.
  if (options.warmup > 0) {
    const warm = await fire(options.warmup);
    if (warm.non2xx > 0 || warm.errors > 0) log(`  warm-up of ${route.name}: ${warm.non2xx} non-2xx, ${warm.errors} errors`);
    await settle(warm);
  }
  log(`${route.name}: ${options.duration} s, ${options.connections} connections…`);
  const cpuBefore = cpuSeconds(route.server.pid);
  const result = await fire(options.duration);
  const cpuAfter = cpuSeconds(route.server.pid);
  await settle(result);

  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stats.count ?? 0;
  const cpu = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined;
  const completed = result.requests.total;
  return {
    name: route.name,
    reqPerSec: result.requests.mean,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    ...(cpu !== undefined && completed > 0 ? { serverCpuMicros: (cpu * 1e6) / completed, serverCores: cpu / result.duration } : {}),
  };
}

/** User + system CPU seconds a process has used so far, from /proc (Linux); undefined elsewhere. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that closes the command name: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond();
  } catch {
    return undefined;
  }
}

let ticks: number | undefined;
function clockTicksPerSecond(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100; // the Linux default
    }
  }
  return ticks;
}

// --- report -----------------------------------------------------------------------------------

const ms = (n: number) => (n < 10 ? n.toFixed(1) : Math.round(n).toString());
const perSec = (n: number) => Math.round(n).toLocaleString('en-US');
const micros = (n: number | undefined) => (n === undefined ? '?' : Math.round(n).toLocaleString('en-US'));
const ratio = (n: number, base: number) => {
  if (base <= 0) return '?×';
  const r = n / base;
  return `${r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}×`;
};

/** A Markdown table, padded so that it also reads well in a terminal. */
function formatTable(results: RouteResult[]): string {
  const baseline = results[0]?.reqPerSec ?? 0;
  const header = ['route', 'req/s (mean)', 'p50 ms', 'p99 ms', 'non-2xx', 'errors/timeouts', 'vs baseline', 'server CPU µs/req', 'server cores busy'];
  const rows = results.map((r) => [
    `\`${r.name}\``,
    perSec(r.reqPerSec),
    ms(r.p50),
    ms(r.p99),
    String(r.non2xx),
    `${r.errors}/${r.timeouts}`,
    ratio(r.reqPerSec, baseline),
    micros(r.serverCpuMicros),
    r.serverCores === undefined ? '?' : r.serverCores.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const numeric = (i: number) => i > 0; // right-align every column but the route
  const line = (cells: string[]) => `| ${cells.map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

interface SectionInput {
  options: Options;
  database: DatabaseInfo;
  mongoUrl: string;
  results: RouteResult[];
  table: string;
  costs: UnitCosts;
  loadBefore: number;
}

function renderSection({ options, database, mongoUrl, results, table, costs, loadBefore }: SectionInput): string {
  return [
    '## HTTP: contract service against bare Express',
    '',
    `Written by \`${COMMAND}\` (\`npx tsx tools/bench/run.ts\`; flags \`--duration N --connections N --warmup N --timeout N\`). Do not edit between the markers: the next run replaces it.`,
    '',
    `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    ...machineDetails(loadBefore),
    `- Database: ${database.description} at \`${redact(mongoUrl)}\`, a fresh \`bench_*\` database holding ${SEED_CONTRACTS} seeded contracts (${SEED_CONTRACTS / SEED_CUSTOMERS} per customer)`,
    `- Load: autocannon, ${options.connections} connections, ${options.duration} s per route after a ${options.warmup} s warm-up, one route at a time, ${options.timeout} s request timeout; each server in its own process`,
    '- Contract service settings: `LOG_LEVEL=warn`, `VALIDATE_RESPONSES=false` (production), ES256 operator token on every API request, a new `Idempotency-Key` per POST',
    '',
    'req/s move with whatever else the machine is doing (see the load average); server CPU µs per request is the steadier figure. Server cores busy near 1 means the server itself set the pace; well below, it was waiting (for the database, or for CPU taken by others).',
    '',
    table,
    '',
    interpretation(results, costs, database),
    '',
  ].join('\n');
}

/**
 * 3 sentences on where the time goes, from this run's numbers. The server's CPU per request says
 * what its own code costs; its busy cores say who set the pace: near 1, its event loop; well
 * below, it was waiting for the database.
 */
function interpretation(results: RouteResult[], costs: UnitCosts, database: DatabaseInfo): string {
  const [baseline, live, get, list, post] = results;
  if (!baseline || !live || !get || !list || !post) return '';
  const cpu = (r: RouteResult) => `${micros(r.serverCpuMicros)} µs`;
  const cpuOf = (r: RouteResult) => r.serverCpuMicros ?? 0;
  const haveCpu = results.every((r) => r.serverCpuMicros !== undefined && r.serverCores !== undefined);
  const jwt = `${Math.round(costs.jwtMicros)} µs`;
  const validation = `${costs.validationMicros.toFixed(1)} µs`;
  const db = database.isFerretDb ? 'FerretDB' : 'MongoDB';

  const runtimeParts = 'request and correlation ids, a pino child logger, the Prometheus histogram';
  const runtime = haveCpu
    ? `The runtime every request goes through (${runtimeParts}) costs ${micros(Math.max(0, cpuOf(live) - cpuOf(baseline)))} µs of server CPU per request: ${cpu(live)} for \`GET /health/live\` against ${cpu(baseline)} for bare Express (throughput ${ratio(live.reqPerSec, baseline.reqPerSec)}).`
    : `\`GET /health/live\` runs at ${ratio(live.reqPerSec, baseline.reqPerSec)} the baseline: that is the runtime every request goes through (${runtimeParts}).`;

  const read = `\`GET /contracts/{id}\` runs at ${ratio(get.reqPerSec, baseline.reqPerSec)}${
    haveCpu ? ` and costs ${cpu(get)} of service CPU per request` : ''
  }: verifying the ES256 token takes ${jwt} on its own, while JSON Schema validation is cheap (${validation} for a whole \`POST /contracts\` body); most of the rest is the MongoDB driver's round trip to ${db}, then Express and express-openapi-validator's routing.`;

  // The database routes: did they keep the service busy, or leave it waiting?
  const waiting = haveCpu ? [list, post].filter((r) => (r.serverCores ?? 1) < 0.7) : [];
  const names = waiting.map((r) => `\`${r.name.replace('?customerId&limit=20', '?customerId=…')}\` (${r.serverCores?.toFixed(2)} cores busy)`);
  let writes: string;
  if (waiting.length > 0 && database.isFerretDb) {
    writes = `${names.join(' and ')} leave the service mostly idle, waiting for FerretDB: on SQLite it pushes only \`_id\` equality down to SQL, so the list's \`customer.id\` filter and sort, and the \`{_id, version}\` filter of the snapshot upsert in every create, read the whole \`contracts\` collection, and SQLite lets one writer at a time into the database file.`;
  } else if (waiting.length > 0) {
    writes = `${names.join(' and ')} leave the service mostly idle, waiting for MongoDB (a create is three acknowledged writes: change record, snapshot upsert, projected flag).`;
  } else {
    writes = `\`POST /contracts\` (${ratio(post.reqPerSec, baseline.reqPerSec)}, p99 ${ms(post.p99)} ms) adds three ${db} writes per created contract (change record, snapshot upsert, projected flag).`;
  }
  return [runtime, read, writes].join(' ');
}

function log(message: string): void {
  console.error(`[bench] ${message}`);
}

await main();
