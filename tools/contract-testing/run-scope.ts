/**
 * Which tests this mocha run selected, per test file. An assertion on the coverage record
 * ("every operation was exercised") holds only when every test of its file runs: under
 * `make test-only ARGS="--grep …"` (or `--fgrep`, `--invert`, an `.only`) part of the file is left
 * out, what those tests would have exercised is missing, and the assertion would fail for a
 * reason that has nothing to do with the code. `skipUnlessWholeFileRuns` skips it then, saying so.
 *
 * mocha calls the root-hook plugin's global setup (mocha-hooks.ts) with its runner, after the
 * files are loaded and the grep is applied, before `.only` prunes the tree: `recordRunScope`
 * counts, per file, the tests there are and the tests the run selected. Kept on `globalThis` for
 * the same reason as the coverage store (coverage.ts).
 */
import type { Context, Runner, Suite } from 'mocha';

interface FileSelection {
  total: number;
  selected: number;
}

export interface RunScope {
  /** A `.only` somewhere: mocha runs only those tests, whatever the counts say. */
  only: boolean;
  files: Map<string, FileSelection>;
}

const SCOPE_KEY = Symbol.for('payspec.contract-testing.run-scope');
type GlobalWithScope = typeof globalThis & { [SCOPE_KEY]?: RunScope };

/** Called with mocha's runner before any test runs (mocha-hooks.ts `mochaGlobalSetup`). */
export function recordRunScope(runner: Runner): void {
  (globalThis as GlobalWithScope)[SCOPE_KEY] = runScopeOf(runner);
}

/** Per file, how many tests there are and how many the runner's grep selects. */
export function runScopeOf(runner: Runner): RunScope {
  const files = new Map<string, FileSelection>();
  const add = (file: string | undefined, total: number, selected: number) => {
    if (file === undefined) return;
    const entry = files.get(file) ?? { total: 0, selected: 0 };
    files.set(file, { total: entry.total + total, selected: entry.selected + selected });
  };
  // Every suite below the root belongs to the file of its top-level describe.
  for (const suite of runner.suite.suites) add(suite.file, suite.total(), runner.grepTotal(suite));
  // Tests outside any describe: grepTotal only walks `eachTest`, so one test at a time.
  for (const test of runner.suite.tests) {
    const one = { eachTest: (fn: (t: typeof test) => void) => fn(test) } as unknown as Suite;
    add(test.file, 1, runner.grepTotal(one));
  }
  return { only: (runner.suite as Suite & { hasOnly(): boolean }).hasOnly(), files };
}

/**
 * Why not every test of `file` runs in this run, or undefined when they all do (or when nothing
 * was recorded: a run without the root-hook plugin checks everything, as before).
 */
export function partialRunReason(file: string, scope = (globalThis as GlobalWithScope)[SCOPE_KEY]): string | undefined {
  if (!scope) return undefined;
  if (scope.only) return 'a .only selects the tests of this run';
  const selection = scope.files.get(file);
  if (!selection || selection.selected === selection.total) return undefined;
  return `only ${selection.selected} of the ${selection.total} tests of this file run (--grep/--fgrep/--invert)`;
}

/**
 * Skips the current test (shown as pending, with the reason printed) unless every test of its
 * file runs in this mocha run. For assertions on the coverage record, which the whole file
 * builds. Call first in the test: `skipUnlessWholeFileRuns(this)` (a `function () {}` test).
 */
export function skipUnlessWholeFileRuns(ctx: Context): void {
  const file = ctx.test?.file;
  const reason = file === undefined ? undefined : partialRunReason(file);
  if (reason === undefined) return;
  console.log(`      skipped: "${ctx.test!.title}" asserts on what the whole file exercised, but ${reason}`);
  ctx.skip();
}
