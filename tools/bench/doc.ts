// docs/benchmarks.md, written whole from one run's results (tools/bench/all.ts): the intro, the
// machine, the issues' targets against what was measured, and one section per scenario with its
// table (every row next to bare Express measured in the same run) and what the figures say. Every
// number here comes from the results; the text around them is what stays true from run to run.
import { micros, ms, perSec, ratio } from './harness.js';
import { type GitState, type MachineInfo, markdownTable } from './report.js';
import { type Row, failedRows, rowNamed } from './results.js';
import { type DetailsOf, type Outcome, type ScenarioId, type Timing } from './scenarios.js';
import type { Scenario } from './results.js';
import { EVENTS_ROWS } from './events.js';
import { FUNDING as GATEWAY_FUNDING, FAILED_SIGN_IN_ROUNDS, GATEWAY_ROUTE, PAIRS as GATEWAY_PAIRS, SIGN_IN_LIMIT, USERS as GATEWAY_USERS, argon2Description } from './gateway.js';
import * as scale from './scale.js';
import * as payments from './payments.js';
import * as billing from './billing.js';
import * as voucher from './voucher.js';
import { FLOOR_ROUTE } from './floor.js';

// --- numbers ----------------------------------------------------------------------------------

const count = (n: number) => Math.round(n).toLocaleString('en-US');
/** Per-second rates: whole numbers, but two digits below 10 (0.05/s is not 0). */
const rate = (n: number) => (n >= 10 ? perSec(n) : n.toPrecision(2));
const cores = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(2));
const times = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '?');
const pct = (a: number, b: number) => `${Math.round((100 * a) / b)}%`;
const seconds = (s: number) => (s >= 120 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`);
const code = (name: string) => `\`${name}\``;
const UNIT: Record<Row['unit'], string> = { req: 'req/s', events: 'events/s', finds: 'finds/s', deliveries: 'deliveries/s' };

// --- the whole file ---------------------------------------------------------------------------

export interface RunRecord {
  /** ISO dates (seconds) of the start and the end. */
  startedAt: string;
  finishedAt: string;
  seconds: number;
  command: string;
  machine: MachineInfo;
  /** Load averages (1, 5, 15 min) at the end. */
  loadAfter: number[];
  checkout: GitState | undefined;
  database: string;
  mongoUrl: string;
  databaseExe?: string;
  broker: string;
  amqpHost: string;
  /** Other Payspec benchmarks running when this one started. */
  othersRunning: string[];
  /** Shorter settings than `make bench`'s (a smoke test of the pipeline). */
  quick: boolean;
  /** `make bench`'s budget, minutes. */
  budgetMinutes: number;
  outcomes: Outcome[];
  /** Each part's settings that differ from its script's own defaults. */
  changed: Partial<Record<ScenarioId, string[]>>;
  /** Databases, queues and exchanges of this run still there after every cleanup (removed then). */
  leftovers: string[];
  /** What was checked for leftovers at the end. */
  cleanupChecked: string;
  /** The scale chart, relative to the doc, when it was drawn. */
  chart?: string;
}

const TITLES: Record<ScenarioId, string> = {
  http: 'HTTP: contract service',
  events: 'Events: end to end through the bus',
  gateway: 'HTTP: payment gateway (sign-in, wallet)',
  scale: 'Scale: hot routes at growing record counts',
  payments: 'HTTP: card payments (payment gateway and acquiring-bank simulator)',
  floor: 'The floor under the write-heavy targets',
  billing: 'Billing (issue 10)',
  voucher: 'Vouchers: requests and delivered webhooks (issue 11)',
};
const anchor = (id: ScenarioId) => `bench-${id}`;

export function renderDoc(run: RunRecord): string {
  const problems = runProblems(run);
  return [
    '# Benchmarks',
    '',
    `Written by \`make bench\` (\`${run.command}\`), which ran from ${run.startedAt} to ${run.finishedAt} (${seconds(run.seconds)})${run.checkout ? ` at commit \`${run.checkout.commit.slice(0, 10)}\`` : ''}. Do not edit it by hand: every run rewrites this whole file, and \`docs/benchmarks-scale.svg\`, from what it measured.`,
    '',
    `\`make bench\` runs every scenario below one after the other on this machine's local platform — FerretDB and RabbitMQ from \`make infra\`, each server in a process of its own, autocannon loading one route at a time from the benchmark process — and measures bare Express (Express 5 answering \`GET /hello\` with a small JSON body, nothing else: tools/bench/baseline-server.ts) in each scenario, right before its own routes. Every row is read against that baseline of the same run (the "vs bare Express" column): ratios move less than req/s when the machine is busy. Absolute figures depend on the machine and on what else runs on it; the load average before and after each part is recorded, and other people's work shares this machine, so read a high load as noise in the figures.`,
    '',
    'Each scenario also runs alone, for development (`npx tsx tools/bench/<script>.ts`, flags in the section): it prints its section and leaves this file alone.',
    ...(run.quick ? ['', '**This is a quick run (`--quick`): durations and record counts far below `make bench`\'s. Its figures only show that the pipeline works.**'] : []),
    ...(problems.length > 0 ? ['', '**Failures in this run** (their figures measure nothing):', '', ...problems.map((p) => `- ${p}`)] : []),
    '',
    '## Contents',
    '',
    '- [Machine](#machine)',
    '- [Targets of the issues against this run](#targets-of-the-issues-against-this-run)',
    '- [The run: parts, settings, time](#the-run-parts-settings-time)',
    ...run.outcomes.map((o) => `- [${TITLES[o.id]}](#${anchor(o.id)})`),
    '',
    '## Machine',
    '',
    ...machineSection(run),
    '',
    '## Targets of the issues against this run',
    '',
    ...targetsSection(run.outcomes),
    '',
    '## The run: parts, settings, time',
    '',
    ...runSection(run),
    '',
    ...run.outcomes.flatMap((o) => [`<a id="${anchor(o.id)}"></a>`, '', renderScenario(o, { chart: run.chart, heading: '##' }), '']),
  ].join('\n');
}

function runProblems(run: RunRecord): string[] {
  const problems: string[] = [];
  for (const o of run.outcomes) {
    if (!o.ok) problems.push(`${TITLES[o.id]}: did not complete — ${o.error}`);
    else for (const r of failedRows(o.result.rows)) problems.push(`${TITLES[o.id]}: ${r.group ? `${r.group} ` : ''}${r.name} — ${r.non2xx} non-2xx, ${r.errors} errors (${r.timeouts} timeouts), ${count(r.completed)} completed${r.statusCodes ? `; status codes ${JSON.stringify(r.statusCodes)}` : ''}`);
  }
  if (run.leftovers.length > 0) problems.push(`left behind by the cleanups (removed at the end of the run): ${run.leftovers.join(', ')}`);
  return problems;
}

function machineSection(run: RunRecord): string[] {
  const { machine, checkout } = run;
  const load = (l: number[]) => l.map((n) => n.toFixed(2)).join(', ');
  return [
    `- Date: ${run.startedAt} to ${run.finishedAt}`,
    `- CPU: ${machine.cpuModel}, ${machine.cores} cores — shared by everything in the run: the servers, the load generator, the database, the broker, and anything else running`,
    `- Memory: ${machine.memoryGiB.toFixed(1)} GiB`,
    `- OS: ${machine.os}`,
    `- Node: ${machine.node}`,
    `- Database: ${run.database} at \`${run.mongoUrl}\`${run.databaseExe ? ` (process \`${run.databaseExe}\` on this machine: its CPU is the "database cores" columns; it counts all its clients, others' too)` : ''}; every scenario in fresh \`bench_*\` databases of its own, dropped at its end`,
    `- Broker: ${run.broker} at ${run.amqpHost}; every scenario under AMQP prefixes of its own, its exchanges and queues deleted at its end`,
    `- Commit: ${checkout ? `\`${checkout.commit}\` (${checkout.subject})${checkout.changedFiles.length > 0 ? `; the working tree differed from it in ${checkout.changedFiles.length} tracked file${checkout.changedFiles.length > 1 ? 's' : ''}` : ', working tree clean'}` : 'not a git checkout'}`,
    `- Load average (1, 5, 15 min): ${load(machine.load)} before the run, ${load(run.loadAfter)} after it (each part's, 1 min, in [the run](#the-run-parts-settings-time))`,
    `- Other Payspec benchmarks running when it started: ${run.othersRunning.length > 0 ? run.othersRunning.join(', ') : 'none'}`,
    `- Left behind: ${run.leftovers.length === 0 ? 'nothing' : run.leftovers.join(', ')} (${run.cleanupChecked} checked after the last part)`,
  ];
}

