/**
 * Mocha root-hook plugin: load it via `.mocharc` `require` to print the contract coverage
 * report once, after the whole run.
 */
import { formatCoverageReport, hasCoverageData } from './coverage.js';

export const mochaHooks = {
  afterAll(): void {
    if (hasCoverageData()) console.log(formatCoverageReport());
  },
};
