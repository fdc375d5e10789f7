// Card payments on MongoDB, correct on FerretDB too (a unique `_id` is the only atomic guard;
// every hot read and write is a filter of `_id` alone — docs/architecture.md).
//
//   payments           `_id` pay_… — the payment, its status history inside (one document, so a
//                      status change is one write), the card's summary and vault id, never a PAN
//   merchant_payments  a sequenced log per merchant (`<merchant>:<seq>` → payment id): the
//                      merchant's history is read by `_id` down this log, so its cost does not
//                      depend on other merchants' payments; written before the payment (an entry
//                      whose payment never appeared is skipped)
//   payment_settlements `_id` pay_… — who settled a pending payment first (the bank's callback or
//                      the reconciler) and to what: inserted once, so a payment settles once, to
//                      that outcome (a settler that died before writing it is finished by the next)
//   payment_refunds    a sequenced log per payment: each refund reserves its amount when it is
//                      appended (refused on the authoritative head when the payment's amount
//                      would be exceeded, so concurrent refunds never over-refund) and releases
//                      it when the bank refuses; the head carries the totals
//   refunds            `_id` ref_… — each refund as answered, the source of `payment.refunded`
//   payment_refund_claims `<refund>:<step>` — the seq a refund's step was first claimed at, so two
//                      retries of one refund never append a step twice
//
// A payment owes `payment.succeeded` or `payment.failed`: its outbox marker is written first and
// stays while the payment is pending — the reconciler reads those markers as its pending work.
import type { Collection, Db } from 'mongodb';
import { insertOrGet } from '../../common/data/insert-or-get.js';
import type { PendingWork } from '../../common/data/pending-set.js';
import { type LogEntry, SequencedLog } from '../../common/data/sequenced-log.js';
import type { Outbox, OutboxSource } from '../../common/events/outbox.js';
import type { IndexPlan } from '../../common/mongo.js';
import type { FailureReason, PaymentStatus } from './payments-domain.js';

export interface StatusChange {
  status: PaymentStatus;
  at: string;
  reason?: FailureReason;
}

export interface StoredPayment {
  _id: string; // pay_…
  merchantId: string;
  bank: string;
  status: PaymentStatus;
  failureReason?: FailureReason;
  amount: number;
  currency: string;
  reference: string;
  description?: string;
  card: { brand: string; bin: string; last4: string; expiryMonth: number; expiryYear: number };
  /** The vault's id of the card (its keyed fingerprint), never the card itself. */
  cardId: string;
  bankChargeId?: string;
  /** Set before its first refund is reserved: only then are its refund totals worth reading. */
  hasRefunds?: true;
  createdAt: string;
  updatedAt: string;
  statusHistory: StatusChange[];
  requestId?: string;
  correlationId?: string;
}

type Settlement = { status: 'succeeded' | 'failed'; reason?: FailureReason; bankChargeId?: string; at: string };

/** Who settled a pending payment first, and how: the outcome every later settler applies too. */
interface SettlementClaim extends Settlement {
  _id: string;
  by: string;
}

interface MerchantIndexEntry extends LogEntry {
  paymentId: string;
  createdAt: string;
}

export interface RefundLogEntry extends LogEntry {
  refundId: string;
  kind: 'reserve' | 'release' | 'confirm';
  amount: number;
  /** Amount held by refunds not refused: what may not be refunded again. */
  reserved: number;
  /** Amount the bank confirmed refunded. */
  refunded: number;
  at: string;
}

export interface StoredRefund {
  _id: string; // ref_…
  paymentId: string;
  merchantId: string;
  status: 'succeeded' | 'failed' | 'pending';
  failureReason?: string;
  amount: number;
  currency: string;
  reason?: string;
  refundedTotal: number;
  createdAt: string;
  requestId?: string;
  correlationId?: string;
}

export const paymentIndexes: IndexPlan = {
  // Read by `_id` on every hot path; for MongoDB in production, what reports filter on:
  payments: [{ key: { merchantId: 1, createdAt: -1 }, name: 'by_merchant' }],
  refunds: [{ key: { paymentId: 1 }, name: 'by_payment' }],
};

