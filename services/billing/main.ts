// The billing service: serves specs/billing.yaml through the delegates of its three tags
// (operations, billing-runs, invoices), keeps its read model of the contracts from contract.*
// events, records payment answers and sent invoices, and runs the monthly billing.
import { fileURLToPath } from 'node:url';
import { Cron } from 'croner';
import spec from '../../generated/billing/spec.json' with { type: 'json' };
import { createBillingRouter } from '../../generated/billing/router.js';
import { type ServiceDefinition, runMain } from '../common/bootstrap.js';
import { loadBillingConfig } from './billing-config.js';
import { periodOf, previousPeriod } from './billing-domain.js';
import { subscribeBillingHandlers } from './billing-events.js';
import { BillingRepository, billingIndexes } from './billing-repository.js';
import { BillingRunner } from './billing-run.js';
import { createBillingRunsDelegate } from './billing-runs-delegate.js';
import { createInvoicesDelegate } from './invoices-delegate.js';
import { createOperationsDelegate } from './operations-delegate.js';

export const billingService: ServiceDefinition = {
  name: 'billing',
  defaultPort: 8082,
  spec,
  indexes: billingIndexes,
  createApi({ env, db, log, config, routerOptions, bus, outbox, idempotency, announce, reconcile, onShutdown, clock }) {
    const settings = loadBillingConfig(env);
    // Purchases owe billing.payment-requested, invoices billing.invoice-issued: markers first,
    // events built from what was stored.
    const repository = new BillingRepository(db, outbox);
    outbox.register(repository.outboxSources());
    subscribeBillingHandlers(bus, { repository, clock });

    // A run goes on in the background; one whose process died is resumed by whichever instance
    // leases it once its heartbeat is older than RECONCILE_AFTER_MS.
    const runner = new BillingRunner({
      repository,
      log: log.child({ component: 'billing-run' }),
      clock,
      announce,
      staleAfterMs: config.RECONCILE_AFTER_MS,
      batchSize: settings.BILLING_RUN_BATCH_SIZE,
    });
    reconcile({ name: 'billing-runs', pending: repository.runsPending, settle: (runId) => runner.resume(runId) });
    // An operation whose request died between its ledger movement and its own record is stored
    // (or, when nothing was posted, dropped) once it is older than any live request.
    reconcile({
      name: 'operation-acceptances',
      pending: repository.acceptancesPending,
      settle: async (operationId) => {
        const outcome = await repository.finishAcceptance(operationId);
        if (outcome === 'stored') announce();
        if (outcome !== 'none') log.warn({ operationId, outcome }, 'interrupted operation acceptance finished');
      },
    });
    onShutdown(() => runner.stop());

    if (settings.BILLING_SCHEDULE !== 'off') {
      // Every instance fires; the run's natural id makes the period's run start once.
      const cron = new Cron(settings.BILLING_SCHEDULE, { timezone: 'UTC', catch: (err) => log.error({ err }, 'scheduled billing run failed to start') }, async () => {
        const period = previousPeriod(periodOf(clock()));
        const { created } = await runner.start(period, 'schedule');
        log.info({ period, created }, created ? 'scheduled billing run started' : 'scheduled billing run already exists');
      });
      log.info({ schedule: settings.BILLING_SCHEDULE, next: cron.nextRun()?.toISOString() }, 'billing runs scheduled');
      onShutdown(async () => cron.stop());
    }

    return createBillingRouter(
      {
        ...createOperationsDelegate({ repository, commands: idempotency, onChange: announce, clock }),
        ...createBillingRunsDelegate({ repository, runner, clock }),
        ...createInvoicesDelegate({ repository }),
      },
      routerOptions,
    );
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(billingService);
