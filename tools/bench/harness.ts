// What the benchmark scenarios share: their command-line options, undoing what they set up (also
// on a signal or a crash), the `bench_*` databases they run in, servers in child processes,
// autocannon runs of one route at a time with the CPU of the server (and of the database and the
// machine) measured, and running a scenario on its own (tools/bench/all.ts runs them all).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import amqplib from 'amqplib';
import autocannon from 'autocannon';
import { MongoClient } from 'mongodb';
import { deleteTopology } from '../testing/service-harness.js';
import { freePort } from '../testing/wait.js';
import { type DatabaseInfo, describeDatabase } from './report.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export function log(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

// --- options ----------------------------------------------------------------------------------

export interface LoadOptions {
  /** Seconds of measured load per route. */
  duration: number;
  connections: number;
  /** Seconds of unmeasured load per route before the measured run. */
  warmup: number;
  /** Seconds before autocannon gives up on a request (and counts an error). */
  timeout: number;
}

/**
 * `--duration --connections --warmup --timeout` (and `--help`), with the script's own defaults.
 * The timeout default is above autocannon's 10 s: creates on FerretDB can queue for ~10 s at 50
 * connections, and a slow answer belongs in the latency figures, not in the errors.
 */
export function parseLoadOptions(script: string, defaults: Partial<LoadOptions> = {}): LoadOptions {
  return parseBenchOptions(script, defaults, {}).load;
}

/** A script's own string option besides the load options: its default and a placeholder for the usage line. */
export interface ExtraOption {
  default: string;
  /** e.g. `list`, shown as `[--name list=default]`. */
  meta: string;
}

