// The billing run of a period: one invoice per contract with authorized operations there, in one
// pass over the period's operations sorted by contract (FerretDB answers any filter other than
// `_id` with a full scan, so a query per contract would cost a scan each: measured in
// docs/benchmarks.md). Only one contract's operations are in memory at a time; the cursor fetches
// bounded batches.
//
// Resumable: the run is listed as pending before it starts and unlisted when it completes; the
// reconciler (main.ts) resumes a run whose heartbeat is older than RECONCILE_AFTER_MS (its
// process died). A resumed pass starts over: an invoice's id derives from its contract and
// period, so one issued before the crash is found, not issued again, and counted once.
import type { Logger } from 'pino';
import { type InvoiceableOperation, invoiceFigures, runIdOf } from './billing-domain.js';
import { type BillingRepository, type StoredRun, invoiceIdOf } from './billing-repository.js';

export interface BillingRunnerOptions {
  repository: BillingRepository;
  log: Logger;
  clock: () => Date;
  /** Called after an invoice was issued, so its event goes out now. */
  announce: () => void;
  /** A run whose heartbeat is younger belongs to a live process. */
  staleAfterMs: number;
  /** Operations per cursor batch. */
  batchSize?: number;
  /** Contracts invoiced at once. */
  concurrency?: number;
  /** Contracts between two progress writes. */
  progressEvery?: number;
  /** Called after each invoice the pass goes through (tests and crash drills hook here). */
  onInvoice?: (count: number) => void | Promise<void>;
}

export class BillingRunner {
  private readonly active = new Map<string, Promise<void>>();
  private stopping = false;

  constructor(private readonly options: BillingRunnerOptions) {}

  /** Starts the period's run unless it exists: `created` tells which; the run goes on in the background. */
  async start(period: string, trigger: StoredRun['trigger']): Promise<{ created: boolean; run: StoredRun }> {
    const at = this.options.clock().toISOString();
    const result = await this.options.repository.createRun({
      _id: runIdOf(period),
      period,
      status: 'running',
      trigger,
      startedAt: at,
      contractsSeen: 0,
      invoicesIssued: 0,
      operationsInvoiced: 0,
      heartbeatAt: at,
    });
    if (result.created) this.launch(result.run._id);
    return result;
  }

  /** For the reconciler: resumes a pending run unless it is going on here or in a live process. */
  async resume(runId: string): Promise<void> {
    if (this.active.has(runId)) return;
    const run = await this.options.repository.run(runId);
    if (!run) return; // listed but never created (a crash between the two): nothing to do
    if (run.status === 'completed') return void (await this.options.repository.saveRun(run));
    if (this.options.clock().getTime() - Date.parse(run.heartbeatAt) < this.options.staleAfterMs) return;
    this.options.log.info({ runId }, 'resuming a billing run left unfinished');
    await this.launch(runId);
  }

  /** Runs `runId` in this process (once at a time); resolves when the pass ends. */
  launch(runId: string): Promise<void> {
    const running = this.active.get(runId);
    if (running) return running;
    const pass = this.execute(runId)
      .catch((err: unknown) => this.options.log.error({ err, runId }, 'billing run failed; the reconciler resumes it'))
      .finally(() => this.active.delete(runId));
    this.active.set(runId, pass);
    return pass;
  }

  /** Stops between contracts (shutdown): an unfinished run stays pending and is resumed later. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.active.values()]);
  }

  private async execute(runId: string): Promise<void> {
    const { repository, log, clock } = this.options;
    const stored = await repository.run(runId);
    if (!stored || stored.status === 'completed') return;
    const run: StoredRun = { ...stored, contractsSeen: 0, invoicesIssued: 0, operationsInvoiced: 0 };
    const started = Date.now();
    const progressEvery = this.options.progressEvery ?? 50;
    let current: { contractId: string; operations: InvoiceableOperation[] } | undefined;

    const flush = async () => {
      if (!current) return;
      const { contractId, operations } = current;
      current = undefined;
      run.contractsSeen++;
      const figures = invoiceFigures(operations);
      if (figures) {
        const invoiceId = invoiceIdOf(contractId, run.period);
        const held = await repository.contract(contractId);
        if (!held) throw new Error(`operations of contract ${contractId} but no contract in the read model`);
        const { customer } = held.contract;
        const { invoice } = await repository.issueInvoice({
          _id: invoiceId,
          contractId,
          period: run.period,
          runId,
          customer: { id: customer.id, name: customer.name, billingEmail: customer.billingEmail },
          currency: held.contract.currency,
          ...figures,
          status: 'issued',
          issuedAt: clock().toISOString(),
        });
        this.options.announce();
        run.invoicesIssued++;
        // A resumed pass finds what it issued before the crash: counted as it was issued.
        run.operationsInvoiced += invoice.operationIds.length;
        await this.options.onInvoice?.(run.invoicesIssued);
      }
      if (run.contractsSeen % progressEvery === 0) {
        run.heartbeatAt = clock().toISOString();
        await repository.saveRun(run);
      }
    };

    // A few contracts are invoiced at once (each is a handful of round trips): the pass waits for
    // the database less, and memory holds at most that many contracts' operations.
    const concurrency = this.options.concurrency ?? 4;
    const inFlight = new Set<Promise<void>>();
    let failure: { err: unknown } | undefined;
    const dispatch = async () => {
      const flushing = flush().catch((err: unknown) => void (failure ??= { err }));
      inFlight.add(flushing);
      void flushing.finally(() => inFlight.delete(flushing));
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
      if (failure) throw failure.err;
    };
    const cursor = repository.periodOperations(run.period, this.options.batchSize ?? 1_000);
    try {
      for await (const op of cursor) {
        if (current && current.contractId !== op.contractId) {
          await dispatch();
          if (this.stopping) return;
        }
        current ??= { contractId: op.contractId, operations: [] };
        current.operations.push({ id: op._id, type: op.type, status: op.status, amount: op.amount, orders: op.orders });
      }
      await dispatch();
    } finally {
      await Promise.all(inFlight);
      await cursor.close();
    }
    if (failure) throw failure.err;
    const at = clock().toISOString();
    await repository.saveRun({ ...run, status: 'completed', completedAt: at, heartbeatAt: at });
    log.info({ runId, contracts: run.contractsSeen, invoices: run.invoicesIssued, operations: run.operationsInvoiced, ms: Date.now() - started }, 'billing run completed');
  }
}
