// make bench (vouchers): the voucher service on its fast path, each server in its own process —
// the payment gateway (identity: tokens and phone numbers), the voucher-provider simulator (phone
// numbers ending 0–3: the code in its answer), the voucher service — and the bare Express
// baseline. It measures:
//   1. `POST /vouchers` answers (202) per second with autocannon, next to the baseline's
//      GET /hello, with the whole pipeline (worker, provider, SMS, webhook) running behind them;
//   2. the time from sending a request to receiving its signed webhook (verified with
//      `standardwebhooks`), p50 and p99, with 100 requests in flight end to end: 100 loops, each
//      sending a request and waiting for its webhook before sending the next.
// Part of `make bench` (not a test); run alone, it prints its section of docs/benchmarks.md.
//
//   npx tsx tools/bench/voucher.ts [--duration 10] [--connections 50] [--warmup 2] [--timeout 30] [--requests 2000] [--in-flight 100]
import { randomInt, randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPaymentGatewayClient } from '../../generated/payment-gateway/client.js';
import { startWebhookReceiver } from '../../services/voucher/test-support/webhook-receiver.js';
import { eventually } from '../testing/wait.js';
import {
  Cleanup,
  type LoadOptions,
  type RouteResult,
  deleteServiceTopology,
  formatTable,
  loadRoute,
  log,
  ms,
  openBenchDatabase,
  parseBenchOptions,
  pidListeningOn,
  startBenchService,
  startServer,
} from './harness.js';
import type { DatabaseInfo } from './report.js';
import { type Row, type Scenario, rowsAgainstFirst } from './results.js';
import { isMain, runAlone } from './scenarios.js';

const SCRIPT = 'tools/bench/voucher.ts';
export const CUSTOMERS = 10;
const PASSWORD = 'correct horse battery staple';

export interface VoucherOptions {
  load: LoadOptions;
  /** Requests timed end to end (request → delivered webhook). */
  requests: number;
  /** Loops each sending a request and waiting for its webhook. */
  inFlight: number;
}

export const VOUCHER_DEFAULTS: VoucherOptions = { load: { duration: 10, connections: 50, warmup: 2, timeout: 30 }, requests: 2_000, inFlight: 100 };
export const VOUCHER_ROUTE = { post: 'POST /vouchers' } as const;
/** The end-to-end row's name. */
export const deliveredRow = (inFlight: number) => `request → delivered webhook, ${inFlight} in flight`;
/** The targets (issue 11). */
export const TARGET = { postVsBaseline: 0.1, deliveredP99Ms: 1_000 };

export interface VoucherDetails {
  options: VoucherOptions;
  database: DatabaseInfo;
  /** Vouchers accepted by the load (warm-up included), delivered, and the seconds after it until the backlog was delivered. */
  accepted: number;
  delivered: number;
  drainSeconds: number;
}

