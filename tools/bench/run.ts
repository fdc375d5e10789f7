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
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { createLocalJWKSet, jwtVerify } from 'jose';
import contractSpec from '../../generated/contract/spec.json' with { type: 'json' };
import { TEST_AUDIENCE, TEST_ISSUER, createTokenIssuer } from '../testing/tokens.js';
import {
  Cleanup,
  type LoadOptions,
  REPO,
  type Route,
  type RouteResult,
  formatTable,
  loadRoute,
  log,
  micros,
  microsPerCall,
  ms,
  openBenchDatabase,
  parseLoadOptions,
  ratio,
  redact,
  reportFailures,
  startBenchService,
  startServer,
} from './harness.js';
import { type DatabaseInfo, machineDetails, writeDocSection } from './report.js';

const DOC = join(REPO, 'docs', 'benchmarks.md');
const COMMAND = 'make bench'; // = npx tsx tools/bench/run.ts
const SEED_CONTRACTS = 200;
/** Seeded contracts are spread over this many customers, so a customer's list is a full page. */
const SEED_CUSTOMERS = 10;
const LIST_CUSTOMER = 'bench-cust-0';

const IBAN = 'FR76 3000 6000 0112 3456 7890 189';
const contractBody = (customerId: string, n: number) => ({
  // The customer's gateway account: any well-formed id will do for a benchmark.
  customer: { id: customerId, name: `Bench customer ${customerId}`, billingEmail: 'accounts@example.com', userId: `usr_${customerId.replace(/[^0-9a-z]/g, '').padStart(26, '0').slice(-26)}` },
  validFrom: '2026-01-01',
  validTo: '2026-12-31',
  currency: 'EUR',
  creditLimit: 500_000,
  mandate: { reference: `BENCH-${n}`, iban: IBAN, signedOn: '2025-12-01' },
});

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAt = Date.now();
  // Other work on the machine skews the figures; the write-up records how busy it was before.
  const loadBefore = os.loadavg()[0] ?? 0;
  const cleanup = new Cleanup();
  cleanup.runOnSignals();

  try {
    const options = parseLoadOptions('tools/bench/run.ts');

    // 1. The database.
    const db = await openBenchDatabase(cleanup);
    const { mongoUrl, database } = db;

    // Tokens: the same ES256 path as production, with keys the service trusts through AUTH_JWKS.
    // Long-lived so that a long --duration never runs into expiry (401s).
    const issuer = await createTokenIssuer('bench-key');
    const token = await issuer.sign('bench-operator', { roles: ['operator'], expiresIn: '6h' });
    const auth = { authorization: `Bearer ${token}` };

    // 2. The two servers, each in its own process.
    const baseline = await startServer('baseline', 'tools/bench/baseline-server.ts', {}, '/hello');
    cleanup.add(() => baseline.stop());
    const contract = await startBenchService('contract', db, cleanup, { AUTH_JWKS: JSON.stringify(issuer.jwks) });

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
    if (reportFailures(results).length > 0) {
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

// --- report -----------------------------------------------------------------------------------

interface SectionInput {
  options: LoadOptions;
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

await main();
