// Direct debits for billing operations on MongoDB, correct on FerretDB too (a unique `_id` is the
// only atomic guard; every hot read and write is a filter of `_id` alone — docs/architecture.md).
//
//   direct_debits            `_id` op_… (the billing operation's id, also the bank's reference):
//                            the debit, its status history inside, the mandate with its IBAN
//                            still sealed (opened only in memory for a bank call, never stored
//                            clear); inserted once, so a redelivered request finds it and never
//                            reaches the bank a second time
//   direct_debit_settlements `_id` op_… — who settled a pending debit first (the request's
//                            handler or the reconciler) and to what: inserted once, so a debit
//                            settles once, to that outcome
//
// A debit owes `payment.authorized` or `payment.declined`: its outbox marker is written before
// the debit and waits while it is pending — the reconciler reads those markers as its pending work.
import type { Collection, Db } from 'mongodb';
import { insertOrGet } from '../../common/data/insert-or-get.js';
import type { PendingWork } from '../../common/data/pending-set.js';
import type { Outbox, OutboxSource } from '../../common/events/outbox.js';
import type { IndexPlan } from '../../common/mongo.js';
import type { DirectDebitDecision, DirectDebitStatus } from './direct-debits-domain.js';

/** The outbox source of a debit's final event. */
export const DIRECT_DEBIT_SETTLED = 'direct-debit.settled';

export interface DirectDebitStatusChange {
  status: DirectDebitStatus;
  at: string;
  reason?: string;
}

export interface StoredDirectDebit {
  _id: string; // op_…
  contractId: string;
  amount: number;
  currency: string;
  description?: string;
  mandate: { reference: string; ibanSealed: string; signedOn: string; expiresOn?: string };
  /** The bank chosen when the request arrived (DIRECT_DEBIT_BANK): a pending debit stays with it. */
  bank: string;
  status: DirectDebitStatus;
  reason?: string;
  bankReference?: string;
  requestedAt: string;
  createdAt: string;
  updatedAt: string;
  statusHistory: DirectDebitStatusChange[];
  /** The billing.payment-requested event that asked for it: the answer's causation. */
  requestEventId: string;
  correlationId: string;
}

export type DirectDebitSettlement = DirectDebitDecision & { at: string };

interface SettlementClaim {
  _id: string;
  decision: DirectDebitDecision;
  at: string;
  by: string;
}

export const directDebitIndexes: IndexPlan = {
  // Read by `_id` on the event's path; for MongoDB in production, what reports filter on:
  direct_debits: [{ key: { contractId: 1, createdAt: -1 }, name: 'by_contract' }],
};

export class DirectDebitsRepository {
  private readonly debits: Collection<StoredDirectDebit>;
  private readonly settlements: Collection<SettlementClaim>;

  constructor(
    db: Db,
    private readonly outbox: Outbox,
  ) {
    this.debits = db.collection('direct_debits');
    this.settlements = db.collection('direct_debit_settlements');
  }

  /** Debits whose final event is still owed: the pending ones (and, briefly, those being announced). */
  pendingDebits(): PendingWork {
    return this.outbox.pendingWork(DIRECT_DEBIT_SETTLED);
  }

  outboxSources(): Record<string, OutboxSource> {
    return {
      [DIRECT_DEBIT_SETTLED]: async (operationId) => {
        const debit = await this.get(operationId);
        if (!debit) return 'missing';
        if (debit.status === 'pending') return 'wait';
        const at = debit.statusHistory[debit.statusHistory.length - 1]!.at;
        const data = {
          operationId,
          contractId: debit.contractId,
          amount: debit.amount,
          currency: debit.currency,
          ...(debit.bankReference !== undefined ? { bankReference: debit.bankReference } : {}),
          ...(debit.reason !== undefined ? { reason: debit.reason } : {}),
          at,
        };
        const meta = { id: `${operationId}:${debit.status}`, correlationId: debit.correlationId, causationId: debit.requestEventId, time: at };
        return debit.status === 'authorized' ? { type: 'payment.authorized' as const, data, meta } : { type: 'payment.declined' as const, data, meta };
      },
    };
  }

  /**
   * Stores a new debit as pending, owed to the outbox first; `created: false` with the stored one
   * when the operation was seen before (a redelivery, or the same operation under another event).
   */
  async insertPending(debit: StoredDirectDebit): Promise<{ created: boolean; debit: StoredDirectDebit }> {
    const existing = await this.get(debit._id);
    if (existing) return { created: false, debit: existing };
    await this.outbox.add(DIRECT_DEBIT_SETTLED, debit._id);
    const result = await insertOrGet(this.debits, debit);
    return { created: result.inserted, debit: result.doc };
  }

  async get(operationId: string): Promise<StoredDirectDebit | undefined> {
    return (await this.debits.findOne({ _id: operationId })) ?? undefined;
  }

  /**
   * Settles a pending debit: the first settler's claim (a unique insert, holding its decision)
   * decides and every later settler applies that same decision — the same write, so applying it
   * twice changes nothing, and a settler that died between its claim and its write is finished
   * by the next. Returns the debit as it stands.
   */
  async settle(operationId: string, settlement: DirectDebitSettlement, by: string): Promise<StoredDirectDebit | undefined> {
    const debit = await this.get(operationId);
    if (!debit || debit.status !== 'pending') return debit;
    const { at, ...decision } = settlement;
    const claim = await insertOrGet(this.settlements, { _id: operationId, decision, at, by });
    const current = claim.inserted ? debit : ((await this.get(operationId)) ?? debit);
    if (current.status !== 'pending') return current;
    return this.apply(current, claim.doc.decision, claim.doc.at);
  }

  private async apply(debit: StoredDirectDebit, decision: DirectDebitDecision, at: string): Promise<StoredDirectDebit> {
    const reason = decision.status === 'declined' ? decision.reason : undefined;
    const settled: StoredDirectDebit = {
      ...debit,
      status: decision.status,
      ...(reason !== undefined ? { reason } : {}),
      ...(decision.status === 'authorized' ? { bankReference: decision.bankReference } : {}),
      updatedAt: at,
      statusHistory: [...debit.statusHistory, { status: decision.status, at, ...(reason !== undefined ? { reason } : {}) }],
    };
    await this.debits.replaceOne({ _id: debit._id }, settled);
    return settled;
  }
}
