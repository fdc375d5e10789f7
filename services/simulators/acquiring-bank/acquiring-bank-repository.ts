// The simulated bank's books on MongoDB, correct on FerretDB too: every read and write is a
// filter of `_id` alone (docs/architecture.md, data access), and every decision that concurrent
// requests could break is an insert under a unique `_id`, never a read-modify-write.
//
//   charges               `<bank>/<reference>`  the charge as decided when it was made (immutable);
//                                               inserted with insertOrGet, so one reference is one
//                                               charge however many requests race
//   charge_settlements    `<bank>/<reference>`  a pending charge's settlement, inserted once: the
//                                               first settle wins (a read, the timer, a reconciler)
//   charge_refunds        `<bank>/<reference>:<seq>`  each charge's refunds, a sequenced log whose
//                                               entries carry the running total: a refund is
//                                               decided on the authoritative head, and two
//                                               refunds building on one head collide
//   charge_refunds_heads  `<bank>/<reference>`  the log's head copies (a hint where to start)
//   refund_claims         `<bank>/<refund reference>`  binds a refund reference to the charge it
//                                               was first sent for (inserted once, before the log)
//   refunds               `<bank>/<refund reference>`  each refund's answer, refusals included
//   direct_debits         `<bank>/<reference>`  a direct debit as decided (immutable)
//   callback_deliveries   `<bank>/<reference>`  a settlement callback the caller acknowledged
//   callbacks_pending_<bank>  `<bank>/<reference>`  settlement callbacks not yet delivered (a PendingSet)
//
// Keys start with the bank's name, so several banks may share one database without meeting.
import type { Collection, Db } from 'mongodb';
import { type InsertOrGetResult, insertOnce, insertOrGet } from '../../common/data/insert-or-get.js';
import { PendingSet } from '../../common/data/pending-set.js';
import { type LogEntry, SequencedLog } from '../../common/data/sequenced-log.js';
import type { IndexPlan } from '../../common/mongo.js';
import type { FailureReason, Outcome, StatusCode } from './acquiring-bank-domain.js';

export interface StoredCharge {
  _id: string;
  bank: string;
  reference: string;
  bankChargeId: string;
  merchantId: string;
  /** As decided when the charge was made: `200` for a pending one (see charge_settlements). */
  status: StatusCode;
  reason?: FailureReason;
  /** Pending charges: what they settle to, and from when. */
  settlesTo?: Outcome;
  settleAt?: string;
  amount: number;
  currency: string;
  description?: string;
  callbackUrl?: string;
  /** Never the card number or the CVV. */
  card: { last4: string };
  createdAt: string;
  /** Charges final when made: when they were decided. */
  settledAt?: string;
}

export interface Settlement {
  _id: string;
  status: '0' | '100';
  reason?: FailureReason;
  settledAt: string;
}

export interface RefundEntry extends LogEntry {
  refundReference: string;
  amount: number;
  /** The charge's refunded total, this refund included. */
  refunded: number;
  at: string;
}

export interface StoredRefund {
  _id: string;
  bank: string;
  reference: string;
  chargeReference: string;
  status: '0' | '100';
  reason?: FailureReason;
  amount: number;
  createdAt: string;
}

export interface StoredDirectDebit {
  _id: string;
  bank: string;
  reference: string;
  status: '0' | '100';
  reason?: FailureReason;
  amount: number;
  currency: string;
  description?: string;
  /** The mandate as given, but only the IBAN's last four characters. */
  mandate: { reference: string; ibanLast4: string; signedOn: string; expiresOn?: string };
  createdAt: string;
}

interface RefundClaim {
  _id: string;
  chargeReference: string;
  at: Date;
}

interface Marker {
  _id: string;
  at: Date;
}

/** Every lookup is by `_id`: nothing to index beyond it. */
export const acquiringBankIndexes: IndexPlan = {};

export const bankKey = (bank: string, reference: string) => `${bank}/${reference}`;

export class AcquiringBankRepository {
  private readonly charges: Collection<StoredCharge>;
  private readonly settlements: Collection<Settlement>;
  private readonly refundLog: SequencedLog<RefundEntry>;
  private readonly refundClaims: Collection<RefundClaim>;
  private readonly refunds: Collection<StoredRefund>;
  private readonly directDebits: Collection<StoredDirectDebit>;
  private readonly deliveries: Collection<Marker>;
  /** Settlement callbacks not yet acknowledged, for this bank (its reconciler reads them). */
  readonly pendingCallbacks: PendingSet;