/** parseLoadOptions, plus the script's own string options (`extra`), returned as given (the script checks them). */
export function parseBenchOptions<K extends string>(
  script: string,
  defaults: Partial<LoadOptions>,
  extra: Record<K, ExtraOption>,
): { load: LoadOptions; extra: Record<K, string> } {
  const d: LoadOptions = { duration: 10, connections: 50, warmup: 2, timeout: 30, ...defaults };
  const extraNames = Object.keys(extra) as K[];
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: String(d.duration) },
      connections: { type: 'string', default: String(d.connections) },
      warmup: { type: 'string', default: String(d.warmup) },
      timeout: { type: 'string', default: String(d.timeout) },
      help: { type: 'boolean', default: false },
      ...Object.fromEntries(extraNames.map((name) => [name, { type: 'string' as const, default: extra[name].default }])),
    },
  });
  if (values.help) {
    const extras = extraNames.map((name) => ` [--${name} ${extra[name].meta}=${extra[name].default}]`).join('');
    console.log(
      `usage: npx tsx ${script} [--duration seconds=${d.duration}] [--connections n=${d.connections}] [--warmup seconds=${d.warmup}] [--timeout seconds=${d.timeout}]${extras}`,
    );
    process.exit(0);
  }
  const int = (name: string, value: string, min: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${value}`);
    return n;
  };
  const given = values as Record<string, string | boolean | undefined>;
  return {
    load: {
      duration: int('duration', values.duration, 1),
      connections: int('connections', values.connections, 1),
      warmup: int('warmup', values.warmup, 0),
      timeout: int('timeout', values.timeout, 1),
    },
    extra: Object.fromEntries(extraNames.map((name) => [name, String(given[name])])) as Record<K, string>,
  };
}

// --- cleanup ---------------------------------------------------------------------------------

/** Cleanups not run yet: a signal or a crash runs them all (newest first) before the process leaves. */
const pending = new Set<Cleanup>();

/** Undo steps, run once, last added first; one failing step does not stop the others. */
export class Cleanup {
  private readonly steps: (() => Promise<void>)[] = [];
  private running: Promise<void> | undefined;

  constructor() {
    guardProcess();
    pending.add(this);
  }

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
      pending.delete(this);
    })();
    return this.running;
  }
}

let guarded = false;

/**
 * Once per process: Ctrl-C, a kill, an uncaught exception or an unhandled rejection while a
 * scenario runs stops its servers and drops its databases and queues before the process leaves;
 * servers still running at exit are killed.
 */
function guardProcess(): void {
  if (guarded) return;
  guarded = true;
  let leaving = false;
  const leave = (why: string, code: number) => {
    if (leaving) return;
    leaving = true;
    console.error(`\n${why}: cleaning up…`);
    void (async () => {
      for (const cleanup of [...pending].reverse()) await cleanup.run();
    })().finally(() => process.exit(code));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => leave(signal, 130));
  process.on('uncaughtException', (err) => {
    console.error(err);
    leave('uncaught exception', 1);
  });
  process.on('unhandledRejection', (err) => {
    console.error(err);
    leave('unhandled rejection', 1);
  });
  process.on('exit', () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
}

// --- database ---------------------------------------------------------------------------------

export interface BenchDatabase {
  mongo: MongoClient;
  mongoUrl: string;
  database: DatabaseInfo;
  /** A fresh `bench_<hex>` database, dropped by `cleanup`; also the AMQP prefix of the run. */
  dbName: string;
}

/**
 * Connects to MONGO_URL (without it: the local FerretDB, on the port tools/infra/up.sh uses) and
 * names a fresh database for the run; `cleanup` drops it and disconnects.
 */
export async function openBenchDatabase(cleanup: Cleanup): Promise<BenchDatabase> {
  const url = mongoUrl();
  const mongo = await ensureMongo(url);
  cleanup.add(() => mongo.close());
  const database = await describeDatabase(mongo);
  const dbName = benchName();
  cleanup.add(() => dropDatabase(mongo, dbName));
  log(`database: ${database.description} at ${redact(url)}, db ${dbName}`);
  return { mongo, mongoUrl: url, database, dbName };
}

/** Names of the databases (and AMQP prefixes) benchmarks in this process made: each and anything named after it is theirs. */
const names = new Set<string>();

/** A fresh `bench_<hex>` name for a database and AMQP prefix of this process's own. */
export function benchName(): string {
  const name = `bench_${randomBytes(4).toString('hex')}`;
  names.add(name);
  return name;
}

/**
 * Databases this process's benchmarks made (a name from benchName, or one starting with it, e.g.
 * `<name>_bank`) that still exist: none once every cleanup has run.
 */
export async function leftoverDatabases(client: MongoClient): Promise<string[]> {
  const { databases } = await client.db('admin').admin().listDatabases({ nameOnly: true });
  return databases.map((db) => db.name).filter((name) => [...names].some((own) => name === own || name.startsWith(`${own}_`)));
}

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

/**
 * Drops the benchmark's database, and again if it comes back: FerretDB still runs the commands a
 * client sent before it went away, so a create still queued there can re-create the database.
 */
export async function dropDatabase(client: MongoClient, name: string): Promise<void> {
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

/** AMQP_URL, or the local RabbitMQ `make infra` starts. */
export const amqpUrl = () => process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** MONGO_URL, or the local FerretDB `make infra` starts. */
export const mongoUrl = () => process.env.MONGO_URL ?? `mongodb://127.0.0.1:${process.env.FERRETDB_PORT ?? 27017}`;

/** Hides a password in a connection string. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

// --- servers ----------------------------------------------------------------------------------

/** Servers started by this process and not yet exited: killed at exit if still there. */
const children = new Set<ChildProcess>();

export interface RunningServer {
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Runs a TypeScript entry point (relative to the repository) in a child node process
 * (`node --import tsx`, one process, so signals reach the server itself) on a free port, and
 * waits until `readyPath` answers 200.
 */
export async function startServer(name: string, entry: string, env: Record<string, string>, readyPath: string): Promise<RunningServer> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, entry)], {
    cwd: REPO,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    // Servers log to this terminal (services run at LOG_LEVEL=warn: warnings and errors only).
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
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

/**
 * Starts a Payspec service (`services/<name>/main.ts`) with the production settings a benchmark
 * measures — no response validation, warn-level logs — on the run's own database and its own
 * exchange and queues (the run's database name is also its AMQP prefix, so the events it
 * publishes never reach a running platform's). Cleanup stops it, then deletes its topology:
 * last in, first out, so nothing still publishing declares them again.
 */
export async function startBenchService(name: string, db: BenchDatabase, cleanup: Cleanup, env: Record<string, string> = {}): Promise<RunningServer> {
  cleanup.add(() => deleteServiceTopology(db.dbName, name));
  const server = await startServer(
    name,
    `services/${name}/main.ts`,
    {
      MONGO_URL: db.mongoUrl,
      MONGO_DB: db.dbName,
      AMQP_PREFIX: db.dbName,
      LOG_LEVEL: 'warn',
      VALIDATE_RESPONSES: 'false', // the production setting
      SHUTDOWN_TIMEOUT_MS: '5000',
      EVENT_RETRY_DELAYS_MS: SERVICE_RETRY_DELAYS_MS.join(','),
      ...env,
    },
    '/health/ready',
  );
  cleanup.add(() => server.stop());
  return server;
}

/** The retry delays of a service under load: production's default, set explicitly so that its cleanup knows its retry queues' names. */
export const SERVICE_RETRY_DELAYS_MS = [1_000, 5_000, 30_000];

/** Deletes the exchange and queues a service (started with SERVICE_RETRY_DELAYS_MS, or the same default) declared under `prefix`. */
export function deleteServiceTopology(prefix: string, service: string): Promise<void> {
  return deleteTopology(prefix, service, SERVICE_RETRY_DELAYS_MS);
}

/**
 * Queues and exchanges named after this process's benchmarks (see benchName) that are still on
 * the local broker, from `rabbitmqctl` (best effort: undefined when it cannot be asked, e.g. a
 * remote AMQP_URL or no rights); the cleanups should have left none.
 */
export function leftoverTopology(): { queues: string[]; exchanges: string[] } | undefined {
  if (process.env.AMQP_URL && !/@(127\.0\.0\.1|localhost)[:/]/.test(process.env.AMQP_URL)) return undefined;
  const list = (what: 'list_queues' | 'list_exchanges') =>
    execFileSync('rabbitmqctl', ['-q', what, 'name'], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .map((line) => line.trim())
      .filter((name) => [...names].some((own) => name.startsWith(`${own}.`) || name.startsWith(`${own}_`)));
  try {
    return { queues: list('list_queues'), exchanges: list('list_exchanges') };
  } catch {
    return undefined;
  }
}

/** Deletes queues and exchanges by name (what leftoverTopology found). */
export async function deleteTopologyNamed({ queues, exchanges }: { queues: string[]; exchanges: string[] }): Promise<void> {
  const connection = await amqplib.connect(amqpUrl());
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
    for (const exchange of exchanges) await channel.deleteExchange(exchange);
    await channel.close();
  } finally {
    await connection.close();
  }
}

/**
 * The local process listening on `port` (e.g. the FerretDB behind MONGO_URL), from /proc (Linux,
 * and only processes this user may inspect); undefined otherwise.
 */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines: string[];
    try {
      lines = readFileSync(table, 'utf8').split('\n').slice(1);
    } catch {
      continue;
    }
    for (const line of lines) {
      // sl local_address rem_address st … inode: state 0A is LISTEN, the port is hex after the colon.
      const fields = line.trim().split(/\s+/);
      if (fields[3] === '0A' && parseInt(fields[1]?.split(':')[1] ?? '', 16) === port && fields[9]) inodes.add(`socket:[${fields[9]}]`);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of safeReaddir('/proc').filter((name) => /^\d+$/.test(name))) {
    for (const fd of safeReaddir(`/proc/${pid}/fd`)) {
      try {
        if (inodes.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return Number(pid);
      } catch {
        // gone, or not ours to read
      }
    }
  }
  return undefined;
}

/** The process behind MONGO_URL when it listens on this machine (locally FerretDB), so its CPU can be measured. */
export function localDatabaseProcess(mongoUrl: string): { pid: number; exe: string } | undefined {
  let url: URL;
  try {
    url = new URL(mongoUrl);
  } catch {
    return undefined; // e.g. several hosts
  }
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) return undefined;
  const pid = pidListeningOn(Number(url.port || 27017));
  if (pid === undefined) return undefined;
  let exe = 'unknown executable';
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    // not ours to read
  }
  return { pid, exe };
}

