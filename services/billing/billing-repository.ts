// Billing's storage on MongoDB, correct on FerretDB too (no transactions; a unique `_id` is the
// only atomic guard; every hot read and write is a filter of `_id` alone — docs/architecture.md).
//
//   contract_versions `<contract>:<version>`   each contract event's snapshot as received (insert once)
//   contracts         `<contract>`             the read model: the highest version received, raised
//                                              only (a lower version never overwrites a higher one)
//   ledger            `<contract>:<seq>`       a SequencedLog per contract: every movement of the
//                                              outstanding amount (+purchase, −refund, −declined
//                                              purchase, −invoice net when sent) and every contract
//                                              version, each entry carrying `outstandingAfter` and
//                                              the highest `contractVersion` seen. A purchase is
//                                              decided on the authoritative head: within the credit
//                                              limit, and against a contract version no older than
//                                              the ledger's — so once a suspension is on the
//                                              ledger, no purchase can be appended after it.
//   ledger_claims     `<ref>:<kind>`           the seq a movement was first claimed at, so a retried
//                                              movement (a crash, a concurrent retry of one key, a
//                                              redelivered event) is found instead of posted twice
//   operations        `op_…`                   each accepted operation, its status history inside
//   operations_accepting `op_…`                an operation being accepted: its draft, written
//                                              before its ledger movement and removed once it is
//                                              stored (or refused). What a crash leaves between
//                                              the two is finished by the reconciler: stored when
//                                              its movement is on the ledger (a refund also when its
//                                              amount is reserved), dropped when nothing was posted
//   purchase_refunds  `<purchase>:<seq>`       a SequencedLog per purchase: refunds reserve their
//                                              amount on its authoritative head (never beyond it)
//   invoices          `inv_…`                  one per contract and period (the id derives from both)
//   billing_runs      `run_YYYY-MM`            one per period; billing_runs_pending: runs under way
//
// Events owed go through the outbox: `billing.payment-requested` (marker per purchase, written
// before the operation) and `billing.invoice-issued` (marker per invoice, before the invoice).
import type { Collection, Db, Filter } from 'mongodb';
import type { EventPayloads } from '../../generated/events/types.js';
import type { Schemas } from '../../generated/billing/delegate.js';
import { insertOnce, insertOrGet } from '../common/data/insert-or-get.js';
import { PendingSet } from '../common/data/pending-set.js';
import { type LogEntry, SequencedLog, logKey } from '../common/data/sequenced-log.js';
import type { Outbox, OutboxSource } from '../common/events/outbox.js';
import { idForIdempotencyKey } from '../common/ids.js';
import { type IndexPlan, isDuplicateKey } from '../common/mongo.js';
import { type ContractSnapshot, type InvoiceFigures, type OperationStatus, type OperationType, nextPeriod, runIdOf } from './billing-domain.js';

type ContractChanged = EventPayloads['contract.subscribed'];

export interface ContractVersion {
  _id: string;
  contractId: string;
  version: number;
  /** The event type that brought it (contract.suspended, …). */
  change: string;
  contract: ContractSnapshot;
  /** The mandate's IBAN sealed for the payment gateway: passed on, never opened here. */
  mandateIbanSealed: string;
  receivedAt: string;
}

export interface HeldContract {
  _id: string;
  version: number;
  contract: ContractSnapshot;
  mandateIbanSealed: string;
  updatedAt: string;
}

export type LedgerKind = 'contract' | 'purchase' | 'refund' | 'decline' | 'invoice';

export interface LedgerEntry extends LogEntry {
  kind: LedgerKind;
  /** The operation, invoice or contract version (`v<version>`) the movement is for. */
  ref: string;
  /** Signed change of the outstanding amount (0 for a contract version). */
  amount: number;
  outstandingAfter: number;
  /** The highest contract version seen on this ledger so far. */
  contractVersion: number;
  at: string;
}

export interface StatusChange {
  status: OperationStatus;
  at: string;
  reason?: string;
}

export interface StoredOperation {
  _id: string;
  contractId: string;
  type: OperationType;
  status: OperationStatus;
  declineReason?: string;
  bankReference?: string;
  currency: string;
  amount: number;
  orders: Schemas['Order'][];
  refundOf?: string;
  description?: string;
  period: string;
  invoiceId?: string;
  /** For a purchase: the mandate as the contract held it at acceptance (what the payment request carries). */
  mandate?: { reference: string; ibanSealed: string; signedOn: string; expiresOn?: string };
  /** Its movement on the contract's ledger. */
  ledgerSeq: number;
  createdAt: string;
  updatedAt: string;
  statusHistory: StatusChange[];
  requestId?: string;
  correlationId?: string;
}