function runSection(run: RunRecord): string[] {
  const rows = run.outcomes.map((o) => [
    `[${TITLES[o.id]}](#${anchor(o.id)})`,
    (run.changed[o.id] ?? []).join('; ') || 'as alone',
    seconds(o.timing.seconds),
    `${o.timing.loadBefore.toFixed(2)} → ${o.timing.loadAfter.toFixed(2)}`,
  ]);
  const total = run.outcomes.reduce((sum, o) => sum + o.timing.seconds, 0);
  return [
    `The parts ran in this order and took ${seconds(total)} together. To keep the whole run under ~${run.budgetMinutes} minutes on a ${run.machine.cores}-core machine shared with other work, each route is loaded for seconds, not minutes, and several parts run shorter than their script's own defaults (the second column; each section starts with the command that runs its part alone with the settings used here).${recordCounts(run.outcomes)}`,
    '',
    markdownTable(['part', "settings unlike the script's defaults", 'took', 'load average (1 min) before → after'], rows, 2),
  ];
}

/** The record counts the parts ran at, from their results. */
function recordCounts(outcomes: Outcome[]): string {
  const parts: string[] = [];
  for (const o of outcomes) {
    if (!o.ok) continue;
    if (o.id === 'scale') parts.push(`${o.result.details.options.scales.map(scale.scaleLabel).join(', ')} records of each kind in the scale part`);
    if (o.id === 'payments') parts.push(`${o.result.details.steps.map((s) => s.group).join(' and ')} stored payments (issue 9's target names ${scale.scaleLabel(payments.TARGET.scale)})`);
    if (o.id === 'billing') parts.push(`a billing run over ${scale.scaleLabel(o.result.details.options.storedForRun)} operations of ${scale.scaleLabel(o.result.details.options.contracts)} contracts`);
  }
  return parts.length > 0 ? ` Record counts: ${parts.join('; ')}.` : '';
}

// --- one scenario -----------------------------------------------------------------------------

/** A scenario's section: heading, when it ran, its table and what its figures say. */
export function renderScenario(outcome: Outcome, options: { chart?: string | undefined; heading?: string } = {}): string {
  const h = options.heading ?? '##';
  const head = [`${h} ${TITLES[outcome.id]}`, '', ranLine(outcome.timing, outcome.ok ? outcome.result.command : undefined), ''];
  if (!outcome.ok) return [...head, `**This part did not complete:** ${outcome.error}`].join('\n');
  const body = (() => {
    switch (outcome.id) {
      case 'http':
        return httpSection(outcome.result);
      case 'events':
        return eventsSection(outcome.result);
      case 'gateway':
        return gatewaySection(outcome.result);
      case 'scale':
        return scaleSection(outcome.result, options.chart, h);
      case 'payments':
        return paymentsSection(outcome.result, h);
      case 'floor':
        return floorSection(outcome.result);
      case 'billing':
        return billingSection(outcome.result);
      case 'voucher':
        return voucherSection(outcome.result);
    }
  })();
  return [...head, ...body].join('\n').trimEnd();
}

function ranLine(timing: Timing, command: string | undefined): string {
  return `Ran ${timing.startedAt} for ${seconds(timing.seconds)}, load average (1 min) ${timing.loadBefore.toFixed(2)} before and ${timing.loadAfter.toFixed(2)} after${command ? `; alone: \`${command}\`` : ''}.`;
}

/**
 * Every row with its rate, p50, p99, failures and ratio to bare Express of the same run; the CPU
 * columns the rows have. `groupHeader` names the first column when the rows come in groups.
 */
function rowsTable(rows: Row[], options: { groupHeader?: string; extra?: { header: string; cell: (r: Row) => string } } = {}): string {
  const grouped = options.groupHeader !== undefined;
  const has = (key: 'serverCpuMicros' | 'serverCores' | 'databaseCores' | 'machineCores') => rows.some((r) => r[key] !== undefined);
  const header = [
    ...(grouped ? [options.groupHeader!] : []),
    'route or measure',
    'per second',
    'p50 ms',
    'p99 ms',
    'non-2xx',
    'errors/timeouts',
    'vs bare Express',
    ...(options.extra ? [options.extra.header] : []),
    ...(has('serverCpuMicros') ? ['server CPU µs/req'] : []),
    ...(has('serverCores') ? ['server cores'] : []),
    ...(has('databaseCores') ? ['database cores'] : []),
    ...(has('machineCores') ? ['machine cores'] : []),
  ];
  const body = rows.map((r) => [
    ...(grouped ? [r.group ?? ''] : []),
    r.unit === 'req' ? code(r.name) : r.name,
    r.unit === 'req' ? rate(r.rate) : `${rate(r.rate)} ${UNIT[r.unit].replace('/s', '')}`,
    r.p50 === undefined ? '–' : ms(r.p50),
    r.p99 === undefined ? '–' : ms(r.p99),
    r.unit === 'req' ? String(r.non2xx) : '–',
    `${r.errors}/${r.timeouts}`,
    r.isBaseline ? '1.00×' : ratio(r.rate, r.baseline),
    ...(options.extra ? [options.extra.cell(r)] : []),
    ...(has('serverCpuMicros') ? [r.serverCpuMicros === undefined ? '–' : micros(r.serverCpuMicros)] : []),
    ...(has('serverCores') ? [cores(r.serverCores)] : []),
    ...(has('databaseCores') ? [cores(r.databaseCores)] : []),
    ...(has('machineCores') ? [cores(r.machineCores)] : []),
  ]);
  return markdownTable(header, body, grouped ? 2 : 1);
}

const CPU_NOTE =
  "Server CPU µs per request is the steadier figure when the machine is busy (it counts all of the server's threads). Cores are CPU seconds per second of the measured run: the server's, the database process's and the whole machine's (servers, database, load generator, RabbitMQ and anything else). Server cores near 1 mean its event loop set the pace; well below, it was waiting — for the database, or for CPU others held.";

/** The database's CPU per request served, in µs (when its process was measured). */
const databaseMicros = (r: Row) => (r.databaseCores === undefined || r.rate <= 0 ? undefined : (1e6 * r.databaseCores) / r.rate);
const dbName = (d: { isFerretDb: boolean }) => (d.isFerretDb ? 'FerretDB' : 'MongoDB');

// --- http -------------------------------------------------------------------------------------

function httpSection({ rows, details }: Scenario<DetailsOf['http']>): string[] {
  const { load, database, mongoUrl, seededContracts, seededCustomers } = details;
  return [
    `- Database: ${database.description} at \`${mongoUrl}\`, a fresh \`bench_*\` database holding ${count(seededContracts)} contracts created through the API (${count(seededContracts / seededCustomers)} per customer)`,
    `- Load: autocannon, ${load.connections} connections, ${load.duration} s per route after a ${load.warmup} s warm-up, one route at a time, ${load.timeout} s request timeout; each server in its own process`,
    '- Contract service settings: `LOG_LEVEL=warn`, `VALIDATE_RESPONSES=false` (production), an ES256 operator token on every API request, a new `Idempotency-Key` per POST',
    '',
    CPU_NOTE,
    '',
    rowsTable(rows),
    '',
    httpInterpretation(rows, details),
  ];
}

function httpInterpretation(rows: Row[], { costs, database }: DetailsOf['http']): string {
  const [baseline, live, get, list, post] = rows;
  if (!baseline || !live || !get || !list || !post) return '';
  const cpu = (r: Row) => `${micros(r.serverCpuMicros)} µs`;
  const haveCpu = rows.every((r) => r.serverCpuMicros !== undefined && r.serverCores !== undefined);
  const db = dbName(database);
  const runtimeParts = 'request and correlation ids, a pino child logger, the Prometheus histogram';
  const runtime = haveCpu
    ? `The runtime every request goes through (${runtimeParts}) costs ${micros(Math.max(0, live.serverCpuMicros! - baseline.serverCpuMicros!))} µs of server CPU per request: ${cpu(live)} for \`GET /health/live\` against ${cpu(baseline)} for bare Express (throughput ${ratio(live.rate, baseline.rate)}).`
    : `\`GET /health/live\` runs at ${ratio(live.rate, baseline.rate)} the baseline: that is the runtime every request goes through (${runtimeParts}).`;
  const read = `\`GET /contracts/{id}\` runs at ${ratio(get.rate, baseline.rate)}${haveCpu ? ` and costs ${cpu(get)} of service CPU per request` : ''}: verifying the ES256 token takes ${Math.round(costs.jwtMicros)} µs on its own (measured alone in the benchmark process), while JSON Schema validation is cheap (${costs.validationMicros.toFixed(1)} µs for a whole \`POST /contracts\` body); most of the rest is the MongoDB driver's round trip to ${db}, then Express and express-openapi-validator's routing.`;
  const waiting = haveCpu ? [list, post].filter((r) => (r.serverCores ?? 1) < 0.7) : [];
  const names = waiting.map((r) => `\`${r.name.replace('?customerId&limit=20', '?customerId=…')}\` (${cores(r.serverCores)} cores busy)`);
  let writes: string;
  if (waiting.length > 0 && database.isFerretDb) {
    writes = `${names.join(' and ')} ${waiting.length > 1 ? 'leave' : 'leaves'} the service mostly idle, waiting for FerretDB: on SQLite it pushes only \`_id\` equality down to SQL, so the list's \`customer.id\` filter and sort read the whole \`contracts\` collection, and SQLite lets one writer at a time into the database file.`;
  } else if (waiting.length > 0) {
    writes = `${names.join(' and ')} ${waiting.length > 1 ? 'leave' : 'leaves'} the service mostly idle, waiting for MongoDB.`;
  } else {
    writes = `\`POST /contracts\` (${ratio(post.rate, baseline.rate)}, p99 ${ms(post.p99 ?? 0)} ms) adds ${db} writes per created contract (change record, head copy, idempotency record).`;
  }
  return [runtime, read, writes].join(' ');
}