export async function runVoucher(options: VoucherOptions): Promise<Scenario<VoucherDetails>> {
  const { load, requests: LATENCY_REQUESTS, inFlight: IN_FLIGHT } = options;
  const cleanup = new Cleanup();
  try {
    const db = await openBenchDatabase(cleanup);
    const receiver = await startWebhookReceiver();
    cleanup.add(() => receiver.close());
    for (const suffix of ['_gateway', '_provider']) cleanup.add(async () => void (await db.mongo.db(`${db.dbName}${suffix}`).dropDatabase()));

    const baseline = await startServer('baseline', 'tools/bench/baseline-server.ts', {}, '/hello');
    cleanup.add(() => baseline.stop());
    const gateway = await startBenchService('payment-gateway', db, cleanup, {
      MONGO_DB: `${db.dbName}_gateway`,
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '1',
      SIGN_UP_MAX_PER_CLIENT: '0',
      SIGN_IN_MAX_FAILURES_PER_CLIENT: '100000',
    });
    cleanup.add(() => deleteServiceTopology(db.dbName, 'voucher-provider'));
    const provider = await startServer('voucher-provider', 'services/simulators/voucher-provider/main.ts', { MONGO_URL: db.mongoUrl, MONGO_DB: `${db.dbName}_provider`, AMQP_PREFIX: db.dbName, LOG_LEVEL: 'warn' }, '/health/ready');
    cleanup.add(() => provider.stop());
    const voucher = await startBenchService('voucher', db, cleanup, {
      AUTH_JWKS_URL: `${gateway.url}/.well-known/jwks.json`,
      IDENTITY_URL: gateway.url,
      VOUCHER_PROVIDER_URL: provider.url,
      // The fast path never calls back; the provider is told where it would.
      VOUCHER_PROVIDER_CALLBACK_URL: 'http://127.0.0.1:9/provider-callbacks',
      WEBHOOK_ALLOWED_ORIGINS: receiver.origin,
      SMS_FILE: join(tmpdir(), `${db.dbName}-sms.jsonl`),
    });
    cleanup.add(() => rm(join(tmpdir(), `${db.dbName}-sms.jsonl`), { force: true }));

    // Customers with phone numbers ending 0–3 (the provider's fast answers), each with a webhook secret.
    const identity = createPaymentGatewayClient({ baseUrl: gateway.url });
    const customers: { token: string; phone: string; callbackUrl: string }[] = [];
    for (let i = 0; i < CUSTOMERS; i++) {
      const email = `bench-voucher-${i}-${randomUUID().slice(0, 6)}@example.com`;
      const phone = `+4477${randomInt(1_000_000, 9_999_999)}${i % 4}`;
      await identity.POST('/auth/sign-up', { body: { email, password: PASSWORD, firstName: 'Bench', lastName: 'Customer', phone, role: 'customer' } });
      const token = (await identity.POST('/auth/sign-in', { body: { email, password: PASSWORD } })).data!.accessToken;
      const secret = (await (await fetch(`${voucher.url}/webhook-secrets`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).json()) as { secret: string };
      receiver.trust(`/bench/${i}`, secret.secret);
      customers.push({ token, phone, callbackUrl: `${receiver.origin}/bench/${i}` });
    }
    const body = (c: (typeof customers)[number]) => JSON.stringify({ phoneNumber: c.phone, callbackUrl: c.callbackUrl });
    const databasePid = pidListeningOn(Number(new URL(db.mongoUrl).port || 27017));

    // 1. 202 answers per second.
    const results: RouteResult[] = [];
    results.push(await loadRoute({ name: 'baseline GET /hello', server: baseline, method: 'GET', path: '/hello', ...(databasePid !== undefined ? { databasePid } : {}) }, load));
    let n = 0;
    results.push(
      await loadRoute(
        {
          name: VOUCHER_ROUTE.post,
          server: voucher,
          method: 'POST',
          path: '/vouchers',
          ...(databasePid !== undefined ? { databasePid } : {}),
          setupRequest: (request) => {
            const c = customers[n++ % customers.length]!;
            return { ...request, headers: { 'content-type': 'application/json', authorization: `Bearer ${c.token}`, 'idempotency-key': randomUUID() }, body: body(c) };
          },
        },
        load,
      ),
    );
    console.error(`\n${formatTable(results, { database: databasePid !== undefined, machine: true })}\n`);
    // Let the pipeline finish what the load asked for before timing deliveries.
    const voucherDb = db.mongo.db(db.dbName);
    log('waiting for the load\'s vouchers to be delivered…');
    const drainStart = Date.now();
    await eventually(async () => (await voucherDb.collection('outbox').countDocuments({})) + (await voucherDb.collection('webhook_pending').countDocuments({})), (left) => left === 0, 'pipeline drained', 600_000, 1_000);
    const drainSeconds = (Date.now() - drainStart) / 1000;
    const accepted = await voucherDb.collection('vouchers').countDocuments({});
    const delivered = await voucherDb.collection('webhook_deliveries').countDocuments({ status: 'DELIVERED' });
    log(`${accepted} vouchers accepted, ${delivered} delivered; the backlog drained in ${drainSeconds.toFixed(0)} s`);

    // 2. Request → delivered webhook, IN_FLIGHT at a time.
    const waiting = new Map<string, () => void>();
    receiver.onReceived = (message) => {
      const id = message.payload?.data.voucherId as string | undefined;
      if (id) waiting.get(id)?.();
    };
    const latencies: number[] = [];
    let sent = 0;
    let errors = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async (_, loop) => {
        while (sent < LATENCY_REQUESTS) {
          sent++;
          const c = customers[(loop + sent) % customers.length]!;
          const t0 = performance.now();
          const response = await fetch(`${voucher.url}/vouchers`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${c.token}`, 'idempotency-key': randomUUID() }, body: body(c) });
          const answer = (await response.json()) as { id?: string };
          if (response.status !== 202 || !answer.id) {
            errors++;
            continue;
          }
          // The webhook may arrive before this line runs: check what was received, then wait.
          await new Promise<void>((resolve) => {
            if (receiver.received.some((m) => m.payload?.data.voucherId === answer.id)) return resolve();
            const timer = setTimeout(() => {
              errors++;
              resolve();
            }, 60_000);
            waiting.set(answer.id!, () => {
              clearTimeout(timer);
              latencies.push(performance.now() - t0);
              resolve();
            });
          });
          waiting.delete(answer.id);
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? Number.NaN;
    const [p50, p99] = [pct(50), pct(99)];
    log(`request → webhook: ${latencies.length} timed, p50 ${ms(p50)} ms, p99 ${ms(p99)} ms, ${(latencies.length / seconds).toFixed(0)} deliveries/s, ${errors} errors`);

    const rows: Row[] = rowsAgainstFirst(results);
    rows.push({
      name: deliveredRow(IN_FLIGHT),
      unit: 'deliveries',
      rate: latencies.length / seconds,
      p50,
      p99,
      non2xx: 0,
      errors,
      timeouts: 0,
      completed: latencies.length,
      baseline: results[0]!.reqPerSec,
    });
    return {
      rows,
      details: { options, database: db.database, accepted, delivered, drainSeconds },
      command: `npx tsx ${SCRIPT} --duration ${load.duration} --connections ${load.connections} --warmup ${load.warmup} --timeout ${load.timeout} --requests ${LATENCY_REQUESTS} --in-flight ${IN_FLIGHT}`,
    };
  } finally {
    await cleanup.run();
  }
}

if (isMain(import.meta.url)) {
  const d = VOUCHER_DEFAULTS;
  const { load, extra } = parseBenchOptions(SCRIPT, d.load, { requests: { default: String(d.requests), meta: 'n' }, 'in-flight': { default: String(d.inFlight), meta: 'n' } });
  void runAlone('voucher', () => runVoucher({ load, requests: Number(extra.requests), inFlight: Number(extra['in-flight']) }));
}