/**
 * Other benchmark processes of a Payspec checkout running now (`tools/bench/x.ts (pid n)`, this
 * process excluded), from /proc: their load shares the machine with this run's.
 */
export function otherBenchmarks(): string[] {
  const found = new Map<string, number[]>();
  for (const pid of safeReaddir('/proc').filter((name) => /^\d+$/.test(name))) {
    if (Number(pid) === process.pid || Number(pid) === process.ppid) continue; // this run (and tsx's process around it)
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      // The node process itself (not npm's or the shell's wrapper around it).
      if (!/(^|\/)node$/.test(cmdline[0] ?? '')) continue;
      const script = cmdline.map((arg) => /(?:^|\/)(tools\/bench\/[a-z-]+\.ts)$/.exec(arg)?.[1]).find(Boolean);
      if (!script || script.endsWith('-server.ts')) continue;
      found.set(script, [...(found.get(script) ?? []), Number(pid)]);
    } catch {
      // gone, or not ours to read
    }
  }
  return [...found.entries()].map(([script, list]) => `${script} (pid ${list.join(', ')})`);
}

function safeReaddir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

// --- load -------------------------------------------------------------------------------------

/** One route under load. `setupRequest` runs before each request (fresh header, rotating id). */
export interface Route {
  name: string;
  server: RunningServer;
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: autocannon.Request) => autocannon.Request;
  /** The database server's process, when it runs on this machine (see pidListeningOn): its CPU is measured too. */
  databasePid?: number;
  /**
   * For a route too slow for a timed run (a list that reads a whole collection): this many
   * requests instead of `options.duration` seconds, after `warmupRequests` (default 1) instead
   * of `options.warmup` seconds; with its own `connections` and `timeout` when given.
   */
  amount?: number;
  warmupRequests?: number;
  connections?: number;
  timeout?: number;
}