// --- events -----------------------------------------------------------------------------------

function eventsSection({ rows, details }: Scenario<DetailsOf['events']>): string[] {
  const { events, load, amqpHost, prefetch, database, brokerRate } = details;
  const broker = rowNamed(rows, EVENTS_ROWS.broker);
  const publish = rowNamed(rows, EVENTS_ROWS.publish);
  const endToEnd = rowNamed(rows, EVENTS_ROWS.endToEnd);
  return [
    `- Broker: RabbitMQ at ${amqpHost}; quorum queues, persistent messages, publisher confirms, prefetch ${prefetch}`,
    `- Inbox database: ${database.description}, a fresh \`bench_*\` database`,
    `- ${count(events)} \`contract.subscribed\` events published at once by one bus, consumed by another in the benchmark process; the broker alone: the same number of messages published with confirms by plain amqplib to a queue nobody consumes`,
    `- Bare Express: autocannon, ${load.connections} connections, ${load.duration} s after a ${load.warmup} s warm-up, before the events`,
    '',
    rowsTable(rows, { extra: { header: 'vs broker alone', cell: (r) => (r.unit === 'events' ? times(r.rate, brokerRate) : '') } }),
    '',
    `End to end, each event is validated twice (publish and consume, ajv) and costs two inbox inserts (the claim and the record, batched with the other deliveries in hand) before its ack. The gap between the bus publish rate and the end-to-end rate (${times(endToEnd.rate, publish.rate)}) is the consumer side; the gap between the broker alone and the bus publish rate (${times(publish.rate, broker.rate)}) is validation, the envelope and amqp-connection-manager.`,
  ];
}

// --- gateway ----------------------------------------------------------------------------------

function gatewaySection({ rows, details }: Scenario<DetailsOf['gateway']>): string[] {
  const { load, database, mongoUrl, databaseExe, amqpHost, argon2, failedSignIns, ledgerBefore, ledgerAfter, transferred } = details;
  return [
    `- Database: ${database.description} at \`${mongoUrl}\`${databaseExe ? ' (on this machine)' : ''}, a fresh \`bench_*\` database; the same name is the AMQP prefix of the run's exchange and queues (RabbitMQ at ${amqpHost}), all deleted at the end`,
    `- Load: autocannon, ${load.connections} connections, ${load.duration} s per route after a ${load.warmup} s warm-up, one route at a time, ${load.timeout} s request timeout; each server in its own process`,
    `- Gateway settings: \`LOG_LEVEL=warn\`, \`VALIDATE_RESPONSES=false\` (production); passwords ${argon2Description} (the defaults of gateway-config.ts); sign-in and sign-up limits raised to ${count(SIGN_IN_LIMIT)}, since the limiter also counts attempts in flight and all the load comes from one address`,
    `- Data, all through the API: ${GATEWAY_USERS} customers signed up; sign-in and \`GET /wallet\` rotate over them, with ES256 access tokens from the gateway's own sign-in. Transfers of 1, a new \`Idempotency-Key\` each: ${GATEWAY_PAIRS} senders (funded with ${count(GATEWAY_FUNDING)} each by one top-up) each paying its own recipient, then sender 0 alone paying the ${GATEWAY_PAIRS} recipients in turn; afterwards the balances still added up (${count(transferred)} transfers in all, warm-ups included)`,
    `- Ledger (\`wallet_ledger\`): ${count(ledgerBefore[GATEWAY_ROUTE.wallet] ?? 0)} entries before \`GET /wallet\`, ${count(ledgerBefore[GATEWAY_ROUTE.transfers] ?? 0)} before the pairs, ${count(ledgerBefore[GATEWAY_ROUTE.oneSender] ?? 0)} before the single sender, ${count(ledgerAfter)} at the end (warm-ups write too)`,
    `- Failed sign-ins before the load, one at a time, alternating (median of ${FAILED_SIGN_IN_ROUNDS} each): wrong password ${ms(failedSignIns.wrongMs)} ms, unknown e-mail ${ms(failedSignIns.unknownMs)} ms — an unknown e-mail is checked against a dummy hash, so the two should be close`,
    `- argon2id alone, in the benchmark process: hash ${ms(argon2.hashMicros / 1000)} ms, verify ${ms(argon2.verifyMicros / 1000)} ms one at a time; ceiling = ${argon2.threads} threads (cores, within libuv's pool) / verify = ${perSec(argon2.ceiling)} sign-ins/s; ${argon2.threads} verifies at a time measured ${perSec(argon2.parallelRate)}/s`,
    '',
    CPU_NOTE,
    '',
    rowsTable(rows),
    '',
    gatewayInterpretation(rows, details),
  ];
}

function gatewayInterpretation(rows: Row[], { argon2, database, ledgerBefore, cores: machine }: DetailsOf['gateway']): string {
  const baseline = rowNamed(rows, GATEWAY_ROUTE.baseline);
  const signIn = rowNamed(rows, GATEWAY_ROUTE.signIn);
  const wallet = rowNamed(rows, GATEWAY_ROUTE.wallet);
  const pairs = rowNamed(rows, GATEWAY_ROUTE.transfers);
  const single = rowNamed(rows, GATEWAY_ROUTE.oneSender);
  const db = dbName(database);
  const msOf = (µs: number | undefined) => (µs === undefined ? '?' : ms(µs / 1000));
  const verifyShare = signIn.serverCpuMicros === undefined ? undefined : argon2.verifyMicros / signIn.serverCpuMicros;
  const saturated = (signIn.machineCores ?? 0) >= 0.9 * machine;
  const signInText =
    `\`POST /auth/sign-in\` ran at ${perSec(signIn.rate)}/s, ${pct(signIn.rate, argon2.ceiling)} of the ${perSec(argon2.ceiling)}/s ceiling ` +
    `(${perSec(argon2.parallelRate)}/s measured with ${argon2.threads} verifies at a time), and cost ${msOf(signIn.serverCpuMicros)} ms of gateway CPU per sign-in` +
    (verifyShare === undefined ? '' : `, of which a verify alone (${msOf(argon2.verifyMicros)} ms) would be ${Math.round(100 * verifyShare)}%`) +
    (saturated
      ? `; the machine's cores were all busy (${cores(signIn.machineCores)}: gateway ${cores(signIn.serverCores)}${signIn.databaseCores === undefined ? '' : `, ${db} ${cores(signIn.databaseCores)}`}), so sign-ins are bounded by the CPU left to argon2id once the database (limiter records, refresh tokens) and the load generator have theirs.`
      : `; the gateway kept ${cores(signIn.serverCores)} cores busy (the whole machine: ${cores(signIn.machineCores)}).`);
  const walletDb = databaseMicros(wallet);
  const walletText =
    `\`GET /wallet\` (token check and one ledger read) ran at ${ratio(wallet.rate, baseline.rate)} bare Express with ${msOf(wallet.serverCpuMicros)} ms of gateway CPU per request` +
    (walletDb === undefined ? '.' : ` and ${msOf(walletDb)} ms of ${db} CPU (${cores(wallet.databaseCores)} cores busy).`);
  const pairsDb = databaseMicros(pairs);
  const databaseBound = pairs.databaseCores !== undefined && pairs.serverCores !== undefined && pairs.databaseCores > 2 * pairs.serverCores;
  const pairsText =
    `Transfers between ${GATEWAY_PAIRS} pairs ran at ${perSec(pairs.rate)}/s (p99 ${ms(pairs.p99 ?? 0)} ms) with the gateway ${cores(pairs.serverCores)} cores busy (${msOf(pairs.serverCpuMicros)} ms of CPU per transfer)` +
    (databaseBound ? ` and ${db} ${cores(pairs.databaseCores)} (${msOf(pairsDb)} ms of its CPU per transfer): the database sets the pace` : (pairs.serverCores ?? 1) < 0.7 ? `, waiting for ${db}` : '') +
    `; all debiting one sender, whose appends the gateway queues one behind the other, they ran at ${perSec(single.rate)}/s (${times(single.rate, pairs.rate)} the pairs, p99 ${ms(single.p99 ?? 0)} ms, ` +
    `on a ledger of ${count(ledgerBefore[GATEWAY_ROUTE.oneSender] ?? 0)} entries instead of ${count(ledgerBefore[GATEWAY_ROUTE.transfers] ?? 0)}).`;
  return [signInText, walletText, pairsText].join(' ');
}

