// HTTP benchmark of card payments (issue 9, item 8; part of `make bench`): the payment gateway
// charging cards at an acquiring-bank simulator, against a bare Express baseline, with 1,000 and
// 100,000 payments stored.
//
//   npx tsx tools/bench/payments.ts [--duration 10] [--connections 50] [--warmup 2] [--timeout 30]
//                                   [--scales 1000,100000]
//
// In one run it: measures in this process what request validation costs (express-openapi-validator's
// request middleware on a POST /payments, with the runtime's options; the runtime has no switch to
// turn it off in a running gateway) and which database writes one POST /payments makes (a gateway
// and a bank started in this process, their commands watched through the driver's command
// monitoring, as services/data-access-guard.test.ts does); starts the bank simulator (piggy-bank,
// no added latency, its own database as in production), the gateway (production settings) and the
// baseline, each in its own process; signs up and signs in merchants of piggy-bank and has them
// make a few payments, all through the API; then for each scale grows the stored payments to that
// many by inserting the difference directly (insertMany, 1,000 at a time, unordered) as the
// repositories store them — payments of other merchants with their merchant-log entries and head
// copies, idempotency records, and the bank's charges — and loads one route at a time with
// autocannon: the baseline, GET /payments/{id}, GET /payments?limit=20, POST /payments (a new
// Idempotency-Key each). It cleans up (servers, exchanges and queues, databases), also on failure
// and Ctrl-C. Run alone, it prints its section of docs/benchmarks.md.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import express, { type RequestHandler } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { CommandStartedEvent, Db, MongoClient } from 'mongodb';
import gatewaySpec from '../../generated/payment-gateway/spec.json' with { type: 'json' };
import { startService } from '../../services/common/bootstrap.js';
import { commandIdFor } from '../../services/common/data/idempotency.js';
import { type HeadCopy, logKey } from '../../services/common/data/sequenced-log.js';
import { idForIdempotencyKey, newId, requestHash } from '../../services/common/ids.js';
import { commandWatchers } from '../../services/common/mongo.js';
import { paymentGatewayService } from '../../services/payment-gateway/main.js';
import { toApiPayment } from '../../services/payment-gateway/payments/payments-delegate.js';
import type { StoredPayment } from '../../services/payment-gateway/payments/payments-repository.js';
import { type StoredCharge, bankKey } from '../../services/simulators/acquiring-bank/acquiring-bank-repository.js';
import { acquiringBankService } from '../../services/simulators/acquiring-bank/main.js';
import {
  Cleanup,
  type LoadOptions,
  type Route,
  type RouteResult,
  type RunningServer,
  cpuSeconds,
  deleteServiceTopology,
  dropDatabase,
  formatTable,
  loadRoute,
  localDatabaseProcess,
  log,
  openBenchDatabase,
  parseBenchOptions,
  redact,
  startBenchService,
  startServer,
  counter,
  inBatches,
  GatewayApi,
} from './harness.js';
import type { DatabaseInfo } from './report.js';
import { type Row, type Scenario, toRow } from './results.js';
import { isMain, runAlone } from './scenarios.js';

const SCRIPT = 'tools/bench/payments.ts';
export interface PaymentsOptions {
  load: LoadOptions;
  /** Payments stored at each measurement, growing. */
  scales: number[];
}

export const PAYMENTS_DEFAULTS: PaymentsOptions = { load: { duration: 10, connections: 50, warmup: 2, timeout: 30 }, scales: [1_000, 100_000] };

export const BANK = 'piggy-bank';
/** Merchants of the load, signed up through the API; the routes rotate over them. */
export const MERCHANTS = 5;
/**
 * Payments each load merchant makes through the API before the load (GET /payments/{id} rotates
 * over them). 50: a list page reads its merchant's log 50 entries at a time, so with at least that
 * many the list does the same work at every scale, whatever the POST load has added since.
 */
export const PAYMENTS_PER_MERCHANT = 50;
/** The seeded payments belong to this many other merchants (a merchant-payments log each). */
export const OTHER_MERCHANTS = 100;
export const SEED_BATCH = 1_000;
/** As in gateway.ts: every sign-in comes from one address (set-up only here, but limits still count). */
export const SIGN_IN_LIMIT = 100_000;
export const PAN = '4242424242424242';
export const AMOUNT = 1_000;
export const CURRENCY = 'EUR';
/** The targets (issue 9), at 50 connections with 10,000 payments stored. */
export const TARGET = { postRate: 300, postP99: 100, getRate: 1_500, scale: 10_000, validationShare: 0.1 };

