/**
 * Mocha root-hook plugin, loaded via `.mocharc` `require`: records which tests the run selected
 * (run-scope.ts: coverage assertions are skipped when part of their file is filtered out), and
 * prints the contract coverage report once, after the whole run.
 */
import type { Runner } from 'mocha';
import { formatCoverageReport, hasCoverageData } from './coverage.js';
import { recordRunScope } from './run-scope.js';
import { stopPlatform } from '../testing/platform.js';

/** mocha calls global setup fixtures with its runner as `this`. */
export function mochaGlobalSetup(this: Runner): void {
  recordRunScope(this);
}

export const mochaHooks = {
  async afterAll(): Promise<void> {
    if (hasCoverageData()) console.log(formatCoverageReport());
    // The whole platform, when a test file started it (tools/testing/platform.ts).
    await stopPlatform();
  },
};