// --- scale ------------------------------------------------------------------------------------

function scaleSection({ rows, details }: Scenario<DetailsOf['scale']>, chart: string | undefined, h: string): string[] {
  const { options, steps, rotation, database, mongoUrl, databaseExe, amqpHost, transferred } = details;
  const { load, scales, events, passes } = options;
  const k = scale.scaleLabel;
  const indexLine = !database.isFerretDb
    ? '- `_id` lookups: MongoDB, always from the `_id` index'
    : steps.every((s) => s.unindexed.length === 0)
      ? `- \`_id\` lookups: indexed at every scale in every collection of ${scale.MIN_CHECKED}+ documents (${[...new Set(steps.map((s) => s.checked))].join(', ')} collections, checked before each scale's load): FerretDB's explain of a find by \`_id\` says \`SEARCH <table> USING INDEX <table>_payspec_id_path\`, the launcher's \`_id\` indexer (tools/infra/README.md). (SQLite still scans tables of a row or two, such as \`signing_keys\`, where its statistics say that is cheaper.)`
      : `- \`_id\` lookups: **not indexed** in ${steps.map((s) => `${s.unindexed.length} of ${s.checked} collections at ${k(s.scale)}`).join(', ')} (FerretDB's explain says \`SCAN\`: a launcher without the \`_id\` indexer, tools/infra/README.md), e.g. ${[...new Set(steps.flatMap((s) => s.unindexed))].slice(0, 6).map(code).join(', ')}`;
  const names = [...new Set(steps.flatMap((s) => Object.entries(s.counts).filter(([, n]) => n > 0).map(([name]) => name)))].sort();
  const countsTable = markdownTable(['database/collection', ...steps.map((s) => `@${k(s.scale)}`)], names.map((name) => [code(name), ...steps.map((s) => count(s.counts[name] ?? 0))]));
  return [
    `Does each hot route cost the same whether ${k(scales[0]!)} or ${k(scales[scales.length - 1]!)} records are stored? FerretDB on SQLite scans a collection for every filter except \`_id\` alone, so a route whose cost grows with records that are not the caller's own sends some other filter (docs/architecture.md, data access).`,
    '',
    `- Database: ${database.description} at \`${mongoUrl}\`${databaseExe ? ' (on this machine)' : ''}; three fresh \`bench_*\` databases — payment gateway, contract service, an event consumer's inbox — each also the AMQP prefix of its exchange and queues, all deleted at the end`,
    indexLine,
    `- Records: the databases are grown ${scales.map(k).join(' → ')} between measurements (${steps.map((s) => `${seconds(s.seedSeconds)} to reach ${k(s.scale)}`).join(', ')}), the difference inserted directly (insertMany, ${count(scale.SEED_BATCH)} at a time, unordered), as the repositories store them: N users (with their e-mail and phone claims; one real argon2id hash), N wallet ledger entries over N/10 of those users (pairs of wallets, each opened and topped up once, then 9 transfers between the two: accounts, entries, leg pointers, transfers, head copies and idempotency records agree), N contracts (version 1, cloned from one created through the API, ${scale.CONTRACTS_PER_CUSTOMER} per customer, with their head copies and idempotency records) and N handled events in the inbox (claim and record). All belong to other owners than the load's. The counts when each scale's routes ran (they include what the earlier scales' load wrote):`,
    '',
    countsTable,
    '',
    `- Load: autocannon, ${load.connections} connections, ${load.duration} s per route and pass (${passes} passes per scale, a ${load.warmup} s warm-up before the first), one route at a time, ${load.timeout} s request timeout; the two list routes instead one request at a time (${steps.map((s) => `${s.listRequests} at ${k(s.scale)}`).join(', ')}: fewer once one takes tens of seconds; ${scale.LIST_TIMEOUT_S} s timeout), since each reads every contract stored and concurrent ones would only measure the queue; each server in its own process (\`LOG_LEVEL=warn\`, \`VALIDATE_RESPONSES=false\`; gateway sign-in limits raised to ${count(scale.SIGN_IN_LIMIT)}, as in the gateway section)`,
    `- Through the API before the first scale: ${scale.USERS} customers signed up (their ES256 access tokens from the gateway's sign-in, renewed before each scale), ${scale.PAIRS} of them funded with ${count(scale.FUNDING)} each, which then made ${scale.HISTORY} transfers each (a page of transactions reads the ledger 50 entries at a time from the head: every sender's history is longer than that at every scale); \`GET /wallet\` and \`GET /me\` rotate over all ${scale.USERS}, transfers of 1 (a new \`Idempotency-Key\` each) go from sender i to recipient i, \`GET /wallet/transactions\` rotates over the ${scale.PAIRS} senders (a full page each). ${scale.LOAD_CONTRACTS} contracts over ${scale.LOAD_CUSTOMERS} customers (operator token): \`GET /contracts/{id}\` rotates over them, the customer list reads one of them (a full page); \`PUT …/credit-limit\` rotates over ${count(rotation)} seeded contracts (each request a new version); \`POST /contracts\` a new \`Idempotency-Key\` each. Afterwards the balances still added up (${count(transferred)} transfers in all, warm-ups included)`,
    `- \`findOne({_id})\` row: ${count(scale.LOOKUPS)} finds of random seeded \`wallet_ledger\` entries (anywhere in the collection), one at a time from the benchmark process, after ${count(scale.LOOKUPS / 10)} unmeasured: the index alone, without HTTP or the services`,
    `- Events row: ${count(events)} \`contract.subscribed\` events published at once by one bus and consumed by another in the benchmark process (after a warm-up of a tenth as many), into the grown inbox; RabbitMQ at ${amqpHost}, quorum queues, confirms`,
    '',
    `p50 and p99 are whole milliseconds at these latencies (a p50 of 0 is under 1 ms), and the machine is shared with whatever else runs (see the load average): ${passes > 1 ? `each timed route ran ${passes} times per scale (all routes in turn, then again) and the run with the lower p50 is shown` : 'each timed route ran once per scale'}; the bare Express row of each scale says how busy the machine was then.`,
    '',
    ...(chart ? [`![req/s and p50 latency of each route at ${scales.map(k).join(', ')} stored records (log scales)](${chart})`, ''] : []),
    rowsTable(rows, { groupHeader: 'records' }),
    '',
    `${h}# Growth from ${k(scales[0]!)} to ${k(scales[scales.length - 1]!)} records`,
    '',
    `p50, and CPU per request in ms of ${databaseExe ? "the service's CPU + the database process's (FerretDB's CPU counts all its clients: on a shared machine, others' queries too)" : "the service's CPU"}, from the same runs: the cost of a request, steadier than its latency when the machine is busy.`,
    '',
    scaleGrowthTable(rows, scales),
    '',
    scaleInterpretation(rows, scales),
  ];
}

/** CPU per request in ms: the service's, and the database's when its process is on this machine. */
function cpuPerRequest(r: Row): { service?: number; database?: number; total?: number } {
  const service = r.serverCpuMicros === undefined ? undefined : r.serverCpuMicros / 1000;
  const db = databaseMicros(r);
  const database = db === undefined ? undefined : db / 1000;
  return { ...(service !== undefined ? { service } : {}), ...(database !== undefined ? { database } : {}), ...(service !== undefined ? { total: service + (database ?? 0) } : {}) };
}