interface Merchant {
  email: string;
  password: string;
  id: string;
  token: string;
}

/** What one scale measured besides its rows. */
export interface PaymentsStep {
  scale: number;
  /** The group of its rows (`1k`). */
  group: string;
  /** Payments inserted directly to reach the scale, and the seconds it took. */
  seeded: number;
  seedSeconds: number;
  /** Payments stored (all merchants) when each route's load started, by route name. */
  storedBefore: Record<string, number>;
  /** POST /payments: CPU of the bank simulator per charge it made (warm-up included), in µs. */
  bankMicrosPerCharge?: number;
  /** POST /payments: payments not `succeeded` after the load (pending: the bank did not answer in time). */
  notSucceeded: number;
  /** POST /payments: payments made by the route (warm-up included). */
  made: number;
}

export interface PaymentsDetails {
  options: PaymentsOptions;
  /** The machine's cores (what bounds req/s when every request costs CPU). */
  cores: number;
  steps: PaymentsStep[];
  database: DatabaseInfo;
  /** MONGO_URL, password hidden. */
  mongoUrl: string;
  databaseExe?: string;
  amqpHost: string;
  validation: ValidationCost;
  validatorVersion: string;
  writes: PaymentWrites;
}

export async function runPayments(options: PaymentsOptions): Promise<Scenario<PaymentsDetails>> {
  checkScales(options.scales);
  const cleanup = new Cleanup();
  try {
    // 1. The database (and, under the same name, the run's AMQP exchange and queues).
    const db = await openBenchDatabase(cleanup);
    const { mongo, mongoUrl, database, dbName } = db;
    const databaseProcess = localDatabaseProcess(mongoUrl);
    if (databaseProcess) log(`database process on this machine: ${databaseProcess.exe} (pid ${databaseProcess.pid}); its CPU is measured too`);

    // 2. In this process, before any server runs: request validation alone, and one payment's writes.
    log('request validation of POST /payments, in this process…');
    const validation = await measureValidation();
    log(`request validation ${validation.validationMicros.toFixed(1)} µs per request (chain ${validation.chainMicros.toFixed(1)} µs − matching ${validation.matchMicros.toFixed(1)} µs); the PaymentRequest schema alone (ajv) ${validation.ajvMicros.toFixed(1)} µs`);
    log('database commands of one POST /payments (gateway and bank in this process)…');
    const writes = await countPaymentWrites(mongo, mongoUrl, dbName, cleanup);
    log(`one POST /payments: ${writes.requestWrites.length} writes during the request, ${writes.afterWrites.length} after it; ${writes.reads} reads`);

    // 3. The bank, the baseline and the gateway, each in its own process. The bank keeps its books
    // in a database of its own (as in production), dropped at the end like the gateway's.
    const bankDbName = `${dbName}_bank`;
    cleanup.add(() => dropDatabase(mongo, bankDbName));
    cleanup.add(() => deleteServiceTopology(dbName, 'acquiring-bank'));
    const bank = await startServer(
      'acquiring-bank',
      'services/simulators/acquiring-bank/main.ts',
      {
        MONGO_URL: mongoUrl,
        MONGO_DB: bankDbName,
        AMQP_PREFIX: dbName,
        LOG_LEVEL: 'warn',
        VALIDATE_RESPONSES: 'false',
        SHUTDOWN_TIMEOUT_MS: '5000',
        BANK_NAME: BANK,
        BANK_LATENCY_MS: '0',
      },
      '/health/ready',
    );
    cleanup.add(() => bank.stop());
    const baseline = await startServer('baseline', 'tools/bench/baseline-server.ts', {}, '/hello');
    cleanup.add(() => baseline.stop());
    const gateway = await startBenchService('payment-gateway', db, cleanup, {
      ACQUIRING_BANKS: `${BANK}=${bank.url}`,
      SIGN_IN_MAX_FAILURES_PER_CLIENT: String(SIGN_IN_LIMIT),
      SIGN_IN_MAX_FAILURES_PER_ACCOUNT: String(SIGN_IN_LIMIT),
      SIGN_UP_MAX_PER_CLIENT: String(SIGN_IN_LIMIT),
    });

    // 4. Merchants and their first payments, through the API.
    const api = new GatewayApi(gateway.url);
    const merchants = await signUpMerchants(api);
    await signInAll(api, merchants);
    const ownPayments = await makePayments(api, merchants);
    log(`${MERCHANTS} merchants of ${BANK} signed up and signed in; ${ownPayments.length} payments made through the API`);

    // 5. Per scale: grow the stored payments, then load one route at a time (baseline first).
    const gatewayDb = mongo.db(dbName);
    const bankDb = mongo.db(bankDbName);
    const seeder = new Seeder(gatewayDb, bankDb);
    const rows: Row[] = [];
    const steps: PaymentsStep[] = [];
    for (const scale of options.scales) {
      const stored = await gatewayDb.collection('payments').countDocuments();
      const seedStarted = Date.now();
      const seeded = await seeder.grow(scale - stored);
      const seedSeconds = (Date.now() - seedStarted) / 1000;
      log(`scale ${count(scale)}: seeded ${count(seeded)} payments of other merchants in ${seedSeconds.toFixed(0)} s`);
      const run = await measureScale({ scale, options: options.load, api, merchants, ownPayments, baseline, gateway, bank, databasePid: databaseProcess?.pid, gatewayDb, bankDb });
      console.error(`\n${count(scale)} payments stored:\n${formatTable(run.results.map((r) => r.result), { database: databaseProcess !== undefined, machine: true })}\n`);
      const baselineRate = run.results[0]!.result.reqPerSec;
      rows.push(...run.results.map((r) => toRow(r.result, baselineRate, scaleName(scale))));
      steps.push({
        scale,
        group: scaleName(scale),
        seeded,
        seedSeconds,
        storedBefore: Object.fromEntries(run.results.map((r) => [r.name, r.storedBefore])),
        ...(run.bankMicrosPerCharge !== undefined ? { bankMicrosPerCharge: run.bankMicrosPerCharge } : {}),
        notSucceeded: run.notSucceeded,
        made: run.made,
      });
    }
    return {
      rows,
      details: {
        options,
        cores: cpus().length,
        steps,
        database,
        mongoUrl: redact(mongoUrl),
        ...(databaseProcess ? { databaseExe: databaseProcess.exe } : {}),
        amqpHost: new URL(process.env.AMQP_URL ?? 'amqp://127.0.0.1:5672').host,
        validation,
        validatorVersion: validatorVersion(),
        writes,
      },
      command: `npx tsx ${SCRIPT} --duration ${options.load.duration} --connections ${options.load.connections} --warmup ${options.load.warmup} --timeout ${options.load.timeout} --scales ${options.scales.join(',')}`,
    };
  } finally {
    // 6. Stop the servers, delete the exchanges and queues, drop the databases, disconnect.
    await cleanup.run();
  }
}