export interface RouteResult {
  name: string;
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Requests answered in the measured run. */
  completed: number;
  /** e.g. { "201": 10432, "500": 3 }, to say what went wrong when something did. */
  statusCodes: Record<string, number>;
  /** CPU the server process used per completed request, in µs (Linux only). */
  serverCpuMicros?: number;
  /** The server's CPU time over the run's wall time: ~1 means its event loop was the bottleneck. */
  serverCores?: number;
  /** The database server's CPU time over the run's wall time (when `route.databasePid` is known). */
  databaseCores?: number;
  /** Busy CPU of the whole machine over the run's wall time (server, load generator, database, others). */
  machineCores?: number;
}

/** A warm-up run (unmeasured), then `options.duration` seconds of measured load on one route. */
export async function loadRoute(route: Route, options: LoadOptions): Promise<RouteResult> {
  const request: autocannon.Request = {
    method: route.method,
    path: route.path,
    ...(route.headers ? { headers: route.headers } : {}),
    ...(route.body !== undefined ? { body: route.body } : {}),
    ...(route.setupRequest ? { setupRequest: route.setupRequest } : {}),
  };
  const connections = route.connections ?? options.connections;
  const timeout = route.timeout ?? options.timeout;
  const fire = (length: { duration: number } | { amount: number }) =>
    autocannon({ url: route.server.url, connections, ...length, timeout, requests: [request] });
  // autocannon drops its connections when time is up, but the server still finishes the requests
  // it had started (on a slow database, for up to the longest latency seen). Let them end before
  // the next run, so that one run's backlog is not measured as the next one's cost, and before
  // shutdown, so that no write is cut off.
  // A run of a fixed number of requests has none left in flight once every one is answered.
  const settle = async (result: autocannon.Result) => {
    const allAnswered = route.amount !== undefined && result.errors === 0 && result.timeouts === 0;
    if (!allAnswered) await sleep(Math.min(timeout * 1000, result.latency.max + 500));
  };

  // A short unmeasured run first, so JIT warm-up and connection set-up stay out of the figures.
  const warmup = route.amount !== undefined ? route.warmupRequests ?? 1 : options.warmup;
  if (warmup > 0) {
    const warm = await fire(route.amount !== undefined ? { amount: warmup } : { duration: warmup });
    if (warm.non2xx > 0 || warm.errors > 0) log(`  warm-up of ${route.name}: ${warm.non2xx} non-2xx, ${warm.errors} errors`);
    await settle(warm);
  }
  log(`${route.name}: ${route.amount !== undefined ? `${route.amount} requests` : `${options.duration} s`}, ${connections} connections…`);
  const cpuBefore = cpuSeconds(route.server.pid);
  const databaseBefore = cpuSeconds(route.databasePid);
  const machineBefore = machineBusySeconds();
  const result = await fire(route.amount !== undefined ? { amount: route.amount } : { duration: options.duration });
  const cpuAfter = cpuSeconds(route.server.pid);
  const databaseAfter = cpuSeconds(route.databasePid);
  const machineAfter = machineBusySeconds();
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
    completed,
    statusCodes,
    ...(cpu !== undefined && completed > 0 ? { serverCpuMicros: (cpu * 1e6) / completed, serverCores: cpu / result.duration } : {}),
    ...(databaseBefore !== undefined && databaseAfter !== undefined ? { databaseCores: (databaseAfter - databaseBefore) / result.duration } : {}),
    ...(machineBefore !== undefined && machineAfter !== undefined ? { machineCores: (machineAfter - machineBefore) / result.duration } : {}),
  };
}