/** The routes (and measures) of the first scale, in order, each with its row at every scale. */
function byRoute(rows: Row[], scales: number[]): { name: string; at: Row[] }[] {
  const first = scale.scaleLabel(scales[0]!);
  return rows
    .filter((r) => r.group === first)
    .map((r) => ({ name: r.name, at: scales.map((s) => rows.find((x) => x.name === r.name && x.group === scale.scaleLabel(s))!) }))
    .filter((r) => r.at.every(Boolean));
}

function scaleGrowthTable(rows: Row[], scales: number[]): string {
  const k = scale.scaleLabel;
  const [a, b] = [k(scales[0]!), k(scales[scales.length - 1]!)];
  const cell = (r: Row) => {
    const { service, database } = cpuPerRequest(r);
    if (service === undefined) return '–';
    return database === undefined ? ms(service) : `${ms(service)} + ${ms(database)}`;
  };
  const body = byRoute(rows, scales).map(({ name, at }) => {
    const first = at[0]!;
    const last = at[at.length - 1]!;
    const isRoute = first.unit === 'req';
    const p50Growth = first.p50 !== undefined && last.p50 !== undefined ? times(last.p50, first.p50) : `${times(first.rate, last.rate)} (time/event)`;
    const cpuGrowth = isRoute && !first.isBaseline ? times(cpuPerRequest(last).total ?? 0, cpuPerRequest(first).total ?? 0) : '';
    return [
      isRoute ? code(name) : name,
      ...at.map((r) => (r.p50 === undefined ? '–' : ms(r.p50))),
      first.isBaseline ? '' : p50Growth,
      ...at.map((r) => (isRoute ? cell(r) : '–')),
      cpuGrowth,
    ];
  });
  return markdownTable(['route or measure', ...scales.map((s) => `p50 ms @${k(s)}`), `p50 @${b} / @${a}`, ...scales.map((s) => `CPU ms/req @${k(s)}`), `CPU @${b} / @${a}`], body);
}

function scaleInterpretation(rows: Row[], scales: number[]): string {
  const k = scale.scaleLabel;
  const span = `${k(scales[0]!)} to ${k(scales[scales.length - 1]!)}`;
  const over = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? a / b : Number.POSITIVE_INFINITY);
  const routes = byRoute(rows, scales);
  const summary = routes
    .filter(({ at }) => at[0]!.unit === 'req' && !at[0]!.isBaseline)
    .map(({ name, at }) => {
      const first = at[0]!;
      const last = at[at.length - 1]!;
      return { name, firstP50: first.p50 ?? 0, lastP50: last.p50 ?? 0, ratio: over(last.p50, first.p50), cpuRatio: over(cpuPerRequest(last).total, cpuPerRequest(first).total) };
    });
  const hot = summary.filter((r) => !scale.LIST_ROUTES.has(r.name));
  const lists = summary.filter((r) => scale.LIST_ROUTES.has(r.name));
  if (hot.length === 0) return '';
  const notFlat = hot.filter((r) => r.ratio > 1.5);
  const describe = (r: (typeof hot)[number]) => `${code(r.name)} (p50 ${ms(r.firstP50)} → ${ms(r.lastP50)} ms, ${r.ratio.toFixed(2)}×; CPU per request ${r.cpuRatio.toFixed(2)}×)`;
  const largest = (key: 'ratio' | 'cpuRatio') => hot.reduce((a, b) => (b[key] > a[key] ? b : a));
  const lookup = routes.find((r) => r.name === scale.LOOKUP_ROW);
  const lookupText = lookup ? `a find by \`_id\` alone took ${ms(lookup.at[0]!.p50 ?? 0)} and ${ms(lookup.at[lookup.at.length - 1]!.p50 ?? 0)} ms (p50, ${over(lookup.at[lookup.at.length - 1]!.p50, lookup.at[0]!.p50).toFixed(2)}×)` : '';
  const sentences: string[] = [];
  if (notFlat.length === 0) {
    const worst = largest('ratio');
    const costliest = largest('cpuRatio');
    sentences.push(
      `From ${span} records every hot route stayed flat: p50 at ${k(scales[scales.length - 1]!)} within 1.5× of p50 at ${k(scales[0]!)} for all ${hot.length} (largest ${code(worst.name)}, ${worst.ratio.toFixed(2)}×), CPU per request within ${costliest.cpuRatio.toFixed(2)}× (${code(costliest.name)})${lookupText ? `, and ${lookupText}` : ''}: each route reads and writes its own records by \`_id\` alone, which the index answers whatever else is stored.`,
    );
  } else {
    const flat = hot.filter((r) => r.ratio <= 1.5);
    const cpuFlat = notFlat.every((r) => r.cpuRatio <= 1.5);
    sentences.push(
      `From ${span} records ${flat.length} of ${hot.length} hot routes stayed flat (p50 within 1.5×${flat.length > 0 ? `: ${flat.map((r) => code(r.name)).join(', ')}` : ''})${lookupText ? ` and ${lookupText}` : ''}; ${notFlat.map(describe).join('; ')} did not${
        cpuFlat ? `, though ${notFlat.length === 1 ? 'its' : 'their'} CPU per request did: latency that CPU does not explain is time spent waiting (for the database's single writer, or for cores others held)` : ''
      }.`,
    );
  }
  if (lists.length > 0) {
    sentences.push(
      `The list routes filter and sort the head copies on something else than \`_id\`, which FerretDB answers by reading the whole \`contracts\` collection and sorting it in memory, so they grow with every contract stored, by design: ${lists.map((r) => `${code(r.name)} (p50 ${ms(r.firstP50)} → ${ms(r.lastP50)} ms, ${r.ratio.toFixed(r.ratio < 10 ? 2 : 0)}×)`).join(', ')}.`,
    );
  }
  const baseline = routes.find(({ at }) => at[0]!.isBaseline);
  if (baseline) {
    const [first, last] = [baseline.at[0]!, baseline.at[baseline.at.length - 1]!];
    const change = last.rate / first.rate;
    sentences.push(
      `Bare Express, measured at each scale just before the routes, ran at ${perSec(first.rate)} req/s at ${first.group} and ${perSec(last.rate)} at ${last.group} (${change.toFixed(2)}×)${change > 1.25 ? ': the machine had more CPU to spare later in the run, which speeds up every row at the larger scales as well — compare the CPU columns, which do not depend on it' : change < 0.8 ? ': the machine was busier later in the run, which slows every row at the larger scales as well — compare the CPU columns, which do not depend on it' : ''}.`,
    );
  }
  const events = routes.find((r) => r.name === scale.EVENTS_ROW);
  if (events) {
    const first = events.at[0]!;
    const last = events.at[events.at.length - 1]!;
    sentences.push(
      `Events end to end ran at ${events.at.map((r) => `${perSec(r.rate)}/s at ${r.group}`).join(', ')} (${times(first.rate, last.rate)} the time per event at ${last.group}, into an inbox of ${last.group}+ records): the inbox claims each event by an insert under its \`_id\`, and looks one up only on a redelivery.`,
    );
  }
  return sentences.join(' ');
}

// --- payments ---------------------------------------------------------------------------------

