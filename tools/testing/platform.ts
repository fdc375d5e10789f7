// The whole platform for the tests that need all of it (the Postman collection run by newman, the
// console's browser journeys), started the way `make run` starts it (tools/dev/platform.ts), on
// ports moved by PORT_OFFSET so that a `make run` may go on beside it, with databases and an AMQP
// prefix of its own — dropped when it stops. A test file that bills stops it after itself (a
// billing run is once per period and database); the root hook in
// tools/contract-testing/mocha-hooks.ts stops whatever is still running at the end.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICES, instancesOf } from '../../services/registry.js';
import { deleteTopology, withMongo } from './service-harness.js';
import { eventually } from './wait.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** 8080 → 9080 and so on; TEST_PLATFORM_PORT_OFFSET chooses another (two test runs at once). */
export const PORT_OFFSET = Number(process.env.TEST_PLATFORM_PORT_OFFSET ?? 1_000);
/** The local platform's operator account (tools/dev/platform.ts). */
export const OPERATOR = { email: 'operator@payspec.local', password: 'local-operator-password' };

export interface Platform {
  /** The base URL of a service instance by its registry name: url('console'), url('piggy-bank'). */
  url(name: string): string;
  /** AMQP prefix and database prefix of this run. */
  prefix: string;
  /** What the platform printed (for a failure's message). */
  output(): string;
}

let started: Promise<Platform> | undefined;
let child: ChildProcess | undefined;
let prefix: string | undefined;

const instances = SERVICES.flatMap((svc) => instancesOf(svc));

/** The platform, started on first use (about half a minute) and shared until stopPlatform(). */
export function platform(): Promise<Platform> {
  started ??= start();
  return started;
}

async function start(): Promise<Platform> {
  const runPrefix = `platform${process.pid}${Date.now()}`;
  prefix = runPrefix;
  const url = (name: string) => {
    const instance = instances.find((i) => i.name === name);
    if (!instance) throw new Error(`no service ${name} in services/registry.ts`);
    return `http://127.0.0.1:${instance.port + PORT_OFFSET}`;
  };
  const busy = (await Promise.all(instances.map((i) => fetch(`${url(i.name)}/health/live`).then(() => i.port + PORT_OFFSET, () => undefined)))).filter(Boolean);
  if (busy.length > 0) throw new Error(`ports ${busy.join(', ')} are in use: another test run's platform is going`);
  let output = '';
  child = spawn(process.execPath, ['--import', 'tsx', 'tools/dev/platform.ts'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PLATFORM_PORT_OFFSET: String(PORT_OFFSET),
      AMQP_PREFIX: runPrefix,
      PLATFORM_DB_PREFIX: runPrefix,
      OPERATOR_EMAIL: OPERATOR.email,
      OPERATOR_PASSWORD: OPERATOR.password,
      // A billing run is once per period and database: only the tests start them.
      BILLING_SCHEDULE: 'off',
      // Every account of every test comes from this one machine: the per-address sign-up limit
      // (tested on its own in the gateway's tests) would stop the run's later journeys.
      SIGN_UP_MAX_PER_CLIENT: '1000',
      // The voucher provider ten times faster than real time.
      PROVIDER_TIME_SCALE: '0.1',
      MAIL_DIR: resolve(root, '.data', runPrefix, 'mail'),
      LOG_LEVEL: 'warn',
    },
  });
  const running = child;
  running.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  running.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const ready = async () => {
    if (running.exitCode !== null) return `stopped:\n${output.slice(-3000)}`;
    const answers = await Promise.all(instances.map((i) => fetch(`${url(i.name)}/health/ready`).then((r) => r.ok, () => false)));
    return answers.every(Boolean) ? 'ready' : 'starting';
  };
  const state = await eventually(ready, (s) => s !== 'starting', 'the platform', 120_000, 250);
  if (state !== 'ready') throw new Error(`the platform did not start: ${state}`);
  return { url, prefix: runPrefix, output: () => output };
}

/** Stops the platform if a test started it, and drops its databases and queues. */
export async function stopPlatform(): Promise<void> {
  if (!started) return;
  started = undefined;
  const running = child;
  if (running && running.exitCode === null) {
    const stopped = new Promise((ok) => running.once('exit', ok));
    process.kill(-running.pid!, 'SIGTERM');
    await Promise.race([stopped, new Promise((ok) => setTimeout(ok, 20_000))]);
    if (running.exitCode === null) process.kill(-running.pid!, 'SIGKILL');
  }
  const runPrefix = prefix!;
  await withMongo(async (client) => {
    const { databases } = await client.db('admin').admin().listDatabases({ nameOnly: true });
    for (const { name } of databases.filter((db) => db.name.startsWith(`${runPrefix}_`))) await client.db(name).dropDatabase();
  });
  // The platform's default retry delays.
  for (const svc of SERVICES) await deleteTopology(runPrefix, svc.name, [1_000, 5_000, 30_000]).catch(() => undefined);
}