function checkScales(scales: number[]): void {
  if (scales.length === 0 || scales.some((s) => !Number.isInteger(s) || s < 1)) throw new Error(`--scales must be positive integers, got ${scales.join(',')}`);
  if (scales.some((s, i) => i > 0 && s <= scales[i - 1]!)) throw new Error(`--scales must grow: ${scales.join(',')}`);
  const first = MERCHANTS * PAYMENTS_PER_MERCHANT;
  if (scales[0]! < first) throw new Error(`--scales must start at ${first} or more (the load's merchants make ${first} payments first)`);
}

// --- load -------------------------------------------------------------------------------------

export const PAYMENTS_ROUTE = {
  baseline: 'baseline GET /hello',
  get: 'GET /payments/{id}',
  list: 'GET /payments?limit=20',
  post: 'POST /payments',
} as const;
const ROUTE = PAYMENTS_ROUTE;
type RouteName = (typeof ROUTE)[keyof typeof ROUTE];

interface MeasuredRoute {
  name: RouteName;
  result: RouteResult;
  /** Payments stored (all merchants) when the route's load started. */
  storedBefore: number;
}

interface ScaleRun {
  results: MeasuredRoute[];
  /** POST /payments: CPU of the bank simulator per charge it made (warm-up included), in µs. */
  bankMicrosPerCharge?: number;
  /** POST /payments: payments not `succeeded` after the load (pending: the bank did not answer in time). */
  notSucceeded: number;
  /** POST /payments: payments made by the route (warm-up included). */
  made: number;
}

interface ScaleInput {
  scale: number;
  options: LoadOptions;
  api: GatewayApi;
  merchants: Merchant[];
  ownPayments: { merchant: number; id: string }[];
  baseline: RunningServer;
  gateway: RunningServer;
  bank: RunningServer;
  databasePid: number | undefined;
  gatewayDb: Db;
  bankDb: Db;
}