function paymentsSection({ rows, details }: Scenario<DetailsOf['payments']>, h: string): string[] {
  const { options, steps, database, mongoUrl, databaseExe, amqpHost, validation, validatorVersion, writes } = details;
  const { load } = options;
  const P = payments;
  const seeding = steps.map((s) => `${s.group}: ${count(s.seeded)} inserted in ${seconds(s.seedSeconds)}`).join('; ');
  const made = steps.map((s) => `${count(s.made)} at ${s.group} (${count(s.notSucceeded)} stored payments not \`succeeded\` afterwards)`).join(', ');
  const scales = steps.map((s) => s.group);
  return [
    `- Database: ${database.description} at \`${mongoUrl}\`${databaseExe ? ' (on this machine)' : ''}: a fresh \`bench_*\` database for the gateway and another (\`…_bank\`) for the bank simulator, as each service owns its database in production; the gateway's database name is also the AMQP prefix of the run's exchange and queues (RabbitMQ at ${amqpHost}); all deleted at the end`,
    `- Servers, each in its own process: the payment gateway (\`LOG_LEVEL=warn\`, \`VALIDATE_RESPONSES=false\` as in production, \`ACQUIRING_BANKS\` pointing at the simulator, sign-in and sign-up limits raised to ${count(P.SIGN_IN_LIMIT)} since all set-up comes from one address), the acquiring-bank simulator (\`BANK_NAME=${P.BANK}\`, \`BANK_LATENCY_MS=0\`, \`LOG_LEVEL=warn\`) and bare Express`,
    `- Load: autocannon, ${load.connections} connections, ${load.duration} s per route after a ${load.warmup} s warm-up, one route at a time, ${load.timeout} s request timeout; bare Express again at each scale`,
    `- Merchants, through the API: ${P.MERCHANTS} merchants of ${P.BANK} signed up and signed in (fresh ES256 tokens before each route), each making ${P.PAYMENTS_PER_MERCHANT} payments first. \`GET /payments/{id}\` rotates over those ${P.MERCHANTS * P.PAYMENTS_PER_MERCHANT} payments, each read with its merchant's token; \`GET /payments?limit=20\` rotates over the merchants (each request reads the newest page of a merchant's list); \`POST /payments\` rotates over the merchants, a new \`Idempotency-Key\` and reference each time, card \`${P.PAN}\`, ${count(P.AMOUNT)} ${P.CURRENCY} (all the same card: the vault finds it stored)`,
    `- Stored payments: grown to each scale before its routes by inserting the difference directly (insertMany, ${count(P.SEED_BATCH)} at a time, unordered), as the repositories store them — payments of ${P.OTHER_MERCHANTS} other merchants (\`succeeded\`, card summary and card id, status history; \`_id\` derived from the merchant and a key as the idempotent command derives it), their \`merchant_payments\` log entries and \`merchant_payments_heads\` copies, their \`idempotency_keys\` records (\`completed\`, with the answer), and the bank's \`charges\` in its database; not the vault's \`cards\` (nothing measured reads another merchant's card). ${seeding}. The "payments before" column counts every payment stored when the route started (the load's own included); \`POST /payments\` made ${made}`,
    `- Request validation, measured in the benchmark process (the runtime has no switch to turn it off in a running gateway): express-openapi-validator ${validatorVersion} with operation-router.ts's options on a \`POST /payments\` (headers and parsed body), the whole chain against its matching middleware alone (which routing needs anyway), ${validation.rounds} alternating rounds of ${count(validation.perRound)} requests, medians`,
    `- Writes per \`POST /payments\`: counted from the MongoDB driver's command monitoring (\`commandWatchers\`, as services/data-access-guard.test.ts) on a gateway and a bank started in the benchmark process with databases of their own — a merchant's second payment with a card already in the vault, and the 2 s after its answer`,
    '',
    CPU_NOTE,
    '',
    rowsTable(rows, {
      groupHeader: 'stored',
      extra: { header: 'payments before', cell: (r) => (r.isBaseline ? '' : count(steps.find((s) => s.group === r.group)?.storedBefore[r.name] ?? 0)) },
    }),
    '',
    `Growth from ${scales[0]} to ${scales[scales.length - 1]} stored payments:`,
    '',
    paymentsGrowthTable(rows, scales),
    '',
    `The bank simulator's CPU per charge during \`POST /payments\` (warm-up included): ${steps.map((s) => `${micros(s.bankMicrosPerCharge)} µs at ${s.group}`).join(', ')}.`,
    '',
    `${h}# Writes per \`POST /payments\``,
    '',
    ...writesList(writes),
    '',
    `${h}# Request validation`,
    '',
    validationText(details, rows),
    '',
    `${h}# Targets (issue 9)`,
    '',
    ...targetLines(paymentsTargets({ rows, details })),
    '',
    `- What dominates at ${scales[scales.length - 1]}: ${[P.PAYMENTS_ROUTE.post, P.PAYMENTS_ROUTE.get, P.PAYMENTS_ROUTE.list].map((name) => `${code(name)}: ${pace(rows, details, steps[steps.length - 1]!, name)}`).join('. ')}.`,
  ];
}

function paymentsGrowthTable(rows: Row[], scales: string[]): string {
  const [a, b] = [scales[0]!, scales[scales.length - 1]!];
  const P = payments.PAYMENTS_ROUTE;
  const body = [P.baseline, P.get, P.list, P.post].map((name) => {
    const x = rowNamed(rows, name, a);
    const y = rowNamed(rows, name, b);
    return [code(name), ms(x.p50 ?? 0), ms(y.p50 ?? 0), times(y.p50 ?? 0, x.p50 ?? 0), perSec(x.rate), perSec(y.rate), times(y.rate, x.rate)];
  });
  return markdownTable(['route', `p50 ms @${a}`, `p50 ms @${b}`, `p50 @${b} / @${a}`, `req/s @${a}`, `req/s @${b}`, `req/s @${b} / @${a}`], body);
}

/** Markdown lines describing the writes of one POST /payments, in order. */
function writesList(writes: payments.PaymentWrites): string[] {
  const what: Record<string, string> = {
    'gateway idempotency_keys insert': 'the Idempotency-Key claimed (`started`)',
    'gateway cards insert': 'the card into the vault (a card it did not hold yet)',
    'gateway outbox insert': 'the outbox marker the payment owes (`payment.settled`)',
    'gateway merchant_payments insert': "the entry in the merchant's payments log",
    'gateway merchant_payments_heads update': "the log's head copy (upsert; skipped by an append while another for the same merchant is queued)",
    'gateway payments insert': 'the payment, `pending`',
    'bank charges insert': "the bank simulator's charge (its own database)",
    'gateway payments update': "the payment `succeeded` with the bank's answer (replaceOne)",
    'gateway idempotency_keys update': 'the Idempotency-Key `completed` with the answer to replay',
    'gateway outbox delete': 'the outbox marker, once `payment.succeeded` is published (outbox relay)',
  };
  const line = (c: payments.Command, i: number) => {
    const note = what[`${c.service} ${c.collection} ${c.name}`];
    return `${i + 1}. ${c.service} \`${c.collection}\` ${c.name}${c.n > 1 ? ` ×${c.n}` : ''}${note ? ` — ${note}` : ''}`;
  };
  const perService = (list: payments.Command[], service: string) => list.filter((c) => c.service === service).length;
  const { requestWrites, afterWrites } = writes;
  const list = (counts: Record<string, number>) => Object.entries(counts).map(([key, n]) => `${key} ${n}`).join(', ');
  const others = Object.values(writes.otherReads).reduce((a, b) => a + b, 0);
  const vaultWrite = requestWrites.some((c) => c.collection === 'cards');
  return [
    `During the request (${requestWrites.length} writes: gateway ${perService(requestWrites, 'gateway')}, bank ${perService(requestWrites, 'bank')}; the outbox relay runs beside the request, so its writes may fall in either window):`,
    '',
    ...requestWrites.map(line),
    '',
    afterWrites.length > 0 ? `After the answer (${afterWrites.length}):` : 'After the answer: none.',
    ...(afterWrites.length > 0 ? ['', ...afterWrites.map((c, i) => line(c, requestWrites.length + i))] : []),
    '',
    `Reads meanwhile: ${writes.reads} (${list(writes.readsByCollection)}), ` +
      (others === 0 ? 'all by `_id` alone.' : `all by \`_id\` alone but ${others} (${list(writes.otherReads)}: the outbox relay reads its pending markers whole).`) +
      (vaultWrite ? '' : ' The vault already held the card (the load pays with one card throughout), so it was read, not written; a card it does not hold adds one `cards` insert.'),
  ];
}

function validationText({ validation, steps }: DetailsOf['payments'], rows: Row[]): string {
  const posts = steps.map((s) => ({ step: s, row: rowNamed(rows, payments.PAYMENTS_ROUTE.post, s.group) })).filter((p) => p.row.serverCpuMicros !== undefined);
  const least = posts.length > 0 ? Math.min(...posts.map((p) => p.row.serverCpuMicros!)) : undefined;
  const share = least === undefined ? undefined : validation.validationMicros / least;
  const shares = posts.map((p) => `${micros(p.row.serverCpuMicros)} µs with ${count(p.step.storedBefore[p.row.name] ?? 0)} stored (${((100 * validation.validationMicros) / p.row.serverCpuMicros!).toFixed(1)}%)`).join(', ');
  return (
    `Request validation of a \`POST /payments\` (express-openapi-validator's request middleware: the Idempotency-Key header, the query and the JSON body against \`PaymentRequest\`) costs **${validation.validationMicros.toFixed(1)} µs** per request in the benchmark process ` +
    `(whole chain ${validation.chainMicros.toFixed(1)} µs, matching alone ${validation.matchMicros.toFixed(1)} µs); the compiled \`PaymentRequest\` schema alone (ajv) takes ${validation.ajvMicros.toFixed(2)} µs. ` +
    (share === undefined
      ? 'The gateway\'s CPU per request was not measured, so its share is not known here.'
      : `Against the gateway's CPU per \`POST /payments\` under load — ${shares} — that is at most ${(100 * share).toFixed(1)}%.`) +
    ' These compare CPU time with CPU time: validation is synchronous, so its µs are gateway CPU µs, not latency.'
  );
}

