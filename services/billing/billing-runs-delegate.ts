// The Billing API's `billing-runs` tag: operators start a period's run (once per period) and
// follow its progress; the run itself is billing-run.ts.
import type { BillingRunsDelegate, Schemas } from '../../generated/billing/delegate.js';
import { problem } from '../common/http/problem.js';
import { periodOf } from './billing-domain.js';
import type { BillingRepository, StoredRun } from './billing-repository.js';
import type { BillingRunner } from './billing-run.js';

export interface BillingRunsDelegateDeps {
  repository: BillingRepository;
  runner: BillingRunner;
  clock?: () => Date;
}

export function toApiRun(run: StoredRun): Schemas['BillingRun'] {
  return {
    id: run._id,
    period: run.period,
    status: run.status,
    trigger: run.trigger,
    startedAt: run.startedAt,
    ...(run.completedAt !== undefined ? { completedAt: run.completedAt } : {}),
    contractsSeen: run.contractsSeen,
    invoicesIssued: run.invoicesIssued,
    operationsInvoiced: run.operationsInvoiced,
  };
}

export function createBillingRunsDelegate({ repository, runner, clock = () => new Date() }: BillingRunsDelegateDeps): BillingRunsDelegate {
  return {
    async startBillingRun({ body }, ctx) {
      if (body.period > periodOf(clock())) {
        return {
          status: 422,
          body: problem(422, 'period-not-started', `${body.period} has not started yet.`, { errors: [{ pointer: '/body/period', message: 'is in the future' }] }),
        };
      }
      const { created, run } = await runner.start(body.period, 'operator');
      ctx.log.info({ runId: run._id, created }, created ? 'billing run started' : 'billing run already exists');
      if (created) return { status: 202, headers: { location: `/billing-runs/${run._id}` }, body: toApiRun(run) };
      return { status: 200, body: toApiRun(run) };
    },

    async getBillingRun({ path }) {
      const run = await repository.run(path.runId);
      if (!run) return { status: 404, body: problem(404, 'billing-run-not-found', `No billing run ${path.runId}.`) };
      return { status: 200, body: toApiRun(run) };
    },
  };
}