/** User + system CPU seconds a process has used so far (all its threads), from /proc (Linux); undefined elsewhere. */
export function cpuSeconds(pid: number | undefined): number | undefined {
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

/** CPU seconds all cores of the machine have spent busy (neither idle nor waiting for I/O), from /proc/stat (Linux). */
function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // cpu  user nice system idle iowait irq softirq steal …
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / clockTicksPerSecond();
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

/** Mean time of `call` in µs, after a warm-up of a tenth as many calls (at least one). */
export async function microsPerCall(call: () => unknown, rounds: number): Promise<number> {
  for (let i = 0; i < Math.max(1, rounds / 10); i++) await call();
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) await call();
  return Number(process.hrtime.bigint() - started) / 1e3 / rounds;
}

// --- table ------------------------------------------------------------------------------------

export const ms = (n: number) => (n < 10 ? n.toFixed(1) : Math.round(n).toString());
export const perSec = (n: number) => Math.round(n).toLocaleString('en-US');
export const micros = (n: number | undefined) => (n === undefined ? '?' : Math.round(n).toLocaleString('en-US'));
export const ratio = (n: number, base: number) => {
  if (base <= 0) return '?×';
  const r = n / base;
  return `${r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}×`;
};

/**
 * A Markdown table, padded so that it also reads well in a terminal. The first result is the
 * baseline. `extra` adds the database's and the whole machine's busy cores.
 */
export function formatTable(results: RouteResult[], extra: { database?: boolean; machine?: boolean } = {}): string {
  const baseline = results[0]?.reqPerSec ?? 0;
  const cores = (n: number | undefined) => (n === undefined ? '?' : n.toFixed(2));
  const header = ['route', 'req/s (mean)', 'p50 ms', 'p99 ms', 'non-2xx', 'errors/timeouts', 'vs baseline', 'server CPU µs/req', 'server cores busy'];
  if (extra.database) header.push('database cores busy');
  if (extra.machine) header.push('machine cores busy');
  const rows = results.map((r) => [
    `\`${r.name}\``,
    perSec(r.reqPerSec),
    ms(r.p50),
    ms(r.p99),
    String(r.non2xx),
    `${r.errors}/${r.timeouts}`,
    ratio(r.reqPerSec, baseline),
    micros(r.serverCpuMicros),
    cores(r.serverCores),
    ...(extra.database ? [cores(r.databaseCores)] : []),
    ...(extra.machine ? [cores(r.machineCores)] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const numeric = (i: number) => i > 0; // right-align every column but the route
  const line = (cells: string[]) => `| ${cells.map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** 0, 1, 2, … on each call. */
export function counter(): () => number {
  let n = 0;
  return () => n++;
}

/** Runs `task` over `items`, `size` at a time. */
export async function inBatches<T>(items: T[], size: number, task: (item: T, index: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < items.length; start += size) {
    await Promise.all(items.slice(start, start + size).map((item, i) => task(item, start + i)));
  }
}

/** Calls to the gateway for set-up and checks; any answer but a 2xx throws. */
export class GatewayApi {
  constructor(private readonly baseUrl: string) {}

  async call(method: 'GET' | 'POST', path: string, options: { token?: string; key?: string; body?: object } = {}): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
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