async function measureScale(input: ScaleInput): Promise<ScaleRun> {
  const { options, api, merchants, gatewayDb, bankDb, bank } = input;
  const payments = gatewayDb.collection('payments');
  const charges = bankDb.collection('charges');
  const results: MeasuredRoute[] = [];
  let bankMicrosPerCharge: number | undefined;
  let made = 0;
  let notSucceeded = 0;
  for (const route of paymentRoutes(input)) {
    // Fresh tokens (10 minutes) before each route, so no run meets an expired one.
    if (route.name !== ROUTE.baseline) await signInAll(api, merchants);
    const storedBefore = await payments.countDocuments();
    const chargesBefore = route.name === ROUTE.post ? await charges.countDocuments() : 0;
    const bankCpuBefore = cpuSeconds(bank.pid);
    const result = await loadRoute(route, options);
    if (route.name === ROUTE.post) {
      const bankCpu = (cpuSeconds(bank.pid) ?? 0) - (bankCpuBefore ?? 0);
      const chargesMade = (await charges.countDocuments()) - chargesBefore;
      if (bankCpuBefore !== undefined && chargesMade > 0) bankMicrosPerCharge = (bankCpu * 1e6) / chargesMade;
      made = (await payments.countDocuments()) - storedBefore;
      notSucceeded = await payments.countDocuments({ status: { $ne: 'succeeded' } });
    }
    results.push({ name: route.name as RouteName, result, storedBefore });
  }
  return { results, ...(bankMicrosPerCharge !== undefined ? { bankMicrosPerCharge } : {}), made, notSucceeded };
}

/** The routes under load at one scale, in order. */
function paymentRoutes({ baseline, gateway, merchants, ownPayments, databasePid }: ScaleInput): Route[] {
  const bearer = (m: number) => `Bearer ${merchants[m]!.token}`;
  const next = counter();
  const withDb = (route: Route): Route => ({ ...route, ...(databasePid !== undefined ? { databasePid } : {}) });
  return [
    withDb({ name: ROUTE.baseline, server: baseline, method: 'GET', path: '/hello' }),
    withDb({
      // Each request reads a payment its merchant made, in turn.
      name: ROUTE.get,
      server: gateway,
      method: 'GET',
      path: `/payments/${ownPayments[0]!.id}`,
      setupRequest: (request) => {
        const { merchant, id } = ownPayments[next() % ownPayments.length]!;
        return { ...request, path: `/payments/${id}`, headers: { ...request.headers, authorization: bearer(merchant) } };
      },
    }),
    withDb({
      name: ROUTE.list,
      server: gateway,
      method: 'GET',
      path: '/payments?limit=20',
      setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: bearer(next() % MERCHANTS) } }),
    }),
    withDb({
      // The same card and amount, a new Idempotency-Key (so a new payment) and reference each time.
      name: ROUTE.post,
      server: gateway,
      method: 'POST',
      path: '/payments',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(paymentBody('order-0')),
      setupRequest: (request) => {
        const n = next();
        return {
          ...request,
          headers: { ...request.headers, authorization: bearer(n % MERCHANTS), 'idempotency-key': randomUUID() },
          body: JSON.stringify(paymentBody(`order-${n}`)),
        };
      },
    }),
  ];
}

function paymentBody(reference: string) {
  return {
    card: { number: PAN, expiryMonth: 12, expiryYear: new Date().getUTCFullYear() + 3, cvv: '123', holderName: 'Ada Lovelace' },
    amount: AMOUNT,
    currency: CURRENCY,
    reference,
  };
}


// --- merchants, through the API ---------------------------------------------------------------


async function signUpMerchants(api: GatewayApi): Promise<Merchant[]> {
  const merchants: Merchant[] = Array.from({ length: MERCHANTS }, (_, i) => ({ email: `bench-shop-${i}@example.com`, password: `bench password ${i}`, id: '', token: '' }));
  await inBatches(merchants, 4, async (merchant, i) => {
    const body = await api.call('POST', '/auth/sign-up', {
      body: {
        email: merchant.email,
        password: merchant.password,
        firstName: 'Bench',
        lastName: `Shop ${i}`,
        phone: `+4477008${String(i).padStart(5, '0')}`,
        role: 'merchant',
        business: { name: `Bench Shop ${i} Ltd`, acquiringBank: BANK },
      },
    });
    merchant.id = String(body.id);
  });
  return merchants;
}

