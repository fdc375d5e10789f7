// Billing's event handlers (subscribed in main.ts; each runs once per event id through the
// leased inbox, and is idempotent anyway — a crash between its effect and the inbox record runs
// it again):
//   contract.*          the read model takes the version if newer, and the contract's ledger
//                       records it (from then on no purchase decided on an older version is
//                       appended: see billing-repository.ts)
//   payment.authorized  a pending purchase becomes authorized (invoiceable)
//   payment.declined    it becomes declined with the bank's reason, and leaves the outstanding
//   mail.invoice-sent   the invoice is sent, its operations invoiced, the ledger credited by its net
import type { Logger } from 'pino';
import type { EventPayloads } from '../../generated/events/types.js';
import type { EventBus } from '../common/events/event-bus.js';
import type { BillingRepository, StoredOperation } from './billing-repository.js';

export const CONTRACT_EVENTS = [
  'contract.subscribed',
  'contract.suspended',
  'contract.reactivated',
  'contract.cancelled',
  'contract.mandate-changed',
  'contract.credit-limit-changed',
] as const;

/** Operations marked invoiced at once when an invoice is sent. */
const MARK_CONCURRENCY = 20;

export interface BillingHandlerDeps {
  repository: BillingRepository;
  clock: () => Date;
  /** Told when a contract event was handled, with when it was published (the read model's lag). */
  onContractApplied?: (info: { contractId: string; version: number; type: string; publishedAt: string; handledAt: Date }) => void;
}

export function subscribeBillingHandlers(bus: EventBus, { repository, clock, onContractApplied }: BillingHandlerDeps): void {
  for (const type of CONTRACT_EVENTS) {
    bus.subscribe(type, async (event, ctx) => {
      const data = event.data;
      const now = clock();
      const { applied, held } = await repository.applyContractEvent(data, type, now.toISOString());
      // On the ledger too (a newer version there already refuses this one: nothing to do).
      await repository.post(
        data.contractId,
        { kind: 'contract', ref: `v${data.version}`, amount: 0, contractVersion: data.version, at: now.toISOString() },
        (previous) => ((previous?.contractVersion ?? 0) >= data.version ? 'older' : undefined),
        { once: false },
      );
      const handledAt = new Date();
      ctx.log.info({ contractId: data.contractId, version: data.version, held, applied, status: data.contract.status, lagMs: handledAt.getTime() - Date.parse(event.time) }, 'contract event handled');
      onContractApplied?.({ contractId: data.contractId, version: data.version, type, publishedAt: event.time, handledAt });
    });
  }

  const answer = async (data: EventPayloads['payment.authorized'], outcome: 'authorized' | 'declined', log: Logger) => {
    const op = await repository.operation(data.operationId);
    if (!op || op.type !== 'purchase' || op.contractId !== data.contractId) {
      log.warn({ operationId: data.operationId }, `payment ${outcome} for an operation billing does not know; ignored`);
      return;
    }
    if (op.status !== 'pending-authorization' && op.status !== outcome) {
      log.warn({ operationId: op._id, status: op.status }, `payment ${outcome} for an operation already ${op.status}; ignored`);
      return;
    }
    const at = clock().toISOString();
    // A declined purchase leaves the outstanding (once: the ledger finds a movement posted before).
    if (outcome === 'declined') await repository.post(op.contractId, { kind: 'decline', ref: op._id, amount: -op.amount, at });
    if (op.status === outcome) return; // a retry after the state was written
    // An authorized purchase is billed in its period unless that period's run has started (the
    // bank answered late): then on the next invoice. A declined one stays in its own period.
    const period = outcome === 'authorized' ? await repository.invoicePeriodFrom(op.period) : op.period;
    const next: StoredOperation = {
      ...op,
      status: outcome,
      period,
      ...(outcome === 'declined' ? { declineReason: data.reason ?? 'declined' } : {}),
      ...(data.bankReference !== undefined ? { bankReference: data.bankReference } : {}),
      updatedAt: at,
      statusHistory: [
        ...op.statusHistory,
        {
          status: outcome,
          at: data.at,
          ...(outcome === 'declined' ? { reason: data.reason ?? 'declined' } : period !== op.period ? { reason: `billed in ${period}: the ${op.period} billing run had started` } : {}),
        },
      ],
    };
    await repository.updateOperation(next);
    log.info({ operationId: op._id, outcome }, 'payment answer recorded');
  };
  bus.subscribe('payment.authorized', (event, ctx) => answer(event.data, 'authorized', ctx.log));
  bus.subscribe('payment.declined', (event, ctx) => answer(event.data, 'declined', ctx.log));

  bus.subscribe('mail.invoice-sent', async (event, ctx) => {
    const data = event.data;
    const invoice = await repository.invoice(data.invoiceId);
    if (!invoice || invoice.contractId !== data.contractId) {
      ctx.log.warn({ invoiceId: data.invoiceId }, 'invoice sent that billing does not know; ignored');
      return;
    }
    const at = clock().toISOString();
    // Credited once per invoice, whatever the redeliveries (the ledger finds its movement).
    await repository.post(invoice.contractId, { kind: 'invoice', ref: invoice._id, amount: -invoice.net, at });
    for (let i = 0; i < invoice.operationIds.length; i += MARK_CONCURRENCY) {
      await Promise.all(
        invoice.operationIds.slice(i, i + MARK_CONCURRENCY).map(async (id) => {
          const op = await repository.operation(id);
          if (!op || op.status === 'invoiced') return;
          await repository.updateOperation({ ...op, status: 'invoiced', invoiceId: invoice._id, updatedAt: at, statusHistory: [...op.statusHistory, { status: 'invoiced', at: data.sentAt }] });
        }),
      );
    }
    if (invoice.status !== 'sent') await repository.markInvoiceSent(invoice, data.sentAt, data.to);
    ctx.log.info({ invoiceId: invoice._id, operations: invoice.operationIds.length, net: invoice.net }, 'invoice sent: operations invoiced');
  });
}