/** What set the pace of a route: the CPU one request costs on this machine, whoever spends it, against what the route achieved. */
function pace(rows: Row[], details: DetailsOf['payments'], step: payments.PaymentsStep, name: string): string {
  const r = rowNamed(rows, name, step.group);
  const machine = details.cores;
  const db = databaseMicros(r);
  if (r.serverCpuMicros === undefined || db === undefined || r.rate <= 0) return 'no CPU figures';
  const shares: [string, number][] = [
    ['the gateway', r.serverCpuMicros],
    ['the database', db],
    ...(name === payments.PAYMENTS_ROUTE.post && step.bankMicrosPerCharge !== undefined ? [['the bank simulator', step.bankMicrosPerCharge] as [string, number]] : []),
  ];
  const total = shares.reduce((sum, [, cost]) => sum + cost, 0);
  const ceiling = (machine * 1e6) / total;
  const [largest, largestMicros] = [...shares].sort((a, b) => b[1] - a[1])[0]!;
  const used = r.rate / ceiling;
  return (
    `per request ${shares.map(([who, cost]) => `${who.replace(/^the /, '')} ${micros(cost)} µs`).join(', ')} of CPU — ${micros(total)} µs in all, so ${machine} cores allow at most ~${perSec(ceiling)} req/s; ` +
    `it ran at ${perSec(r.rate)} (${Math.round(100 * used)}% of that; machine ${cores(r.machineCores)} of ${machine} cores busy, the load generator's included): ` +
    (used >= 0.75 ? `CPU-bound, ${largest}'s share the largest (${pct(largestMicros, total)})` : `it waits more than it computes (round trips to the database${name === payments.PAYMENTS_ROUTE.post ? ', whose SQLite files take one writer at a time' : ''})`) +
    `; the gateway's ${micros(r.serverCpuMicros)} µs alone would cap it at ~${perSec(1e6 / r.serverCpuMicros)} req/s on its one event loop`
  );
}

// --- floor ------------------------------------------------------------------------------------

function floorSection({ rows, details }: Scenario<DetailsOf['floor']>): string[] {
  const { load, database } = details;
  const base = rows[0]!;
  const pay = rowNamed(rows, FLOOR_ROUTE.payments);
  const ops = rowNamed(rows, FLOOR_ROUTE.operations);
  const vch = rowNamed(rows, FLOOR_ROUTE.vouchers);
  return [
    'What the write-heavy targets can reach at most on this machine, whatever the service\'s code: bare Express and the MongoDB driver doing only the database writes an issue itself requires of one request.',
    '',
    `- Database: ${database.description}, a fresh \`bench_*\` database (and a second one for the bank)`,
    '- Servers (each its own process, tools/bench/floor-server.ts): bare Express 5 + the MongoDB driver doing only the writes the issues require of one request, by `_id`, nothing else. `POST /payments` (issue 9): idempotency claim, outbox marker, pending payment (3 inserts), the bank over HTTP (a bare Express process recording the charge in a database of its own: 1 insert), the answer on the payment (replace), the idempotency answer (update), the marker removed (delete). `POST /operations` (issue 10): idempotency claim, ledger entry, outbox marker, operation (4 inserts), the idempotency answer (update), the marker removed (delete). `POST /vouchers` (issue 11, the 202 alone): the outbox marker of voucher.requested and the request under an id derived from its Idempotency-Key (2 inserts), the marker removed (delete)',
    `- Load: autocannon, ${load.connections} connections, ${load.duration} s per route after a ${load.warmup} s warm-up, a new Idempotency-Key each request`,
    '',
    rowsTable(rows),
    '',
    `What it means for the targets: issue 9 asks \`POST /payments\` ≥ ${payments.TARGET.postRate} req/s with p99 ≤ ${payments.TARGET.postP99} ms at 50 connections; the floor reaches ${perSec(pay.rate)} req/s with p99 ${ms(pay.p99 ?? 0)} ms. Issue 10 asks \`POST /operations\` ≥ ${billing.TARGET.postVsBaseline}× bare Express (here ${perSec(billing.TARGET.postVsBaseline * base.rate)} req/s); the floor reaches ${perSec(ops.rate)} req/s (${ratio(ops.rate, base.rate)}). Issue 11 asks its 202 answers at ≥ ${voucher.TARGET.postVsBaseline}× bare Express (here ${perSec(voucher.TARGET.postVsBaseline * base.rate)} req/s); the floor reaches ${perSec(vch.rate)} req/s (${ratio(vch.rate, base.rate)}). A service doing these writes plus authentication, validation, ids, logging, metrics, the outbox relay and its own rules cannot go faster than its floor.`,
  ];
}

// --- billing ----------------------------------------------------------------------------------

function billingSection({ rows, details }: Scenario<DetailsOf['billing']>): string[] {
  const { options, database, eventsSeconds, invoiceable, run, rssBeforeMb, peakSampledMb, hwmMb } = details;
  const { load } = options;
  return [
    `- Database: ${database.description}, a fresh \`bench_*\` database; ${count(options.contracts)} contracts received as \`contract.subscribed\` events, published as the contract service would (handled in ${seconds(eventsSeconds)})`,
    `- Load: autocannon, ${load.connections} connections, ${load.duration} s per route after a ${load.warmup} s warm-up, one route at a time; billing at \`LOG_LEVEL=warn\`, \`VALIDATE_RESPONSES=false\`, an ES256 operator token on every request`,
    `- HTTP with ${count(options.storedForPost)} operations stored (inserted directly as billing stores authorized purchases, with their ledger entries); \`POST /operations\`: purchases over ${billing.LOAD_CONTRACTS} contracts, a new \`Idempotency-Key\` each`,
    '',
    CPU_NOTE,
    '',
    rowsTable(rows),
    '',
    `Billing run over ${count(invoiceable)} authorized operations of ${count(options.contracts)} contracts (one pass sorted by contract, batches of 1,000), in a billing process started for the run (no HTTP load before it): **${run.seconds.toFixed(1)} s** from the POST to the run completed, ${count(run.invoicesIssued)} invoices, ${count(run.operationsInvoiced)} operations invoiced; the process was resident ${rssBeforeMb} MB before and **${Math.max(peakSampledMb, hwmMb)} MB** at its peak (its VmHWM since start; ${peakSampledMb} MB sampled every 250 ms during the run).`,
    '',
    ...targetLines(billingTargets({ rows, details })),
  ];
}

// --- voucher ----------------------------------------------------------------------------------

function voucherSection({ rows, details }: Scenario<DetailsOf['voucher']>): string[] {
  const { options, accepted, delivered, drainSeconds } = details;
  const { load, inFlight, requests } = options;
  const e2e = rowNamed(rows, voucher.deliveredRow(inFlight));
  return [
    '- Servers, each in its own process: the payment gateway (identity; its own database), the voucher-provider simulator (`PROVIDER_TIME_SCALE=1`; phone numbers ending 0–3: the code in its answer at once), the voucher service (`LOG_LEVEL=warn`, `VALIDATE_RESPONSES=false`, SMS to a file, webhooks to a receiver in the benchmark process that verifies each with `standardwebhooks`), and bare Express; one run database per service, RabbitMQ under the run\'s prefix; all deleted at the end',
    `- ${voucher.CUSTOMERS} customers signed up on the gateway, each with a webhook secret; every request names its customer's own phone number and a callbackUrl, a new Idempotency-Key each`,
    `- Load 1 (\`POST /vouchers\`): autocannon, ${load.connections} connections, ${load.duration} s after a ${load.warmup} s warm-up; the worker, provider calls, SMS and webhooks run behind the answers. ${count(accepted)} vouchers were accepted (warm-up included); the backlog was delivered ${seconds(drainSeconds)} after the load ended (${count(delivered)} delivered)`,
    `- Load 2 (the last row): ${inFlight} requests in flight end to end (${inFlight} loops each sending a request and waiting for its webhook), ${count(requests)} requests; its p50 and p99 are request → delivered webhook (202, voucher.requested, the worker's provider call, the code stored, voucher.issued, SMS, the signed POST received and verified), its rate the webhooks delivered per second, its errors the requests refused or never delivered within 60 s`,
    '',
    CPU_NOTE,
    '',
    rowsTable(rows),
    '',
    `Request → delivered webhook with ${inFlight} in flight: **p50 ${ms(e2e.p50 ?? 0)} ms, p99 ${ms(e2e.p99 ?? 0)} ms** over ${count(e2e.completed)} requests (${e2e.errors} errors), ${perSec(e2e.rate)} vouchers delivered per second.`,
    '',
    ...targetLines(voucherTargets({ rows, details })),
  ];
}