async function signInAll(api: GatewayApi, merchants: Merchant[]): Promise<void> {
  await inBatches(merchants, 4, async (merchant) => {
    const tokens = await api.call('POST', '/auth/sign-in', { body: { email: merchant.email, password: merchant.password } });
    if (typeof tokens.accessToken !== 'string') throw new Error(`sign-in of ${merchant.email} returned no access token`);
    merchant.token = tokens.accessToken;
  });
}

/** PAYMENTS_PER_MERCHANT payments per load merchant, all succeeded. */
async function makePayments(api: GatewayApi, merchants: Merchant[]): Promise<{ merchant: number; id: string }[]> {
  const jobs = merchants.flatMap((_, m) => Array.from({ length: PAYMENTS_PER_MERCHANT }, (__, i) => ({ m, i })));
  const made: { merchant: number; id: string }[] = [];
  await inBatches(jobs, 10, async ({ m, i }) => {
    const payment = await api.call('POST', '/payments', { token: merchants[m]!.token, key: randomUUID(), body: paymentBody(`setup-${m}-${i}`) });
    if (payment.status !== 'succeeded') throw new Error(`a set-up payment is ${String(payment.status)}, not succeeded`);
    made.push({ merchant: m, id: String(payment.id) });
  });
  return made;
}


// --- seeding ----------------------------------------------------------------------------------

interface MerchantIndexEntry {
  _id: string;
  owner: string;
  seq: number;
  paymentId: string;
  createdAt: string;
}

/**
 * Payments of OTHER_MERCHANTS other merchants, written as the gateway and the bank store them: the
 * payment (its `_id` derived from the merchant and a key, as the idempotent command derives it),
 * its entry in the merchant's payments log and the log's head copy, the idempotency record with
 * the answer a retry would replay, and the bank's charge. The vault's `cards` are not seeded (the
 * seeded payments name card ids that are not there; nothing on the measured routes reads them).
 */
class Seeder {
  /** Seq of each other merchant's latest log entry. */
  private readonly seqs = Array.from({ length: OTHER_MERCHANTS }, () => 0);
  private readonly merchantIds = Array.from({ length: OTHER_MERCHANTS }, () => newId('usr'));
  private written = 0;
  /** When the first seeded payment was made: they are spread a second apart from there. */
  private readonly epoch = Date.now() - 365 * 24 * 3600 * 1000;

  constructor(
    private readonly gatewayDb: Db,
    private readonly bankDb: Db,
  ) {}

  /** Inserts `n` more payments (none when n ≤ 0), SEED_BATCH at a time; the head copies last. */
  async grow(n: number): Promise<number> {
    if (n <= 0) return 0;
    for (let done = 0; done < n; done += SEED_BATCH) {
      const size = Math.min(SEED_BATCH, n - done);
      const batch = Array.from({ length: size }, () => this.next());
      // One collection after the other in each database (one writer per SQLite file); the two
      // databases at once.
      await Promise.all([
        (async () => {
          await insertAll(this.gatewayDb, 'payments', batch.map((b) => b.payment));
          await insertAll(this.gatewayDb, 'merchant_payments', batch.map((b) => b.entry));
          await insertAll(this.gatewayDb, 'idempotency_keys', batch.map((b) => b.idempotency));
        })(),
        insertAll(this.bankDb, 'charges', batch.map((b) => b.charge)),
      ]);
      if ((done / SEED_BATCH) % 20 === 19) log(`  seeded ${count(done + size)} of ${count(n)}…`);
    }
    const heads = this.gatewayDb.collection<HeadCopy<MerchantIndexEntry>>('merchant_payments_heads');
    for (const [m, owner] of this.merchantIds.entries()) {
      const seq = this.seqs[m]!;
      if (seq === 0) continue;
      const entry = await this.gatewayDb.collection<MerchantIndexEntry>('merchant_payments').findOne({ _id: logKey(owner, seq) });
      if (!entry) throw new Error(`seeded log entry ${logKey(owner, seq)} is missing`);
      await heads.replaceOne({ _id: owner }, { seq, entry }, { upsert: true });
    }
    return n;
  }

