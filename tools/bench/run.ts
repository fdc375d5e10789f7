// HTTP benchmark of the contract service against a bare Express baseline (part of `make bench`).
//
//   npx tsx tools/bench/run.ts [--duration 10] [--connections 50] [--warmup 2] [--timeout 30]
//
// In one run it: makes sure MongoDB (locally FerretDB) answers at MONGO_URL; starts the baseline
// and the contract service, each in its own process so the load generator here never shares
// their event loop; seeds contracts through the API; loads one route at a time with autocannon;
// stops everything and drops its database (also on failure and Ctrl-C). It returns the rows and
// unit costs (runHttp); run alone, it prints its section of docs/benchmarks.md.
import { randomUUID } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { createLocalJWKSet, jwtVerify } from 'jose';
import contractSpec from '../../generated/contract/spec.json' with { type: 'json' };
import { TEST_AUDIENCE, TEST_ISSUER, createTokenIssuer } from '../testing/tokens.js';
import {
  Cleanup,
  type LoadOptions,
  type Route,
  type RouteResult,
  formatTable,
  loadRoute,
  localDatabaseProcess,
  log,
  microsPerCall,
  openBenchDatabase,
  parseLoadOptions,
  redact,
  startBenchService,
  startServer,
} from './harness.js';
import type { DatabaseInfo } from './report.js';
import { type Scenario, rowsAgainstFirst } from './results.js';
import { isMain, runAlone } from './scenarios.js';

const SCRIPT = 'tools/bench/run.ts';
export const HTTP_DEFAULTS: LoadOptions = { duration: 10, connections: 50, warmup: 2, timeout: 30 };
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

export interface HttpDetails {
  load: LoadOptions;
  database: DatabaseInfo;
  /** MONGO_URL, password hidden. */
  mongoUrl: string;
  /** The database's process was on this machine (its CPU is measured). */
  localDatabase: boolean;
  seededContracts: number;
  seededCustomers: number;
  costs: UnitCosts;
}

export async function runHttp(load: LoadOptions): Promise<Scenario<HttpDetails>> {
  const cleanup = new Cleanup();
  try {
    // 1. The database.
    const db = await openBenchDatabase(cleanup);
    const { mongoUrl, database } = db;
    const databaseProcess = localDatabaseProcess(mongoUrl);

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
    for (const route of routes) results.push(await loadRoute(databaseProcess ? { ...route, databasePid: databaseProcess.pid } : route, load));
    console.error(`\n${formatTable(results)}\n`);

    return {
      rows: rowsAgainstFirst(results),
      details: { load, database, mongoUrl: redact(mongoUrl), localDatabase: databaseProcess !== undefined, seededContracts: SEED_CONTRACTS, seededCustomers: SEED_CUSTOMERS, costs },
      command: `npx tsx ${SCRIPT} --duration ${load.duration} --connections ${load.connections} --warmup ${load.warmup} --timeout ${load.timeout}`,
    };
  } finally {
    // 5. Stop both servers, then drop the database and disconnect (last in, first out).
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

export interface UnitCosts {
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

if (isMain(import.meta.url)) void runAlone('http', () => runHttp(parseLoadOptions(SCRIPT, HTTP_DEFAULTS)));
