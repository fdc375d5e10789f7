// `make bench`: every benchmark scenario, one after the other, on the local platform, then
// docs/benchmarks.md written whole from their results (tools/bench/doc.ts) and the scale chart
// (docs/benchmarks-scale.svg, tools/bench/chart.ts).
//
//   npx tsx tools/bench/all.ts [--only http,events,…] [--quick] [--out docs/benchmarks.md]
//                              [--chart docs/benchmarks-scale.svg] [--save-results file.json]
//                              [--from-results file.json]
//
// It records the machine once (CPU, memory, OS, Node, load average before and after, database and
// broker versions, date, commit), runs each scenario (tools/bench/<script>.ts, each also runnable
// alone) with the settings in PLAN — chosen so the whole run stays under BUDGET_MINUTES on this
// 2-core machine — and checks at the end that no database of the run is left (each scenario drops
// its own and deletes its exchanges and queues, also on failure; a signal or a crash runs the
// cleanups of the scenario in progress). A scenario that fails does not stop the others: the doc
// says what failed, and the exit code is 1.
//   --only            run these scenarios (the doc then holds only them)
//   --quick           tiny durations and record counts: a smoke test of the whole pipeline
//   --out, --chart    where to write; by default docs/benchmarks.md and docs/benchmarks-scale.svg,
//                     but $TMPDIR/payspec-bench/ with --only or --quick (docs/ holds whole runs only)
//   --save-results    where to write the run's results as JSON (by default $TMPDIR/payspec-bench/
//                     results-<start>.json); --from-results renders the doc from such a file
//                     without measuring anything (to work on the text)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { BILLING_DEFAULTS, runBilling } from './billing.js';
import { scaleChartSvg } from './chart.js';
import { type RunRecord, renderDoc } from './doc.js';
import { EVENTS_DEFAULTS, runEvents } from './events.js';
import { FLOOR_DEFAULTS, runFloor } from './floor.js';
import { GATEWAY_DEFAULTS, runGateway } from './gateway.js';
import { REPO, amqpUrl, deleteTopologyNamed, dropDatabase, leftoverDatabases, leftoverTopology, localDatabaseProcess, log, mongoUrl, otherBenchmarks, redact } from './harness.js';
import { PAYMENTS_DEFAULTS, runPayments } from './payments.js';
import { describeBroker, describeCheckout, describeDatabase, describeMachine } from './report.js';
import { failedRows } from './results.js';
import { HTTP_DEFAULTS, runHttp } from './run.js';
import { SCALE_DEFAULTS, runScale, scaleLabel } from './scale.js';
import { type DetailsOf, type Outcome, SCENARIO_IDS, type ScenarioId, isoSeconds, runScenario } from './scenarios.js';
import type { Scenario } from './results.js';
import { VOUCHER_DEFAULTS, runVoucher } from './voucher.js';

const COMMAND = 'npx tsx tools/bench/all.ts';
const BUDGET_MINUTES = 25;

/** One part of the run: its runner, and how its settings differ from the script's own defaults. */
interface Part<K extends ScenarioId> {
  run: () => Promise<Scenario<DetailsOf[K]>>;
  /** e.g. `duration 6 s (alone: 10 s)`. */
  changed: string[];
}
type Plan = { [K in ScenarioId]: Part<K> };

function part<O extends object, K extends ScenarioId>(run: (options: O) => Promise<Scenario<DetailsOf[K]>>, options: O, defaults: O): Part<K> {
  return { run: () => run(options), changed: changedSettings(options, defaults) };
}

/** The settings in `options` that differ from `defaults`, nested ones (`load.duration`) by their own name. */
function changedSettings(options: object, defaults: object): string[] {
  const seconds = new Set(['duration', 'warmup', 'timeout']);
  const show = (key: string, value: unknown) =>
    Array.isArray(value) ? value.map((n) => (typeof n === 'number' ? n.toLocaleString('en-US') : String(n))).join(', ') : `${typeof value === 'number' ? value.toLocaleString('en-US') : String(value)}${seconds.has(key) ? ' s' : ''}`;
  return Object.entries(options).flatMap(([key, value]) => {
    const given = (defaults as Record<string, unknown>)[key];
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return changedSettings(value as object, given as object);
    return JSON.stringify(value) === JSON.stringify(given) ? [] : [`${key} ${show(key, value)} (alone: ${show(key, given)})`];
  });
}

/**
 * `make bench`'s settings, which keep the whole run under BUDGET_MINUTES on this 2-core machine:
 * a route needs a few seconds of load after a 1–2 s warm-up for steady figures; the record counts
 * and the billing run are the issues' own. Each part's time is in the doc.
 */