  constructor(
    db: Db,
    readonly bank: string,
  ) {
    this.charges = db.collection('charges');
    this.settlements = db.collection('charge_settlements');
    this.refundLog = new SequencedLog<RefundEntry>(db, 'charge_refunds');
    this.refundClaims = db.collection('refund_claims');
    this.refunds = db.collection('refunds');
    this.directDebits = db.collection('direct_debits');
    this.deliveries = db.collection('callback_deliveries');
    this.pendingCallbacks = new PendingSet(db, `callbacks_pending_${bank.replace(/-/g, '_')}`);
  }

  key(reference: string): string {
    return bankKey(this.bank, reference);
  }

  /** Makes the charge unless its reference has one: then that one, whatever was asked now. */
  insertCharge(charge: StoredCharge): Promise<InsertOrGetResult<StoredCharge>> {
    return insertOrGet(this.charges, charge);
  }

  async charge(reference: string): Promise<StoredCharge | undefined> {
    return (await this.charges.findOne({ _id: this.key(reference) })) ?? undefined;
  }

  async settlement(reference: string): Promise<Settlement | undefined> {
    return (await this.settlements.findOne({ _id: this.key(reference) })) ?? undefined;
  }

  /** Settles a pending charge once: the settlement already made, if any, wins over this one. */
  async settle(reference: string, outcome: Outcome, at: Date): Promise<Settlement> {
    const settlement: Settlement = { _id: this.key(reference), ...outcome, settledAt: at.toISOString() };
    return (await insertOrGet(this.settlements, settlement)).doc;
  }

  /** The charge's refunded total, from the authoritative head of its refund log. */
  async refunded(chargeReference: string): Promise<number> {
    return (await this.refundLog.head(this.key(chargeReference)))?.refunded ?? 0;
  }

  /**
   * Appends a refund to the charge's log unless `allow` refuses it on the refunded total so far
   * (decided on the authoritative head; a collision rebuilds on the fresh one). If a refund of
   * this reference is already in the log (a retry, a concurrent twin), that entry is the answer.
   */
  async appendRefund(
    chargeReference: string,
    refundReference: string,
    amount: number,
    at: Date,
    allow: (refunded: number) => boolean,
  ): Promise<{ entry: RefundEntry } | { refused: true; refunded: number }> {
    const result = await this.refundLog.append(
      this.key(chargeReference),
      (previous) => {
        const refunded = previous?.refunded ?? 0;
        return allow(refunded) ? { refundReference, amount, refunded: refunded + amount, at: at.toISOString() } : undefined;
      },
      // A charge has few refunds: its whole log is checked for a twin before appending.
      { isOwn: (entry) => entry.refundReference === refundReference, from: 1 },
    );
    if (result.appended) return { entry: result.entry };
    if (result.own) return { entry: result.own };
    return { refused: true, refunded: result.head?.refunded ?? 0 };
  }

  /**
   * Binds a refund reference to a charge, once: the reference of the charge it belongs to (the
   * one given, or the one a request with the same refund reference named first).
   */
  async claimRefund(refundReference: string, chargeReference: string, at = new Date()): Promise<string> {
    return (await insertOrGet(this.refundClaims, { _id: this.key(refundReference), chargeReference, at })).doc.chargeReference;
  }

  async refund(refundReference: string): Promise<StoredRefund | undefined> {
    return (await this.refunds.findOne({ _id: this.key(refundReference) })) ?? undefined;
  }

  /** Records a refund's answer; the one recorded first under its reference wins. */
  async recordRefund(refund: StoredRefund): Promise<StoredRefund> {
    return (await insertOrGet(this.refunds, refund)).doc;
  }

  insertDirectDebit(debit: StoredDirectDebit): Promise<InsertOrGetResult<StoredDirectDebit>> {
    return insertOrGet(this.directDebits, debit);
  }

  async directDebit(reference: string): Promise<StoredDirectDebit | undefined> {
    return (await this.directDebits.findOne({ _id: this.key(reference) })) ?? undefined;
  }

  async callbackDelivered(reference: string): Promise<boolean> {
    return (await this.deliveries.findOne({ _id: this.key(reference) })) !== null;
  }

  async markCallbackDelivered(reference: string, at = new Date()): Promise<void> {
    await insertOnce(this.deliveries, { _id: this.key(reference), at });
  }

  /** The reference of a pending-set item (its key without the bank), or undefined for another bank's. */
  referenceOf(key: string): string | undefined {
    const prefix = `${this.bank}/`;
    return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
  }
}
