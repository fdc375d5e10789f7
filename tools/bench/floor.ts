// What the write-heavy targets can reach at most on this machine, whatever the service's code:
// tools/bench/floor-server.ts doing only the database writes issue 9 requires of a POST /payments
// (with a bank over HTTP that records the charge), issue 10 of a POST /operations and issue 11 of
// a 202 to POST /vouchers, on bare
// Express and the MongoDB driver, loaded like the services (autocannon, 50 connections), next to
// bare Express in the same run. No auth, validation, logs, metrics, ids, relay or events: the
// services do all of that on top, so their figures sit below these. Part of `make bench`; run
// alone, it prints its section of docs/benchmarks.md.
//
//   npx tsx tools/bench/floor.ts [--duration 10] [--connections 50] [--warmup 2] [--timeout 30]
import { randomUUID } from 'node:crypto';
import type autocannon from 'autocannon';
import { Cleanup, type LoadOptions, type RouteResult, formatTable, loadRoute, localDatabaseProcess, openBenchDatabase, parseLoadOptions, startServer } from './harness.js';
import type { DatabaseInfo } from './report.js';
import { type Scenario, rowsAgainstFirst } from './results.js';
import { isMain, runAlone } from './scenarios.js';

const SCRIPT = 'tools/bench/floor.ts';

export const FLOOR_ROUTE = {
  payments: 'floor POST /payments (6 writes + bank 1)',
  operations: 'floor POST /operations (6 writes)',
  vouchers: 'floor POST /vouchers (202; 3 writes)',
} as const;

export const FLOOR_DEFAULTS: LoadOptions = { duration: 10, connections: 50, warmup: 2, timeout: 30 };

export interface FloorDetails {
  load: LoadOptions;
  database: DatabaseInfo;
}

export async function runFloor(load: LoadOptions): Promise<Scenario<FloorDetails>> {
  const cleanup = new Cleanup();
  try {
    const db = await openBenchDatabase(cleanup);
    const databaseProcess = localDatabaseProcess(db.mongoUrl);
    const env = { MONGO_URL: db.mongoUrl, MONGO_DB: db.dbName };
    const start = async (name: string, mode: string, extra: Record<string, string> = {}) => {
      const server = await startServer(name, 'tools/bench/floor-server.ts', { ...env, MODE: mode, ...extra }, '/health');
      cleanup.add(() => server.stop());
      return server;
    };
    const baseline = await startServer('baseline', 'tools/bench/baseline-server.ts', {}, '/hello');
    cleanup.add(() => baseline.stop());
    // The bank in a database of its own, as the simulator has in production (its own SQLite file on FerretDB).
    cleanup.add(() => db.mongo.db(`${db.dbName}_bank`).dropDatabase().then(() => undefined));
    const bank = await start('floor-bank', 'bank', { MONGO_DB: `${db.dbName}_bank` });
    const payments = await start('floor-payments', 'payment', { BANK_URL: bank.url });
    const operations = await start('floor-operations', 'operation');
    const vouchers = await start('floor-vouchers', 'voucher');

    const fresh = (body: () => object) => (request: autocannon.Request): autocannon.Request => ({
      ...request,
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify(body()),
    });
    let n = 0;
    const routes = [
      { name: 'baseline GET /hello', server: baseline, method: 'GET' as const, path: '/hello' },
      { name: FLOOR_ROUTE.payments, server: payments, method: 'POST' as const, path: '/payments', setupRequest: fresh(() => ({ amount: 1_000, currency: 'EUR' })) },
      { name: FLOOR_ROUTE.operations, server: operations, method: 'POST' as const, path: '/operations', setupRequest: fresh(() => ({ contractId: `ctr_${n++ % 50}`, amount: 1_000 })) },
      { name: FLOOR_ROUTE.vouchers, server: vouchers, method: 'POST' as const, path: '/vouchers', setupRequest: fresh(() => ({ phoneNumber: '+447700900123', callbackUrl: 'https://client.example/hooks' })) },
    ];
    const results: RouteResult[] = [];
    for (const route of routes) results.push(await loadRoute({ ...route, ...(databaseProcess ? { databasePid: databaseProcess.pid } : {}) }, load));
    console.error(`\n${formatTable(results, { database: databaseProcess !== undefined, machine: true })}\n`);
    return {
      rows: rowsAgainstFirst(results),
      details: { load, database: db.database },
      command: `npx tsx ${SCRIPT} --duration ${load.duration} --connections ${load.connections} --warmup ${load.warmup} --timeout ${load.timeout}`,
    };
  } finally {
    await cleanup.run();
  }
}

if (isMain(import.meta.url)) void runAlone('floor', () => runFloor(parseLoadOptions(SCRIPT, FLOOR_DEFAULTS)));