export interface PaymentListQuery {
  merchantId: string;
  status?: PaymentStatus;
  currency?: string;
  reference?: string;
  from?: string;
  to?: string;
  beforeSeq?: number;
  limit: number;
}

/** Payments read at most per page when filters skip most of them (the rest comes on the next page). */
const MAX_SCANNED_PER_PAGE = 1_000;

export class PaymentsRepository {
  private readonly payments: Collection<StoredPayment>;
  private readonly settlements: Collection<SettlementClaim>;
  private readonly refundRecords: Collection<StoredRefund>;
  private readonly refundClaims: Collection<{ _id: string; seq: number }>;
  readonly merchantIndex: SequencedLog<MerchantIndexEntry>;
  readonly refundLog: SequencedLog<RefundLogEntry>;

  constructor(
    db: Db,
    private readonly outbox: Outbox,
  ) {
    this.payments = db.collection('payments');
    this.settlements = db.collection('payment_settlements');
    this.refundRecords = db.collection('refunds');
    this.refundClaims = db.collection('payment_refund_claims');
    this.merchantIndex = new SequencedLog<MerchantIndexEntry>(db, 'merchant_payments');
    this.refundLog = new SequencedLog<RefundLogEntry>(db, 'payment_refunds');
  }

  /** Payments whose final event is still owed: the pending ones (and, briefly, those being announced). */
  pendingPayments(): PendingWork {
    return this.outbox.pendingWork('payment.settled');
  }