// --- targets ----------------------------------------------------------------------------------

export interface Target {
  issue: number;
  target: string;
  measured: string;
  verdict: 'met' | 'not met' | 'undecided' | 'not measured';
  /** What the floor reached for the same target, when it was measured. */
  floor?: string;
}

const verdictText = (v: Target['verdict']) => (v === 'met' || v === 'not met' ? `**${v}**` : v);

function targetLines(targets: Target[]): string[] {
  return targets.map((t) => `- Issue ${t.issue}: ${t.target} — ${verdictText(t.verdict)} (${t.measured}).`);
}

function paymentsTargets({ rows, details }: Pick<Scenario<DetailsOf['payments']>, 'rows' | 'details'>): Target[] {
  const { TARGET, PAYMENTS_ROUTE: R } = payments;
  const { steps, options, validation } = details;
  // The target's scale when it was run; otherwise the scales around it (met only if met at both).
  const exact = steps.find((s) => s.scale === TARGET.scale);
  const below = [...steps].reverse().find((s) => s.scale < TARGET.scale);
  const above = steps.find((s) => s.scale > TARGET.scale);
  const judged = exact ? [exact] : [below, above].filter((s): s is payments.PaymentsStep => s !== undefined);
  const label = scale.scaleLabel;
  const where = exact
    ? `at ${label(TARGET.scale)} stored payments`
    : judged.length === 2
      ? `at ${label(TARGET.scale)} stored payments (judged at ${judged.map((s) => s.group).join(' and ')}: met only if met at both)`
      : `at ${label(TARGET.scale)} stored payments (run at ${judged.map((s) => s.group).join(', ')} only)`;
  const verdict = (ok: boolean[]): Target['verdict'] => (ok.every(Boolean) ? 'met' : ok.some(Boolean) && !exact ? 'undecided' : 'not met');
  const post = judged.map((s) => rowNamed(rows, R.post, s.group));
  const get = judged.map((s) => rowNamed(rows, R.get, s.group));
  const cpus = steps.map((s) => rowNamed(rows, R.post, s.group).serverCpuMicros).filter((n): n is number => n !== undefined);
  const least = cpus.length > 0 ? Math.min(...cpus) : undefined;
  return [
    {
      issue: 9,
      target: `\`POST /payments\` ≥ ${TARGET.postRate} req/s with p99 ≤ ${TARGET.postP99} ms at 50 connections (this run: ${options.load.connections}), ${where}`,
      measured: post.map((r) => `${perSec(r.rate)} req/s, p99 ${ms(r.p99 ?? 0)} ms at ${r.group}`).join('; '),
      verdict: verdict(post.map((r) => r.rate >= TARGET.postRate && (r.p99 ?? Infinity) <= TARGET.postP99)),
    },
    {
      issue: 9,
      target: `\`GET /payments/{id}\` ≥ ${count(TARGET.getRate)} req/s, ${where}`,
      measured: get.map((r) => `${perSec(r.rate)} req/s at ${r.group}`).join('; '),
      verdict: verdict(get.map((r) => r.rate >= TARGET.getRate)),
    },
    {
      issue: 9,
      target: `request validation ≤ ${100 * TARGET.validationShare}% of \`POST /payments\``,
      measured: least === undefined ? 'no CPU figures' : `${validation.validationMicros.toFixed(1)} µs of ${micros(least)} µs of gateway CPU: ${((100 * validation.validationMicros) / least).toFixed(1)}%`,
      verdict: least === undefined ? 'not measured' : validation.validationMicros / least <= TARGET.validationShare ? 'met' : 'not met',
    },
  ];
}

function billingTargets({ rows, details }: Pick<Scenario<DetailsOf['billing']>, 'rows' | 'details'>): Target[] {
  const { TARGET } = billing;
  const post = rowNamed(rows, billing.BILLING_ROUTE.post);
  const peak = Math.max(details.peakSampledMb, details.hwmMb);
  return [
    {
      issue: 10,
      target: `\`POST /operations\` ≥ ${TARGET.postVsBaseline}× bare Express`,
      measured: `${perSec(post.rate)} req/s against ${perSec(post.baseline)}: ${ratio(post.rate, post.baseline)}`,
      verdict: post.rate >= TARGET.postVsBaseline * post.baseline ? 'met' : 'not met',
    },
    {
      issue: 10,
      target: `a billing run over ${count(details.options.storedForRun)} operations ≤ ${TARGET.runSeconds} s`,
      measured: `${details.run.seconds.toFixed(1)} s`,
      verdict: details.run.seconds <= TARGET.runSeconds ? 'met' : 'not met',
    },
    {
      issue: 10,
      target: `its peak RSS ≤ ${TARGET.runRssMb} MB`,
      measured: `${peak} MB`,
      verdict: peak <= TARGET.runRssMb ? 'met' : 'not met',
    },
  ];
}

function voucherTargets({ rows, details }: Pick<Scenario<DetailsOf['voucher']>, 'rows' | 'details'>): Target[] {
  const { TARGET } = voucher;
  const post = rowNamed(rows, voucher.VOUCHER_ROUTE.post);
  const e2e = rowNamed(rows, voucher.deliveredRow(details.options.inFlight));
  return [
    {
      issue: 11,
      target: `202 answers to \`POST /vouchers\` at ≥ ${TARGET.postVsBaseline}× bare Express`,
      measured: `${perSec(post.rate)} req/s against ${perSec(post.baseline)}: ${ratio(post.rate, post.baseline)}`,
      verdict: post.rate >= TARGET.postVsBaseline * post.baseline ? 'met' : 'not met',
    },
    {
      issue: 11,
      target: `request → delivered callback p99 ≤ ${TARGET.deliveredP99Ms / 1000} s on the fast path with ${details.options.inFlight} in flight`,
      measured: `p99 ${ms(e2e.p99 ?? 0)} ms`,
      verdict: (e2e.p99 ?? Infinity) <= TARGET.deliveredP99Ms ? 'met' : 'not met',
    },
  ];
}

/** Every target the scenarios of this run measured, with the floor's figure next to the write-heavy ones. */
export function allTargets(outcomes: Outcome[]): Target[] {
  const done = <K extends ScenarioId>(id: K) => outcomes.find((o): o is Extract<Outcome, { id: K; ok: true }> => o.id === id && o.ok)?.result as Scenario<DetailsOf[K]> | undefined;
  const floor = done('floor');
  const floorRow = (name: string) => (floor ? rowNamed(floor.rows, name) : undefined);
  const fp = floorRow(FLOOR_ROUTE.payments);
  const fo = floorRow(FLOOR_ROUTE.operations);
  const fv = floorRow(FLOOR_ROUTE.vouchers);
  const missing = (issue: number, target: string): Target => ({ issue, target, measured: 'its part did not complete', verdict: 'not measured' });
  const p = done('payments');
  const b = done('billing');
  const v = done('voucher');
  const targets: Target[] = [
    ...(p ? paymentsTargets(p) : [missing(9, '`POST /payments`, `GET /payments/{id}` and request validation')]),
    ...(b ? billingTargets(b) : [missing(10, '`POST /operations` against bare Express, the billing run\'s time and memory')]),
    ...(v ? voucherTargets(v) : [missing(11, '202 answers against bare Express, request → delivered callback p99')]),
  ];
  for (const t of targets) {
    if (fp && t.target.startsWith('`POST /payments`')) t.floor = `${perSec(fp.rate)} req/s, p99 ${ms(fp.p99 ?? 0)} ms`;
    if (fo && t.target.startsWith('`POST /operations`')) t.floor = `${perSec(fo.rate)} req/s: ${ratio(fo.rate, fo.baseline)}`;
    if (fv && t.target.startsWith('202 answers')) t.floor = `${perSec(fv.rate)} req/s: ${ratio(fv.rate, fv.baseline)}`;
  }
  return targets;
}

function targetsSection(outcomes: Outcome[]): string[] {
  const targets = allTargets(outcomes);
  const met = targets.filter((t) => t.verdict === 'met').length;
  return [
    `The targets issues 9 (card payments), 10 (billing) and 11 (vouchers) set, against what this run measured: ${met} of ${targets.length} met. The last column is [the floor](#${anchor('floor')}) of the same target: bare Express and the MongoDB driver doing only the writes the issue requires, measured in this run — no service doing those writes and more can go faster on this machine. Details in each part's section.`,
    '',
    markdownTable(
      ['issue', 'target', 'measured', 'verdict', 'the floor'],
      targets.map((t) => [String(t.issue), t.target, t.measured, verdictText(t.verdict), t.floor ?? '']),
      5,
    ),
  ];
}