  private next() {
    const i = this.written++;
    const m = i % OTHER_MERCHANTS;
    const merchantId = this.merchantIds[m]!;
    const seq = ++this.seqs[m]!;
    const at = new Date(this.epoch + i * 1000);
    const createdAt = at.toISOString();
    const settledAt = new Date(at.getTime() + 150).toISOString();
    const key = randomUUID();
    const body = paymentBody(`seed-${i}`);
    const id = commandIdFor('payment-gateway', 'pay', { operation: 'createPayment', principal: merchantId, key });
    const bankChargeId = idForIdempotencyKey(`chg_${BANK}`, BANK, id);
    const payment: StoredPayment = {
      _id: id,
      merchantId,
      bank: BANK,
      status: 'succeeded',
      amount: 100 + (i % 50_000),
      currency: CURRENCY,
      reference: `seed-${i}`,
      card: { brand: 'visa', bin: '424242', last4: '4242', expiryMonth: body.card.expiryMonth, expiryYear: body.card.expiryYear },
      cardId: `card_seed${String(i % 5_000).padStart(27, '0')}`,
      bankChargeId,
      createdAt,
      updatedAt: settledAt,
      statusHistory: [
        { status: 'pending', at: createdAt },
        { status: 'succeeded', at: settledAt },
      ],
      requestId: randomUUID(),
      correlationId: randomUUID(),
    };
    const entry: MerchantIndexEntry = { _id: logKey(merchantId, seq), owner: merchantId, seq, paymentId: id, createdAt };
    const idempotency = {
      _id: id,
      requestHash: requestHash({ ...body, amount: payment.amount }),
      state: 'completed' as const,
      answer: { status: 201, headers: { location: `/payments/${id}` }, body: toApiPayment(payment, 0) },
      at,
    };
    const charge: StoredCharge = {
      _id: bankKey(BANK, id),
      bank: BANK,
      reference: id,
      bankChargeId,
      merchantId,
      status: '0',
      amount: payment.amount,
      currency: CURRENCY,
      card: { last4: '4242' },
      createdAt,
      settledAt: createdAt,
    };
    return { payment, entry, idempotency, charge };
  }
}

async function insertAll(db: Db, collection: string, docs: object[]): Promise<void> {
  if (docs.length > 0) await db.collection(collection).insertMany(docs as never[], { ordered: false });
}

// --- request validation -----------------------------------------------------------------------

export interface ValidationCost {
  /** The validator's whole chain (matching, then request validation) per request, µs. */
  chainMicros: number;
  /** Its matching middleware alone (what routing needs whether or not requests are validated), µs. */
  matchMicros: number;
  /** chain − matching: request validation (headers, query and body of POST /payments), µs. */
  validationMicros: number;
  /** The compiled PaymentRequest JSON Schema alone (ajv 2020, formats), on the same body, µs. */
  ajvMicros: number;
  rounds: number;
  perRound: number;
}

/**
 * What request validation costs a POST /payments. The runtime (services/common/http/operation-
 * router.ts) has no switch to turn it off, so it is measured here, in this process: an Express app
 * runs express-openapi-validator's middleware with the runtime's options on a POST /payments whose
 * body is already parsed (as express.json leaves it), once with the whole chain and once with only
 * the matching middleware the runtime needs anyway; the difference is the validation. Alternating
 * rounds, medians. Checked first: the whole chain refuses a bad body and matching alone lets it by.
 */
