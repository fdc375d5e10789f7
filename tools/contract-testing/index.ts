/**
 * Contract-testing support shared by every API's integration tests: response validation
 * against the OpenAPI spec, an openapi-fetch middleware applying it, spec-derived negative
 * requests, and a coverage report (print it with the `mocha-hooks.ts` root-hook plugin; assert on it
 * with `skipUnlessWholeFileRuns` first).
 */
export { createResponseValidator } from './response-validator.js';
export type { ResponseValidationInput, ResponseValidator } from './response-validator.js';

export {
  formatCoverageReport,
  getCoverageSummary,
  hasCoverageData,
  recordExercised,
  registerSpec,
  resetCoverage,
  forgetApi,
} from './coverage.js';
export type { ApiCoverage, CoverageSummary, OperationCoverage } from './coverage.js';
export { partialRunReason, skipUnlessWholeFileRuns } from './run-scope.js';

export { ContractViolationError, createContractCheckingMiddleware } from './client-middleware.js';
export type { ContractCheckingOptions } from './client-middleware.js';

export { deriveInvalidRequests, runInvalidRequests } from './negative-requests.js';
export type {
  InvalidRequestCase,
  InvalidRequestKind,
  RunInvalidRequestsOptions,
  RunInvalidRequestsResult,
  ValidRequest,
} from './negative-requests.js';

export type { OpenApiSpec } from './spec-utils.js';