  outboxSources(): Record<string, OutboxSource> {
    return {
      'payment.settled': async (paymentId) => {
        const payment = await this.get(paymentId);
        if (!payment) return 'missing';
        if (payment.status === 'pending') return 'wait';
        const last = payment.statusHistory[payment.statusHistory.length - 1]!;
        const status = payment.status === 'failed' ? 'failed' : 'succeeded';
        return {
          type: status === 'failed' ? ('payment.failed' as const) : ('payment.succeeded' as const),
          data: {
            paymentId,
            merchantId: payment.merchantId,
            status,
            ...(payment.failureReason ? { failureReason: payment.failureReason } : {}),
            amount: payment.amount,
            currency: payment.currency,
            reference: payment.reference,
            cardBrand: payment.card.brand,
            cardLast4: payment.card.last4,
            at: last.at,
          },
          meta: { id: `${paymentId}:${status}`, correlationId: payment.correlationId ?? paymentId, ...(payment.requestId ? { causationId: payment.requestId } : {}), time: last.at },
        };
      },
      'payment.refunded': async (refundId) => {
        const refund = await this.refundRecords.findOne({ _id: refundId });
        if (!refund) return 'missing';
        if (refund.status === 'pending') return 'wait';
        if (refund.status !== 'succeeded') return 'drop';
        return {
          type: 'payment.refunded' as const,
          data: {
            refundId,
            paymentId: refund.paymentId,
            merchantId: refund.merchantId,
            amount: refund.amount,
            currency: refund.currency,
            refundedTotal: refund.refundedTotal,
            at: refund.createdAt,
          },
          meta: { id: refundId, correlationId: refund.correlationId ?? refundId, ...(refund.requestId ? { causationId: refund.requestId } : {}), time: refund.createdAt },
        };
      },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Payments

  /**
   * Stores a new payment as pending, listed in its merchant's history first and owed to the
   * outbox; `created: false` with the stored one when the id exists already (a concurrent retry).
   */
  async insertPending(payment: StoredPayment): Promise<{ created: boolean; payment: StoredPayment }> {
    const existing = await this.get(payment._id);
    if (existing) return { created: false, payment: existing };
    await this.outbox.add('payment.settled', payment._id);
    await this.merchantIndex.append(payment.merchantId, () => ({ paymentId: payment._id, createdAt: payment.createdAt }), {
      isOwn: (entry) => entry.paymentId === payment._id,
    });
    const result = await insertOrGet(this.payments, payment);
    return { created: result.inserted, payment: result.doc };
  }

  async get(paymentId: string): Promise<StoredPayment | undefined> {
    return (await this.payments.findOne({ _id: paymentId })) ?? undefined;
  }

  /**
   * Records the bank's final answer on a payment the request itself is settling (it inserted the
   * payment and nobody else settles a payment that young).
   */
  async settleByRequest(payment: StoredPayment, change: Settlement): Promise<StoredPayment> {
    return this.applySettlement(payment, change);
  }

  /**
   * Settles a pending payment from the bank's callback or the reconciler: the first settler's
   * claim (a unique insert, holding its outcome) decides; it applies it, and later ones find it
   * settled. A later settler that finds the claim but the payment still pending — the first died
   * between its claim and its write, or is writing right now — applies the claimed outcome itself:
   * the same write, so doing it twice changes nothing, and the payment never stays pending behind
   * a claim. Returns the payment as it stands.
   */
  async settle(paymentId: string, change: Settlement, by: string): Promise<StoredPayment | undefined> {
    const payment = await this.get(paymentId);
    if (!payment) return undefined;
    if (payment.status !== 'pending') return payment;
    const claim = await insertOrGet(this.settlements, { _id: paymentId, ...change, by });
    if (claim.inserted) return this.applySettlement(payment, change);
    const current = (await this.get(paymentId)) ?? payment;
    if (current.status !== 'pending') return current;
    const { status, reason, bankChargeId, at } = claim.doc;
    return this.applySettlement(current, { status, ...(reason ? { reason } : {}), ...(bankChargeId ? { bankChargeId } : {}), at });
  }

  private async applySettlement(payment: StoredPayment, change: Settlement): Promise<StoredPayment> {
    const entry: StatusChange = { status: change.status, at: change.at, ...(change.reason ? { reason: change.reason } : {}) };
    const settled: StoredPayment = {
      ...payment,
      status: change.status,
      ...(change.reason ? { failureReason: change.reason } : {}),
      ...(change.bankChargeId ? { bankChargeId: change.bankChargeId } : {}),
      updatedAt: change.at,
      statusHistory: [...payment.statusHistory, entry],
    };
    await this.payments.replaceOne({ _id: payment._id }, settled);
    return settled;
  }

  /** A page of the merchant's payments, newest first, read by `_id` down its history. */
  async list(query: PaymentListQuery): Promise<{ payments: StoredPayment[]; nextBeforeSeq?: number }> {
    const start = query.beforeSeq !== undefined ? query.beforeSeq - 1 : ((await this.merchantIndex.head(query.merchantId))?.seq ?? 0);
    const kept: StoredPayment[] = [];
    let seq = start;
    let scanned = 0;
    let lastSeq: number | undefined;
    while (seq >= 1 && kept.length <= query.limit && scanned < MAX_SCANNED_PER_PAGE) {
      const batch = Math.min(50, query.limit + 1 - kept.length + 1);
      const { entries, scannedTo } = await this.merchantIndex.walkBack(query.merchantId, seq, { limit: batch, batch });
      if (entries.length === 0) break;
      const payments = await Promise.all(entries.map((e) => this.get(e.paymentId)));
      for (const [i, payment] of payments.entries()) {
        scanned++;
        const entry = entries[i]!;
        if (query.from !== undefined && entry.createdAt < query.from) return { payments: kept.slice(0, query.limit), ...(kept.length > query.limit ? { nextBeforeSeq: lastSeq! } : {}) };
        if (!payment || !matches(payment, query)) continue;
        kept.push(payment);
        if (kept.length === query.limit) lastSeq = entry.seq;
        if (kept.length > query.limit) return { payments: kept.slice(0, query.limit), nextBeforeSeq: lastSeq! };
      }
      seq = scannedTo - 1;
    }
    if (seq >= 1 && scanned >= MAX_SCANNED_PER_PAGE) return { payments: kept, nextBeforeSeq: seq + 1 };
    return { payments: kept };
  }

  /** Once its refunds reach the amount, a payment shows `refunded` (every confirming refund may write it: the same). */
  async markRefunded(paymentId: string, at: string): Promise<void> {
    const payment = await this.get(paymentId);
    if (!payment || payment.status !== 'succeeded') return;
    await this.payments.replaceOne({ _id: paymentId }, { ...payment, status: 'refunded', hasRefunds: true, updatedAt: at, statusHistory: [...payment.statusHistory, { status: 'refunded', at }] });
  }

  // ---------------------------------------------------------------------------------------------
  // Refunds

  /** Marks the payment as having refunds (before the first is reserved), so reads know to look. */
  async flagRefunds(payment: StoredPayment): Promise<void> {
    if (!payment.hasRefunds) await this.payments.updateOne({ _id: payment._id }, { $set: { hasRefunds: true } });
  }

  /** The payment's refund totals (head of its refund log); none read for a payment never refunded. */
  async refundTotals(payment: Pick<StoredPayment, '_id' | 'hasRefunds'>): Promise<{ reserved: number; refunded: number }> {
    if (!payment.hasRefunds) return { reserved: 0, refunded: 0 };
    const paymentId = payment._id;
    const head = await this.refundLog.head(paymentId);
    return { reserved: head?.reserved ?? 0, refunded: head?.refunded ?? 0 };
  }

  /**
   * Reserves `amount` for a refund unless the payment's other refunds leave too little (decided
   * on the log's authoritative head, so concurrent refunds never over-refund). Once per refund id.
   */
  async reserveRefund(paymentId: string, refundId: string, amount: number, limit: number, at: string): Promise<{ reserved: true; entry: RefundLogEntry } | { reserved: false; available: number }> {
    const result = await this.refundLog.append(
      paymentId,
      (head) => {
        const reserved = head?.reserved ?? 0;
        if (reserved + amount > limit) return undefined;
        return { refundId, kind: 'reserve', amount, reserved: reserved + amount, refunded: head?.refunded ?? 0, at };
      },
      this.once(refundId, 'reserve'),
    );
    if (result.appended) return { reserved: true, entry: result.entry };
    if (result.own) return { reserved: true, entry: result.own };
    return { reserved: false, available: limit - (result.head?.reserved ?? 0) };
  }

  /** The bank confirmed (`confirm`: counts as refunded) or refused (`release`: the amount is free again). */
  async finishRefund(paymentId: string, refundId: string, amount: number, kind: 'confirm' | 'release', at: string): Promise<RefundLogEntry> {
    const result = await this.refundLog.append(
      paymentId,
      (head) => ({
        refundId,
        kind,
        amount,
        reserved: (head?.reserved ?? 0) - (kind === 'release' ? amount : 0),
        refunded: (head?.refunded ?? 0) + (kind === 'confirm' ? amount : 0),
        at,
      }),
      this.once(refundId, kind),
    );
    const entry = result.appended ? result.entry : result.own;
    if (!entry) throw new Error(`refund ${refundId} could not be recorded`);
    return entry;
  }

  /**
   * A refund's step is appended once, also by two retries of one key at the same moment: the
   * first to claim `<refund>:<step>` says from which seq the step may be found (as wallet legs do).
   */
  private once(refundId: string, kind: RefundLogEntry['kind']) {
    return {
      isOwn: (entry: RefundLogEntry) => entry.refundId === refundId && entry.kind === kind,
      claim: async (seq: number) => (await insertOrGet(this.refundClaims, { _id: `${refundId}:${kind}`, seq })).doc.seq,
    };
  }

  /** Stores the refund as answered (after its marker: it is the source of `payment.refunded`). */
  async saveRefund(refund: StoredRefund): Promise<StoredRefund> {
    await this.outbox.add('payment.refunded', refund._id);
    return (await insertOrGet(this.refundRecords, refund)).doc;
  }

  async getRefund(refundId: string): Promise<StoredRefund | undefined> {
    return (await this.refundRecords.findOne({ _id: refundId })) ?? undefined;
  }
}

function matches(payment: StoredPayment, query: PaymentListQuery): boolean {
  if (query.status !== undefined && payment.status !== query.status) return false;
  if (query.currency !== undefined && payment.currency !== query.currency) return false;
  if (query.reference !== undefined && payment.reference !== query.reference) return false;
  if (query.to !== undefined && payment.createdAt >= query.to) return false;
  return true;
}