/** An operation being accepted: what the request will store once its ledger movement is posted. */
export interface AcceptanceDraft {
  _id: string;
  at: Date;
  /** The operation as it will be stored, but for its ledger seq (known once posted). */
  operation: Omit<StoredOperation, 'ledgerSeq'>;
  /** Its ledger movement, to post a reserved refund's when finishing it. */
  movement: { kind: 'purchase' | 'refund'; amount: number; contractVersion: number };
}

interface PurchaseRefundEntry extends LogEntry {
  refundId: string;
  amount: number;
  refundedAfter: number;
  at: string;
}

/** An invoice: the figures a run worked out (lines, totals, its operations) and where it stands. */
export interface StoredInvoice extends InvoiceFigures {
  _id: string;
  contractId: string;
  period: string;
  runId: string;
  customer: { id: string; name: string; billingEmail: string };
  currency: string;
  status: 'issued' | 'sent';
  issuedAt: string;
  sentAt?: string;
  sentTo?: string;
}

export interface StoredRun {
  _id: string;
  period: string;
  status: 'running' | 'completed';
  trigger: 'operator' | 'schedule';
  startedAt: string;
  completedAt?: string;
  contractsSeen: number;
  invoicesIssued: number;
  operationsInvoiced: number;
  /** Written as the run goes: a run whose heartbeat is old was left by a process that died. */
  heartbeatAt: string;
}

export const billingIndexes: IndexPlan = {
  // Reads on hot paths are by `_id`. For MongoDB in production: the billing run's one pass over
  // a period's operations, grouped by contract, and the invoice lists.
  operations: [{ key: { period: 1, contractId: 1, _id: 1 }, name: 'by_period_contract' }],
  invoices: [
    { key: { contractId: 1, period: -1, _id: -1 }, name: 'by_contract_newest' },
    { key: { period: -1, _id: -1 }, name: 'newest' },
  ],
};

/** One invoice per contract and period: its id derives from both, so issuing it twice collides. */
export const invoiceIdOf = (contractId: string, period: string) => idForIdempotencyKey('inv', 'billing-invoice', `${contractId}\u0000${period}`);

/** Attempts at raising the read model's copy before giving up (only concurrent handlers race on it). */
const MAX_RAISES = 10;

export type PostResult = { posted: true; entry: LedgerEntry; again: boolean } | { posted: false; refusal: string; head: LedgerEntry | undefined };

export class BillingRepository {
  readonly versions: Collection<ContractVersion>;
  readonly contracts: Collection<HeldContract>;
  readonly ledger: SequencedLog<LedgerEntry>;
  private readonly ledgerClaims: Collection<{ _id: string; seq: number }>;
  readonly operations: Collection<StoredOperation>;
  private readonly refunds: SequencedLog<PurchaseRefundEntry>;
  private readonly refundClaims: Collection<{ _id: string; seq: number }>;
  readonly invoices: Collection<StoredInvoice>;
  readonly runs: Collection<StoredRun>;
  readonly runsPending: PendingSet;
  private readonly drafts: Collection<AcceptanceDraft>;
  /** Operations being accepted (their drafts): the reconciler's work after a crash. */
  readonly acceptancesPending: PendingSet;

  constructor(
    db: Db,
    private readonly outbox: Outbox,
  ) {
    this.versions = db.collection('contract_versions');
    this.contracts = db.collection('contracts');
    this.ledger = new SequencedLog<LedgerEntry>(db, 'ledger');
    this.ledgerClaims = db.collection('ledger_claims');
    this.operations = db.collection('operations');
    this.refunds = new SequencedLog<PurchaseRefundEntry>(db, 'purchase_refunds');
    this.refundClaims = db.collection('purchase_refund_claims');
    this.invoices = db.collection('invoices');
    this.runs = db.collection('billing_runs');
    this.runsPending = new PendingSet(db, 'billing_runs_pending');
    this.drafts = db.collection('operations_accepting');
    this.acceptancesPending = new PendingSet(db, 'operations_accepting');
  }