const PLAN: Plan = {
  http: part(runHttp, { duration: 6, connections: 50, warmup: 2, timeout: 30 }, HTTP_DEFAULTS),
  events: part(runEvents, { events: 10_000, load: { duration: 5, connections: 50, warmup: 1, timeout: 30 } }, EVENTS_DEFAULTS),
  gateway: part(runGateway, { duration: 6, connections: 50, warmup: 2, timeout: 30 }, GATEWAY_DEFAULTS),
  scale: part(runScale, { load: { duration: 2, connections: 20, warmup: 1, timeout: 30 }, scales: [1_000, 10_000, 100_000], events: 2_000, passes: 2 }, SCALE_DEFAULTS),
  // Issue 9's targets name 10k stored payments: measured there (and at 1k), not around it at 1k and 100k.
  payments: part(runPayments, { load: { duration: 6, connections: 50, warmup: 2, timeout: 30 }, scales: [1_000, 10_000] }, PAYMENTS_DEFAULTS),
  floor: part(runFloor, { duration: 6, connections: 50, warmup: 2, timeout: 30 }, FLOOR_DEFAULTS),
  billing: part(runBilling, { load: { duration: 6, connections: 50, warmup: 2, timeout: 30 }, contracts: 1_000, storedForPost: 10_000, storedForRun: 100_000 }, BILLING_DEFAULTS),
  voucher: part(runVoucher, { load: { duration: 6, connections: 50, warmup: 2, timeout: 30 }, requests: 1_000, inFlight: 100 }, VOUCHER_DEFAULTS),
};

/** --quick: every part in seconds, to check the pipeline end to end (not for figures). */
const QUICK: Plan = {
  http: part(runHttp, { duration: 1, connections: 10, warmup: 0, timeout: 30 }, HTTP_DEFAULTS),
  events: part(runEvents, { events: 500, load: { duration: 1, connections: 10, warmup: 0, timeout: 30 } }, EVENTS_DEFAULTS),
  gateway: part(runGateway, { duration: 1, connections: 10, warmup: 0, timeout: 30 }, GATEWAY_DEFAULTS),
  scale: part(runScale, { load: { duration: 1, connections: 5, warmup: 0, timeout: 30 }, scales: [200, 1_000], events: 200, passes: 1 }, SCALE_DEFAULTS),
  payments: part(runPayments, { load: { duration: 1, connections: 10, warmup: 0, timeout: 30 }, scales: [250, 1_000] }, PAYMENTS_DEFAULTS),
  floor: part(runFloor, { duration: 1, connections: 10, warmup: 0, timeout: 30 }, FLOOR_DEFAULTS),
  billing: part(runBilling, { load: { duration: 1, connections: 10, warmup: 0, timeout: 30 }, contracts: 100, storedForPost: 1_000, storedForRun: 5_000 }, BILLING_DEFAULTS),
  voucher: part(runVoucher, { load: { duration: 1, connections: 10, warmup: 0, timeout: 30 }, requests: 100, inFlight: 10 }, VOUCHER_DEFAULTS),
};

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    chart: { type: 'string' },
    'save-results': { type: 'string' },
    'from-results': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`usage: ${COMMAND} [--only ${SCENARIO_IDS.join(',')}] [--quick] [--out docs/benchmarks.md] [--chart docs/benchmarks-scale.svg] [--save-results file.json] [--from-results file.json]\n(--only and --quick write to ${join(tmpdir(), 'payspec-bench')}/ unless --out and --chart say otherwise)`);
  process.exit(0);
}
// Only a whole run at `make bench`'s settings writes docs/; --only and --quick write elsewhere unless told.
const partial = values.only !== undefined || values.quick;
const scratch = join(tmpdir(), 'payspec-bench');
const out = resolve(REPO, values.out ?? (partial ? join(scratch, 'benchmarks.md') : 'docs/benchmarks.md'));
const chartPath = resolve(REPO, values.chart ?? (partial ? join(scratch, 'benchmarks-scale.svg') : 'docs/benchmarks-scale.svg'));