async function measureValidation(): Promise<ValidationCost> {
  const validator = OpenApiValidator.middleware({
    // The options of operation-router.ts (responses are not validated in production).
    apiSpec: structuredClone(gatewaySpec) as never,
    validateRequests: { allowUnknownQueryParameters: false, removeAdditional: false, allErrors: true },
    validateResponses: false,
    validateSecurity: false,
    validateFormats: true,
    ignoreUndocumented: false,
  }) as unknown as RequestHandler[];
  const matching = validator.slice(0, 2); // pathParamsMiddleware, metadataMiddleware (as operation-router.ts splits it)
  const good = paymentBody('order-1');

  type Done = (err: unknown) => void;
  const appWith = (chain: RequestHandler[]) => {
    const app = express();
    // As operation-router.ts: req.query made a plain property; the body as express.json leaves it.
    app.use((req, _res, next) => {
      Object.defineProperty(req, 'query', { value: { ...req.query }, writable: true, configurable: true, enumerable: true });
      next();
    });
    app.use(chain);
    app.use((_req, res) => (res.locals.done as Done)(undefined));
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => (res.locals.done as Done)(err ?? new Error('error')));
    return app as unknown as { handle(req: object, res: object, next: (err?: unknown) => void): void };
  };
  const send = (app: ReturnType<typeof appWith>, body: unknown) =>
    new Promise<void>((resolve, reject) => {
      const req = {
        method: 'POST',
        url: '/payments',
        headers: { host: '127.0.0.1', 'content-type': 'application/json', 'content-length': '180', authorization: 'Bearer x', 'idempotency-key': '7f9c2ba4-e88f-4a0e-9b3e-1b2d7c4e5f60' },
        body,
        socket: {},
      };
      const res = { locals: { done: (err: unknown) => (err ? reject(err as Error) : resolve()) }, setHeader() {}, getHeader() {} };
      app.handle(req, res, (err) => reject(err instanceof Error ? err : new Error('no middleware answered')));
    });

  const full = appWith(validator);
  const matchOnly = appWith(matching);
  const bad = { ...good, amount: 'ten' };
  const refused = await send(full, bad).then(
    () => false,
    (err: { status?: number }) => err.status === 400,
  );
  if (!refused) throw new Error('express-openapi-validator did not refuse a POST /payments body with a string amount: the validation measured would not be the runtime’s');
  await send(matchOnly, bad); // matching alone lets it by
  await send(full, good);

  const rounds = 9;
  const perRound = 2_000;
  const time = async (app: ReturnType<typeof appWith>) => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) await send(app, good);
    return Number(process.hrtime.bigint() - started) / 1e3 / perRound;
  };
  for (let i = 0; i < 2; i++) {
    await time(full);
    await time(matchOnly);
  }
  const chain: number[] = [];
  const match: number[] = [];
  for (let i = 0; i < rounds; i++) {
    chain.push(await time(full));
    match.push(await time(matchOnly));
  }

  // The schema alone, compiled by ajv as run.ts does for contracts.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormatsModule.default(ajv);
  const specId = 'https://payspec.invalid/bench/payment-gateway.json';
  ajv.addSchema({ ...gatewaySpec, $id: specId });
  const validate = ajv.compile({ $ref: `${specId}#/components/schemas/PaymentRequest` });
  if (!validate(good)) throw new Error(`the benchmark's payment body does not match the spec: ${ajv.errorsText(validate.errors)}`);
  for (let i = 0; i < 20_000; i++) validate(good);
  const started = process.hrtime.bigint();
  for (let i = 0; i < 100_000; i++) validate(good);
  const ajvMicros = Number(process.hrtime.bigint() - started) / 1e3 / 100_000;

  const chainMicros = median(chain);
  const matchMicros = median(match);
  return { chainMicros, matchMicros, validationMicros: Math.max(0, chainMicros - matchMicros), ajvMicros, rounds, perRound };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// --- database writes of one payment ------------------------------------------------------------

export interface Command {
  service: 'gateway' | 'bank';
  name: string;
  collection: string;
  /** Documents inserted, or updates/deletes sent. */
  n: number;
  upsert?: boolean;
  /** A find whose filter is `{ _id: <string> }` alone (data-access-guard's rule). */
  byId?: boolean;
}

export interface PaymentWrites {
  /** Writes from sending the request to its answer, in order. */
  requestWrites: Command[];
  /** Writes in the 2 s after the answer (the outbox relay). */
  afterWrites: Command[];
  /** Finds during the request, per `<service> <collection>`. */
  readsByCollection: Record<string, number>;
  reads: number;
  /** Finds during the request whose filter is not `_id` alone, per `<service> <collection>`. */
  otherReads: Record<string, number>;
}

const WRITE_COMMANDS = new Set(['insert', 'update', 'delete', 'findAndModify']);

/**
 * One payment's database commands: a gateway and a bank started in this process (their clients
 * report commands while a watcher is registered, as in data-access-guard.test.ts), in databases
 * and under an AMQP prefix of their own. A merchant signs up and pays once to warm up (its
 * payments log, the card in the vault); the second payment, with the same card as the load's, is
 * the one recorded, and the 2 s after its answer.
 */
