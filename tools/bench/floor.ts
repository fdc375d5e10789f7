// What the write-heavy targets can reach at most on this machine, whatever the service's code:
// tools/bench/floor-server.ts doing only the database writes issue 9 requires of a POST /payments
// (with a bank over HTTP that records the charge), issue 10 of a POST /operations and issue 11 of
// a 202 to POST /vouchers, on bare
// Express and the MongoDB driver, loaded like the services (autocannon, 50 connections), next to
// bare Express in the same run. No auth, validation, logs, metrics, ids, relay or events: the
// services do all of that on top, so their figures sit below these.
//
//   npx tsx tools/bench/floor.ts [--duration 10] [--connections 50] [--warmup 2] [--timeout 30]
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type autocannon from 'autocannon';
import { Cleanup, type LoadOptions, type RouteResult, formatTable, loadRoute, localDatabaseProcess, openBenchDatabase, parseLoadOptions, ratio, reportFailures, startServer } from './harness.js';
import { machineDetails, writeDocSection } from './report.js';

const SCRIPT = 'tools/bench/floor.ts';

async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0] ?? 0;
  const cleanup = new Cleanup();
  cleanup.runOnSignals();
  try {
    const load: LoadOptions = parseLoadOptions(SCRIPT);
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
    const bank = await start('floor-bank', 'bank', { MONGO_DB: `${db.dbName}_bank` });
    cleanup.add(() => db.mongo.db(`${db.dbName}_bank`).dropDatabase().then(() => undefined));
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
      { name: 'floor POST /payments (6 writes + bank 1)', server: payments, method: 'POST' as const, path: '/payments', setupRequest: fresh(() => ({ amount: 1_000, currency: 'EUR' })) },
      { name: 'floor POST /operations (6 writes)', server: operations, method: 'POST' as const, path: '/operations', setupRequest: fresh(() => ({ contractId: `ctr_${n++ % 50}`, amount: 1_000 })) },
      { name: 'floor POST /vouchers (202; 3 writes)', server: vouchers, method: 'POST' as const, path: '/vouchers', setupRequest: fresh(() => ({ phoneNumber: '+447700900123', callbackUrl: 'https://client.example/hooks' })) },
    ];
    const results: RouteResult[] = [];
    for (const route of routes) results.push(await loadRoute({ ...route, ...(databaseProcess ? { databasePid: databaseProcess.pid } : {}) }, load));
    const table = formatTable(results, { database: databaseProcess !== undefined, machine: true });
    console.log(`\n${table}\n`);
    if (reportFailures(results).length > 0) throw new Error('requests failed: figures not meaningful; docs/benchmarks.md left unchanged');

    const [base, pay, ops, vch] = results as [RouteResult, RouteResult, RouteResult, RouteResult];
    const section = [
      '## The floor under the write-heavy targets',
      '',
      `Written by \`make bench\` (\`npx tsx ${SCRIPT}\`). Do not edit between the markers: the next run replaces it.`,
      '',
      `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
      ...machineDetails(loadBefore),
      `- Database: ${db.database.description}, a fresh \`bench_*\` database`,
      `- Servers (each its own process, tools/bench/floor-server.ts): bare Express 5 + the MongoDB driver doing only the writes the issues require of one request, by \`_id\`, nothing else. \`POST /payments\` (issue 9): idempotency claim, outbox marker, pending payment (3 inserts), the bank over HTTP (a bare Express process recording the charge in a database of its own: 1 insert), the answer on the payment (replace), the idempotency answer (update), the marker removed (delete). \`POST /operations\` (issue 10): idempotency claim, ledger entry, outbox marker, operation (4 inserts), the idempotency answer (update), the marker removed (delete). \`POST /vouchers\` (issue 11, the 202 alone): the outbox marker of voucher.requested and the request under an id derived from its Idempotency-Key (2 inserts), the marker removed (delete)`,
      `- Load: autocannon, ${load.connections} connections, ${load.duration} s per route after a ${load.warmup} s warm-up, a new Idempotency-Key each request`,
      '',
      table,
      '',
      `What it means for the targets: issue 9 asks \`POST /payments\` ≥ 300 req/s with p99 ≤ 100 ms at ${load.connections} connections; the floor reaches ${Math.round(pay.reqPerSec)} req/s with p99 ${Math.round(pay.p99)} ms. Issue 10 asks \`POST /operations\` ≥ 0.05× bare Express (here ${Math.round(0.05 * base.reqPerSec)} req/s); the floor reaches ${Math.round(ops.reqPerSec)} req/s (${ratio(ops.reqPerSec, base.reqPerSec)}). Issue 11 asks its 202 answers at ≥ 0.1× bare Express (here ${Math.round(0.1 * base.reqPerSec)} req/s); the floor reaches ${Math.round(vch.reqPerSec)} req/s (${ratio(vch.reqPerSec, base.reqPerSec)}). A service doing these writes plus authentication, validation, ids, logging, metrics, the outbox relay and its own rules cannot go faster than its floor.`,
    ].join('\n');
    console.log(section);
    writeDocSection('floor', section);
  } finally {
    await cleanup.run();
  }
}

await main();