async function measure(): Promise<RunRecord> {
  const ids = values.only ? values.only.split(',').map((s) => s.trim()) : SCENARIO_IDS;
  const unknown = ids.filter((id) => !(SCENARIO_IDS as string[]).includes(id));
  if (unknown.length > 0) throw new Error(`--only: unknown scenario ${unknown.join(', ')} (known: ${SCENARIO_IDS.join(', ')})`);
  const plan = values.quick ? QUICK : PLAN;

  // The machine, once, before anything runs.
  const started = new Date();
  const machine = describeMachine();
  const checkout = describeCheckout();
  const othersRunning = otherBenchmarks();
  if (othersRunning.length > 0) log(`other benchmarks running now: ${othersRunning.join(', ')} — the figures share the machine with them`);
  const url = mongoUrl();
  const mongo = new MongoClient(url, { serverSelectionTimeoutMS: 5_000, appName: 'payspec-bench' });
  try {
    try {
      await mongo.connect();
    } catch {
      throw new Error(`nothing answers at ${redact(url)}: run \`make infra\` (or set MONGO_URL)`);
    }
    const database = await describeDatabase(mongo);
    const broker = await describeBroker(amqpUrl()).catch((err: unknown) => {
      throw new Error(`no AMQP broker at ${redact(amqpUrl())} (${err instanceof Error ? err.message : String(err)}): run \`make infra\` (or set AMQP_URL)`);
    });
    const databaseProcess = localDatabaseProcess(url);
    log(`${machine.cpuModel}, ${machine.cores} cores; ${database.description}; ${broker}; load ${machine.load.map((n) => n.toFixed(2)).join(' ')}`);

    // Each scenario in turn; a failure is recorded and the next one runs.
    const outcomes: Outcome[] = [];
    for (const id of ids as ScenarioId[]) {
      log(`=== ${id} (${outcomes.length + 1} of ${ids.length}), ${Math.round((Date.now() - started.getTime()) / 1000)} s into the run`);
      const outcome = await runScenario(id, plan[id].run as () => Promise<Scenario<DetailsOf[typeof id]>>);
      log(`=== ${id} ${outcome.ok ? 'done' : 'FAILED'} in ${Math.round(outcome.timing.seconds)} s`);
      outcomes.push(outcome);
    }

    // Nothing of the run may be left behind: databases, and (when rabbitmqctl answers) queues and exchanges.
    const leftovers: string[] = [];
    for (const name of await leftoverDatabases(mongo)) {
      log(`database ${name} was left behind: dropping it`);
      await dropDatabase(mongo, name);
      leftovers.push(`database ${name}`);
    }
    const topology = leftoverTopology();
    const cleanupChecked = topology === undefined ? 'its databases (the broker could not be listed)' : 'its databases, queues and exchanges';
    if (topology === undefined) log('queues and exchanges left behind: not checked (rabbitmqctl did not answer)');
    else if (topology.queues.length + topology.exchanges.length > 0) {
      log(`left behind on the broker: ${[...topology.queues, ...topology.exchanges].join(', ')}: deleting them`);
      await deleteTopologyNamed(topology);
      leftovers.push(...topology.queues.map((q) => `queue ${q}`), ...topology.exchanges.map((e) => `exchange ${e}`));
    } else log('nothing of the run is left on the broker or in the database');
    const finished = new Date();
    return {
      startedAt: isoSeconds(started),
      finishedAt: isoSeconds(finished),
      seconds: (finished.getTime() - started.getTime()) / 1000,
      command: `${COMMAND}${values.quick ? ' --quick' : ''}${values.only ? ` --only ${values.only}` : ''}`,
      machine,
      loadAfter: describeMachine().load,
      checkout,
      database: database.description,
      mongoUrl: redact(url),
      ...(databaseProcess ? { databaseExe: databaseProcess.exe } : {}),
      broker,
      amqpHost: new URL(amqpUrl()).host,
      othersRunning,
      quick: values.quick,
      budgetMinutes: BUDGET_MINUTES,
      outcomes,
      changed: Object.fromEntries(ids.map((id) => [id, plan[id as ScenarioId].changed])),
      leftovers,
      cleanupChecked,
    };
  } finally {
    await mongo.close();
  }
}

async function main(): Promise<void> {
  const record: RunRecord = values['from-results'] ? (JSON.parse(readFileSync(values['from-results'], 'utf8')) as RunRecord) : await measure();
  // The results as data, so the doc can be rendered again without measuring (--from-results).
  if (!values['from-results']) {
    const saved = values['save-results'] ?? join(scratch, `results-${record.startedAt.replace(/:/g, '')}.json`);
    mkdirSync(dirname(resolve(saved)), { recursive: true });
    writeFileSync(saved, `${JSON.stringify(record, null, 2)}\n`);
    log(`results saved to ${saved} (render again with --from-results)`);
  }

  // The scale chart, when the scale part ran.
  const scale = record.outcomes.find((o): o is Extract<Outcome, { id: 'scale'; ok: true }> => o.id === 'scale' && o.ok);
  delete record.chart;
  if (scale) {
    const svg = await scaleChartSvg(scale.result.rows, scale.result.details.options.scales.map(scaleLabel));
    mkdirSync(dirname(chartPath), { recursive: true });
    writeFileSync(chartPath, `${svg}\n`);
    record.chart = relative(dirname(out), chartPath);
    log(`wrote ${relative(REPO, chartPath)}`);
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${renderDoc(record).trimEnd()}\n`);
  log(`wrote ${relative(REPO, out)} (the run took ${Math.round(record.seconds)} s)`);

  const failed = record.outcomes.filter((o) => !o.ok || failedRows(o.result.rows).length > 0).map((o) => o.id);
  if (failed.length > 0 || record.leftovers.length > 0) {
    console.error(`[bench] failures in ${[...failed, ...(record.leftovers.length > 0 ? ['cleanup'] : [])].join(', ')}: see the top of ${relative(REPO, out)}`);
    process.exitCode = 1;
  }
}

await main();
// Whatever a library left open (a timer, a socket) must not keep `make bench` waiting.
process.exit(process.exitCode ?? 0);
