// Failure injection, configured per bank: BANK_LATENCY_MS delays every answer of the API;
// BANK_FAILURE_RATE of the requests (0: none, 1: all — deterministic at both ends) get the
// BANK_FAILURE_MODE instead of being served: `unavailable` answers 503 problem+json, `garbage`
// a 200 whose body is not JSON (served as application/json). Either way the request is not
// processed: nothing is charged. It sits in front of the generated router, whose answers are
// typed by the spec and could never be garbage.
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { writeProblem } from '../../common/http/errors.js';
import { problem } from '../../common/http/problem.js';
import type { FailureMode } from './bank-config.js';

export interface FaultInjectionOptions {
  bank: string;
  latencyMs: number;
  failureRate: number;
  failureMode: FailureMode;
  log: Logger;
  /** Uniform in [0, 1) (tests pass their own). */
  random?: () => number;
}

/** What the `garbage` mode answers: an HTML error page where JSON was promised. */
export const GARBAGE_BODY = '<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>upstream reset</p></body></html>\n';

export function faultInjection({ bank, latencyMs, failureRate, failureMode, log, random = Math.random }: FaultInjectionOptions): RequestHandler {
  return (req, res, next) => {
    const answer = () => {
      if (!(failureRate > 0 && random() < failureRate)) return next();
      log.info({ bank, method: req.method, path: req.path, mode: failureMode }, 'injected failure');
      if (failureMode === 'garbage') {
        res.status(200).type('application/json').send(GARBAGE_BODY);
        return;
      }
      writeProblem(req, res, problem(503, 'bank-unavailable', `The bank ${bank} is unavailable (injected failure); try again later.`), log, { 'retry-after': '1' });
    };
    if (latencyMs > 0) setTimeout(answer, latencyMs);
    else answer();
  };
}
