// What a benchmark scenario hands back: its measured rows (a route under load, or a measure such
// as events end to end), each next to the bare Express baseline measured in the same run, and the
// scenario's own figures (set-up, unit costs, targets' inputs) as data. tools/bench/doc.ts turns
// them into docs/benchmarks.md; nothing here writes markdown.
import type { RouteResult } from './harness.js';

/** What a row's rate counts per second. */
export type RateUnit = 'req' | 'events' | 'finds' | 'deliveries';

export interface Row {
  /** Rows measured together, e.g. the records stored (`1k`) in a scale scenario; undefined when there is one group. */
  group?: string;
  /** The route (`GET /wallet`) or the measure (`events end to end …`). */
  name: string;
  unit: RateUnit;
  /** Mean per second over the measured run. */
  rate: number;
  /** Latency percentiles in ms; undefined for throughput-only measures. */
  p50?: number;
  p99?: number;
  /** Answers outside 2xx. */
  non2xx: number;
  /** Failed requests (connection errors, timeouts) or, for a measure, items lost or late. */
  errors: number;
  timeouts: number;
  /** Requests or items completed in the measured run. */
  completed: number;
  statusCodes?: Record<string, number>;
  /** Bare Express (GET /hello) req/s measured in the same run — the same group — as this row. */
  baseline: number;
  /** This row is that bare Express measurement. */
  isBaseline?: boolean;
  /** CPU the server process used per completed request, µs. */
  serverCpuMicros?: number;
  /** CPU seconds per second of the measured run: the server's, the database's, the whole machine's. */
  serverCores?: number;
  databaseCores?: number;
  machineCores?: number;
}

/** A scenario's result: its rows, its own figures, and the command that runs it alone with the same settings. */
export interface Scenario<D> {
  rows: Row[];
  details: D;
  command: string;
}

export const BASELINE_ROUTE = 'baseline GET /hello';

/** A harness route result as a row; `baseline` is the bare Express req/s of the same run. */
export function toRow(result: RouteResult, baseline: number, group?: string): Row {
  return {
    ...(group !== undefined ? { group } : {}),
    name: result.name,
    unit: 'req',
    rate: result.reqPerSec,
    p50: result.p50,
    p99: result.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    completed: result.completed,
    statusCodes: result.statusCodes,
    baseline,
    ...(result.name === BASELINE_ROUTE ? { isBaseline: true } : {}),
    ...(result.serverCpuMicros !== undefined ? { serverCpuMicros: result.serverCpuMicros } : {}),
    ...(result.serverCores !== undefined ? { serverCores: result.serverCores } : {}),
    ...(result.databaseCores !== undefined ? { databaseCores: result.databaseCores } : {}),
    ...(result.machineCores !== undefined ? { machineCores: result.machineCores } : {}),
  };
}

/** Route results whose first is the baseline (`baseline GET /hello`), as rows against it. */
export function rowsAgainstFirst(results: RouteResult[], group?: string): Row[] {
  const first = results[0];
  if (!first || first.name !== BASELINE_ROUTE) throw new Error(`the first route measured must be ${BASELINE_ROUTE}`);
  return results.map((r) => toRow(r, first.reqPerSec, group));
}

/** Rows with failed requests (or lost items), or nothing completed: their figures measure nothing. */
export function failedRows(rows: Row[]): Row[] {
  return rows.filter((r) => r.non2xx > 0 || r.errors > 0 || r.completed === 0);
}

/** The row named `name` (in `group`), or an error naming what is missing. */
export function rowNamed(rows: Row[], name: string, group?: string): Row {
  const row = rows.find((r) => r.name === name && (group === undefined || r.group === group));
  if (!row) throw new Error(`no row ${name}${group !== undefined ? ` at ${group}` : ''}`);
  return row;
}