async function countPaymentWrites(mongo: MongoClient, mongoUrl: string, dbName: string, cleanup: Cleanup): Promise<PaymentWrites> {
  const names = { gateway: `${dbName}_w_gateway`, bank: `${dbName}_w_bank` };
  const prefix = `${dbName}_w`;
  const serviceOf = new Map<string, 'gateway' | 'bank'>([
    [names.gateway, 'gateway'],
    [names.bank, 'bank'],
  ]);
  let recording: Command[] | undefined;
  const watch = (event: CommandStartedEvent) => {
    const service = serviceOf.get(event.databaseName);
    if (!recording || !service) return;
    const command = event.command;
    const collection = String(command[event.commandName]);
    const first = (list: unknown) => (Array.isArray(list) && list.length > 0 ? (list[0] as Record<string, unknown>) : undefined);
    let n = 1;
    let upsert: boolean | undefined;
    let byId: boolean | undefined;
    if (event.commandName === 'insert') n = (command.documents as unknown[]).length;
    else if (event.commandName === 'update') {
      n = (command.updates as unknown[]).length;
      upsert = (first(command.updates) as { upsert?: boolean } | undefined)?.upsert === true;
    } else if (event.commandName === 'delete') n = (command.deletes as unknown[]).length;
    else if (event.commandName === 'find') {
      const filter = (command.filter ?? {}) as Record<string, unknown>;
      byId = Object.keys(filter).length === 1 && typeof filter._id === 'string';
    }
    recording.push({ service, name: event.commandName, collection, n, ...(upsert ? { upsert } : {}), ...(byId !== undefined ? { byId } : {}) });
  };

  cleanup.add(() => dropDatabase(mongo, names.bank));
  cleanup.add(() => dropDatabase(mongo, names.gateway));
  cleanup.add(() => deleteServiceTopology(prefix, 'acquiring-bank'));
  cleanup.add(() => deleteServiceTopology(prefix, 'payment-gateway'));
  commandWatchers.add(watch);
  const common = {
    MONGO_URL: mongoUrl,
    ...(process.env.AMQP_URL ? { AMQP_URL: process.env.AMQP_URL } : {}),
    AMQP_PREFIX: prefix,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    VALIDATE_RESPONSES: 'false',
    SHUTDOWN_TIMEOUT_MS: '5000',
    // No reconciler pass in the recorded window (nothing is left pending anyway).
    RECONCILE_INTERVAL_MS: '3600000',
  };
  const bank = await startService(acquiringBankService, { ...common, MONGO_DB: names.bank, BANK_NAME: BANK, BANK_LATENCY_MS: '0' });
  try {
    const gateway = await startService(paymentGatewayService, {
      ...common,
      MONGO_DB: names.gateway,
      ACQUIRING_BANKS: `${BANK}=${bank.url}`,
      // Only this one sign-up is hashed: cheap parameters, nothing measured depends on them.
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '1',
    });
    try {
      const api = new GatewayApi(gateway.url);
      const [merchant] = await signUpMerchants(api);
      await signInAll(api, [merchant!]);
      const pay = (reference: string) => api.call('POST', '/payments', { token: merchant!.token, key: randomUUID(), body: paymentBody(reference) });
      await pay('warm-up');
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // the relay publishes and deletes its marker

      recording = [];
      const answer = await pay('recorded');
      const during = recording;
      recording = [];
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const after = recording;
      recording = undefined;
      if (answer.status !== 'succeeded') throw new Error(`the recorded payment is ${String(answer.status)}, not succeeded`);

      const tally = (list: Command[]) => {
        const counts: Record<string, number> = {};
        for (const c of list) counts[`${c.service} ${c.collection}`] = (counts[`${c.service} ${c.collection}`] ?? 0) + 1;
        return counts;
      };
      const finds = during.filter((c) => c.name === 'find');
      return {
        requestWrites: during.filter((c) => WRITE_COMMANDS.has(c.name)),
        afterWrites: after.filter((c) => WRITE_COMMANDS.has(c.name)),
        readsByCollection: tally(finds),
        reads: finds.length,
        otherReads: tally(finds.filter((c) => !c.byId)),
      };
    } finally {
      await gateway.stop();
    }
  } finally {
    await bank.stop();
    commandWatchers.delete(watch);
  }
}

const count = (n: number) => n.toLocaleString('en-US');
const scaleName = (n: number) => (n >= 1_000 && n % 1_000 === 0 ? `${count(n / 1_000)}k` : count(n));

function validatorVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../node_modules/express-openapi-validator/package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '';
  } catch {
    return '';
  }
}

if (isMain(import.meta.url)) {
  const d = PAYMENTS_DEFAULTS;
  const { load, extra } = parseBenchOptions(SCRIPT, d.load, { scales: { default: d.scales.join(','), meta: 'list' } });
  void runAlone('payments', () => runPayments({ load, scales: extra.scales.split(',').map((s) => Number(s.trim())) }));
}