  outboxSources(): Record<string, OutboxSource> {
    return {
      'billing.payment-requested': async (operationId) => {
        const op = await this.operation(operationId);
        if (!op) return 'missing';
        if (!op.mandate) return 'drop';
        return {
          type: 'billing.payment-requested' as const,
          data: {
            operationId: op._id,
            contractId: op.contractId,
            amount: op.amount,
            currency: op.currency,
            ...(op.description !== undefined ? { description: op.description } : {}),
            mandate: {
              reference: op.mandate.reference,
              ibanSealed: op.mandate.ibanSealed,
              signedOn: op.mandate.signedOn,
              ...(op.mandate.expiresOn !== undefined ? { expiresOn: op.mandate.expiresOn } : {}),
            },
            requestedAt: op.createdAt,
          },
          meta: { id: `${op._id}:payment-requested`, correlationId: op.correlationId ?? op._id, ...(op.requestId ? { causationId: op.requestId } : {}), time: op.createdAt },
        };
      },
      'billing.invoice-issued': async (invoiceId) => {
        const invoice = await this.invoice(invoiceId);
        if (!invoice) return 'missing';
        return {
          type: 'billing.invoice-issued' as const,
          data: {
            invoiceId: invoice._id,
            contractId: invoice.contractId,
            period: invoice.period,
            customer: invoice.customer,
            currency: invoice.currency,
            lines: invoice.lines,
            purchases: invoice.purchases,
            refunds: invoice.refunds,
            net: invoice.net,
            declined: invoice.declined,
            issuedAt: invoice.issuedAt,
          },
          meta: { id: invoice._id, correlationId: invoice.runId, time: invoice.issuedAt },
        };
      },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // The contract read model

  /**
   * Keeps a contract event's version, then raises the read model to it unless it holds a newer
   * one already (duplicates and reordering are harmless). Without an atomic conditional update
   * on FerretDB, two handlers may overwrite each other's copy: each writes until the copy holds
   * its version or a newer one, so the copy ends at the highest version handled.
   */
  async applyContractEvent(event: ContractChanged, type: string, receivedAt: string): Promise<{ applied: boolean; held: number }> {
    await insertOnce(this.versions, {
      _id: logKey(event.contractId, event.version),
      contractId: event.contractId,
      version: event.version,
      change: type,
      contract: event.contract,
      mandateIbanSealed: event.mandateIbanSealed,
      receivedAt,
    });
    let applied = false;
    for (let attempt = 1; attempt <= MAX_RAISES; attempt++) {
      const held = await this.contract(event.contractId);
      if (held && held.version >= event.version) return { applied, held: held.version };
      try {
        await this.contracts.replaceOne(
          { _id: event.contractId },
          { version: event.version, contract: event.contract, mandateIbanSealed: event.mandateIbanSealed, updatedAt: receivedAt },
          { upsert: true },
        );
        applied = true;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err; // two first copies raced: read again
      }
    }
    throw new Error(`contract ${event.contractId}: could not raise the read model to version ${event.version}`);
  }

  async contract(contractId: string): Promise<HeldContract | undefined> {
    return (await this.contracts.findOne({ _id: contractId })) ?? undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // The ledger

  /**
   * Posts a movement on the contract's ledger once: `decide` sees the authoritative previous
   * entry and refuses (a reason) or accepts (undefined). A movement posted before under the same
   * ref and kind (a retry) is found and answered as posted, `again: true`.
   */
  async post(
    contractId: string,
    movement: { kind: LedgerKind; ref: string; amount: number; contractVersion?: number; at: string },
    decide: (previous: LedgerEntry | undefined) => string | undefined = () => undefined,
    { once = true } = {},
  ): Promise<PostResult> {
    let refusal: string | undefined;
    const result = await this.ledger.append(
      contractId,
      (previous) => {
        refusal = decide(previous);
        if (refusal !== undefined) return undefined;
        return {
          kind: movement.kind,
          ref: movement.ref,
          amount: movement.amount,
          outstandingAfter: (previous?.outstandingAfter ?? 0) + movement.amount,
          contractVersion: Math.max(previous?.contractVersion ?? 0, movement.contractVersion ?? 0),
          at: movement.at,
        };
      },
      once
        ? {
            isOwn: (entry) => entry.ref === movement.ref && entry.kind === movement.kind,
            claim: async (seq) => (await insertOrGet(this.ledgerClaims, { _id: `${movement.ref}:${movement.kind}`, seq })).doc.seq,
          }
        : undefined,
    );
    if (result.appended) return { posted: true, entry: result.entry, again: false };
    if (result.own) return { posted: true, entry: result.own, again: true };
    return { posted: false, refusal: refusal ?? 'refused', head: result.head };
  }

  /** The contract's latest ledger entry (authoritative): what it owes now. */
  ledgerHead(contractId: string): Promise<LedgerEntry | undefined> {
    return this.ledger.head(contractId);
  }

  // ---------------------------------------------------------------------------------------------
  // Operations

  async operation(id: string): Promise<StoredOperation | undefined> {
    return (await this.operations.findOne({ _id: id })) ?? undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Acceptance in flight

  /** Records the operation about to be posted (replaced by a later attempt of the same request). */
  async beginAcceptance(draft: Omit<AcceptanceDraft, 'at'>, at = new Date()): Promise<void> {
    await this.drafts.replaceOne({ _id: draft._id }, { ...draft, at }, { upsert: true });
  }

  /** The operation was stored or refused: nothing left to finish. */
  async endAcceptance(id: string): Promise<void> {
    await this.acceptancesPending.remove(id);
  }

  /** The movement `ref` posted on the contract's ledger, if it was (read by `_id` from its claim on). */
  async postedMovement(contractId: string, ref: string, kind: LedgerKind): Promise<LedgerEntry | undefined> {
    const claim = await this.ledgerClaims.findOne({ _id: `${ref}:${kind}` });
    if (!claim) return undefined;
    const found = await this.ledger.append(contractId, () => undefined, { isOwn: (e) => e.ref === ref && e.kind === kind, from: claim.seq });
    return found.appended ? undefined : found.own;
  }

  /**
   * Finishes an acceptance a crash interrupted (the reconciler calls it for drafts older than any
   * live request): stores the operation when its movement is on the ledger, posts a refund whose
   * amount was reserved on its purchase first, and otherwise drops the draft — nothing was held.
   * The client's retry with the same Idempotency-Key then finds the operation, or runs afresh.
   */
  async finishAcceptance(id: string): Promise<'stored' | 'dropped' | 'none'> {
    const draft = await this.drafts.findOne({ _id: id });
    if (!draft) return 'none';
    const { operation, movement } = draft;
    if (await this.operation(id)) {
      await this.endAcceptance(id);
      return 'none';
    }
    let posted = await this.postedMovement(operation.contractId, id, movement.kind);
    if (!posted && movement.kind === 'refund' && (await this.refundReserved(operation.refundOf!, id))) {
      const result = await this.post(operation.contractId, { kind: 'refund', ref: id, amount: movement.amount, contractVersion: movement.contractVersion, at: operation.createdAt });
      if (result.posted) posted = result.entry;
    }
    if (posted) await this.saveOperation({ ...operation, ledgerSeq: posted.seq });
    await this.endAcceptance(id);
    return posted ? 'stored' : 'dropped';
  }

  /** Whether refund `refundId` holds its amount on the purchase's refund log. */
  private async refundReserved(purchaseId: string, refundId: string): Promise<boolean> {
    const claim = await this.refundClaims.findOne({ _id: refundId });
    if (!claim) return false;
    const found = await this.refunds.append(purchaseId, () => undefined, { isOwn: (e) => e.refundId === refundId, from: claim.seq });
    return !found.appended && found.own !== undefined;
  }

  /** Stores an accepted operation (a purchase's `billing.payment-requested` marker first); the stored one if a retry got there first. */
  async saveOperation(op: StoredOperation): Promise<StoredOperation> {
    if (op.type === 'purchase') await this.outbox.add('billing.payment-requested', op._id);
    return (await insertOrGet(this.operations, op)).doc;
  }

  /** Replaces an operation with its new state (by `_id`; callers decide on the state they read). */
  async updateOperation(op: StoredOperation): Promise<void> {
    await this.operations.replaceOne({ _id: op._id }, op);
  }

  /**
   * A contract's operations, newest first, read down its ledger by `_id` from `beforeSeq`
   * (exclusive; the head when absent): at most `limit`, and the seq the next page starts before.
   */
  async contractOperations(contractId: string, beforeSeq: number | undefined, limit: number): Promise<{ operations: StoredOperation[]; nextBeforeSeq: number | undefined }> {
    const from = beforeSeq !== undefined ? beforeSeq - 1 : ((await this.ledger.head(contractId))?.seq ?? 0);
    const { entries, scannedTo, exhausted } = await this.ledger.walkBack(contractId, from, {
      limit,
      accept: (entry) => entry.kind === 'purchase' || entry.kind === 'refund',
      batch: Math.min(limit * 2, 100),
    });
    const operations = (await Promise.all(entries.map((entry) => this.operation(entry.ref)))).filter((op): op is StoredOperation => op !== undefined);
    return { operations, nextBeforeSeq: exhausted || scannedTo <= 1 ? undefined : scannedTo };
  }

  /** How much refunds have taken back from a purchase so far. */
  async refundedAmount(purchaseId: string): Promise<number> {
    return (await this.refunds.head(purchaseId))?.refundedAfter ?? 0;
  }

  /** Reserves a refund's amount on its purchase, once, never beyond the purchase's amount: false when it would be. */
  async reserveRefund(purchase: StoredOperation, refundId: string, amount: number, at: string): Promise<boolean> {
    const result = await this.refunds.append(
      purchase._id,
      (previous) => {
        const refundedAfter = (previous?.refundedAfter ?? 0) + amount;
        return refundedAfter > purchase.amount ? undefined : { refundId, amount, refundedAfter, at };
      },
      {
        isOwn: (entry) => entry.refundId === refundId,
        claim: async (seq) => (await insertOrGet(this.refundClaims, { _id: refundId, seq })).doc.seq,
      },
    );
    return result.appended || result.own !== undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Invoices

  async invoice(id: string): Promise<StoredInvoice | undefined> {
    return (await this.invoices.findOne({ _id: id })) ?? undefined;
  }

  /** Issues an invoice once (its `billing.invoice-issued` marker first); the stored one when it exists. */
  async issueInvoice(invoice: StoredInvoice): Promise<{ issued: boolean; invoice: StoredInvoice }> {
    const existing = await this.invoice(invoice._id);
    if (existing) return { issued: false, invoice: existing };
    await this.outbox.add('billing.invoice-issued', invoice._id);
    const result = await insertOrGet(this.invoices, invoice);
    return { issued: result.inserted, invoice: result.doc };
  }

  async markInvoiceSent(invoice: StoredInvoice, sentAt: string, sentTo: string): Promise<void> {
    await this.invoices.replaceOne({ _id: invoice._id }, { ...invoice, status: 'sent', sentAt, sentTo });
  }

  /** A page of invoices, newest period first (a filtered list: it scans on FerretDB). */
  async listInvoices(query: { contractId?: string; period?: string; after?: { period: string; id: string }; limit: number }): Promise<StoredInvoice[]> {
    const filter: Filter<StoredInvoice> = {};
    if (query.contractId !== undefined) filter.contractId = query.contractId;
    if (query.period !== undefined) filter.period = query.period;
    if (query.after) filter.$or = [{ period: { $lt: query.after.period } }, { period: query.after.period, _id: { $lt: query.after.id } }];
    return this.invoices
      .find(filter)
      .sort({ period: -1, _id: -1 })
      .limit(query.limit + 1)
      .toArray();
  }

  // ---------------------------------------------------------------------------------------------
  // Billing runs

  /**
   * The period an operation becoming invoiceable now is billed in: its own, or — when that
   * period's run has started already (an operator ran the current month; an authorization came
   * after the run) — the first later one without a run, so it lands on the next invoice instead
   * of none. One `_id` read per period looked at.
   */
  async invoicePeriodFrom(period: string): Promise<string> {
    let candidate = period;
    while (await this.run(runIdOf(candidate))) candidate = nextPeriod(candidate);
    return candidate;
  }

  async run(id: string): Promise<StoredRun | undefined> {
    return (await this.runs.findOne({ _id: id })) ?? undefined;
  }

  /** Creates the period's run (listed as pending first); `created: false` with the existing one. */
  async createRun(run: StoredRun): Promise<{ created: boolean; run: StoredRun }> {
    const existing = await this.run(run._id);
    if (existing) return { created: false, run: existing };
    await this.runsPending.add(run._id);
    const result = await insertOrGet(this.runs, run);
    return { created: result.inserted, run: result.doc };
  }

  async saveRun(run: StoredRun): Promise<void> {
    await this.runs.replaceOne({ _id: run._id }, run);
    if (run.status === 'completed') await this.runsPending.remove(run._id);
  }

  /**
   * The period's authorized and declined operations, grouped by contract (sorted by contract):
   * one pass over the collection, fetched in bounded batches — a batch job, so a filter other
   * than `_id` (on FerretDB it scans once, sorts, and streams).
   */
  periodOperations(period: string, batchSize: number) {
    return this.operations
      .find(
        { period, status: { $in: ['authorized', 'declined'] } },
        { projection: { contractId: 1, type: 1, status: 1, amount: 1, orders: 1 }, batchSize },
      )
      .sort({ contractId: 1, _id: 1 });
  }
}
