/**
 * Process-wide record of which (operation, declared response) pairs the tests exercised.
 *
 * The store lives on `globalThis` under a registry symbol: the mocha root-hook plugin and the
 * test files may end up importing this module through different loaders/URLs, and they must
 * still see the same data.
 */
import { declaredResponseKeys, listOperations, selectResponseKey, type OpenApiSpec } from './spec-utils.js';

interface OperationEntry {
  operationId: string;
  method: string;
  pathTemplate: string;
  /** Declared response keys: "200", "4XX", "default", ... */
  declared: string[];
}

interface ApiEntry {
  /** Undefined until `registerSpec` is called for the API. */
  operations?: OperationEntry[];
  /** operationId → status → number of times seen. */
  exercised: Map<string, Map<number, number>>;
}

interface CoverageStore {
  apis: Map<string, ApiEntry>;
}

const STORE_KEY = Symbol.for('payspec.contract-testing.coverage');
type GlobalWithStore = typeof globalThis & { [STORE_KEY]?: CoverageStore };

function store(): CoverageStore {
  const g = globalThis as GlobalWithStore;
  g[STORE_KEY] ??= { apis: new Map() };
  return g[STORE_KEY];
}

function apiEntry(api: string): ApiEntry {
  const apis = store().apis;
  let entry = apis.get(api);
  if (!entry) {
    entry = { exercised: new Map() };
    apis.set(api, entry);
  }
  return entry;
}

/** Tells the recorder every operation and declared status of `api` (idempotent; last spec wins). */
export function registerSpec(api: string, spec: OpenApiSpec): void {
  apiEntry(api).operations = listOperations(spec).map((op) => ({
    operationId: op.operationId,
    method: op.method,
    pathTemplate: op.pathTemplate,
    declared: sortResponseKeys(declaredResponseKeys(op)),
  }));
}

export function recordExercised(api: string, operationId: string, status: number): void {
  const exercised = apiEntry(api).exercised;
  let statuses = exercised.get(operationId);
  if (!statuses) {
    statuses = new Map();
    exercised.set(operationId, statuses);
  }
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
}

/** Forget one API (tests of this library use throw-away APIs that must not reach the run's report). */
export function forgetApi(api: string): void {
  store().apis.delete(api);
}

/** Forget everything (for tests of the recorder itself). */
export function resetCoverage(): void {
  store().apis.clear();
}

/** True when any spec was registered or anything was recorded. */
export function hasCoverageData(): boolean {
  return store().apis.size > 0;
}

export interface OperationCoverage {
  operationId: string;
  method: string;
  pathTemplate: string;
  statuses: Array<{ key: string; exercised: boolean }>;
  /** Statuses seen that no declared response (not even `default`) covers. */
  undeclared: number[];
}

export interface ApiCoverage {
  api: string;
  registered: boolean;
  operations: OperationCoverage[];
  exercised: number;
  declared: number;
}

export interface CoverageSummary {
  apis: ApiCoverage[];
  exercised: number;
  declared: number;
}

export function getCoverageSummary(): CoverageSummary {
  const apis: ApiCoverage[] = [];
  for (const [api, entry] of [...store().apis.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const operations: OperationCoverage[] = [];
    const known = new Set<string>();
    for (const op of entry.operations ?? []) {
      known.add(op.operationId);
      const seen = [...(entry.exercised.get(op.operationId)?.keys() ?? [])];
      const hit = new Set<string>();
      const undeclared: number[] = [];
      for (const status of seen) {
        // A status matching only `default` (or a range key) exercises that key.
        const key = selectResponseKey(op.declared, status);
        if (key === undefined) undeclared.push(status);
        else hit.add(key);
      }
      operations.push({
        operationId: op.operationId,
        method: op.method,
        pathTemplate: op.pathTemplate,
        statuses: op.declared.map((key) => ({ key, exercised: hit.has(key) })),
        undeclared: undeclared.sort((a, b) => a - b),
      });
    }
    // Recorded operations the registered spec does not know (or no spec registered at all).
    for (const [operationId, statuses] of entry.exercised) {
      if (known.has(operationId)) continue;
      operations.push({
        operationId,
        method: '?',
        pathTemplate: '?',
        statuses: [],
        undeclared: [...statuses.keys()].sort((a, b) => a - b),
      });
    }
    const declared = operations.reduce((n, op) => n + op.statuses.length, 0);
    const exercised = operations.reduce((n, op) => n + op.statuses.filter((s) => s.exercised).length, 0);
    apis.push({ api, registered: entry.operations !== undefined, operations, exercised, declared });
  }
  return {
    apis,
    exercised: apis.reduce((n, a) => n + a.exercised, 0),
    declared: apis.reduce((n, a) => n + a.declared, 0),
  };
}

/** Text report: one operation × declared-status table per API, plus per-API and overall totals. */
export function formatCoverageReport(): string {
  const summary = getCoverageSummary();
  const lines: string[] = ['', 'Contract coverage (✓ exercised, ✗ declared but not exercised, blank = not declared)'];
  for (const api of summary.apis) {
    lines.push('');
    lines.push(`${api.api}: ${api.exercised}/${api.declared} declared responses exercised (${percent(api.exercised, api.declared)})`);
    if (!api.registered) lines.push('  (spec not registered: declared statuses unknown)');
    const columns = sortResponseKeys([...new Set(api.operations.flatMap((op) => op.statuses.map((s) => s.key)))]);
    const header = ['operation', 'endpoint', ...columns, 'undeclared'];
    const rows = api.operations.map((op) => {
      const byKey = new Map(op.statuses.map((s) => [s.key, s.exercised]));
      return [
        op.operationId,
        `${op.method} ${op.pathTemplate}`,
        ...columns.map((c) => (byKey.has(c) ? (byKey.get(c) ? '✓' : '✗') : '')),
        op.undeclared.join(','),
      ];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const render = (cells: string[]): string => '  ' + cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
    lines.push(render(header));
    lines.push(render(widths.map((w) => '-'.repeat(w))));
    for (const row of rows) lines.push(render(row));
  }
  lines.push('');
  lines.push(`Overall: ${summary.exercised}/${summary.declared} declared responses exercised (${percent(summary.exercised, summary.declared)})`);
  return lines.join('\n');
}

function percent(part: number, whole: number): string {
  return whole === 0 ? 'n/a' : `${((part / whole) * 100).toFixed(1)}%`;
}

/** Numeric codes ascending, then range keys (4XX), then `default`. */
function sortResponseKeys(keys: string[]): string[] {
  const rank = (k: string): number => {
    if (/^\d{3}$/.test(k)) return Number(k);
    if (/^\dXX$/i.test(k)) return Number(k[0]) * 100 + 99.5;
    return 10_000;
  };
  return [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
