// Voucher storage on MongoDB, correct on FerretDB too (no transactions; a unique `_id` is the only
// atomic guard; every hot read and write is a filter of `_id` alone — docs/architecture.md):
//
//   vouchers/<id>               the request as accepted (+ the provider's challenge once acknowledged)
//   voucher_outcomes/<id>       how it ended: the code (ISSUED) or FAILED — one insert decides, so a
//                               late callback racing the deadline, a replayed callback or a second
//                               worker collide instead of deciding twice
//   webhook_deliveries/<id>     the webhook's delivery state; webhook_attempts/<id>#<n> claims attempt n
//   webhook_pending             deliveries under way (a PendingSet the reconciler reads)
//   webhook_secrets/<user id>   each customer's signing secret, sealed (AES-256-GCM, VOUCHER_SECRETS_KEY)
//   sms_messages/<id>           the SMS claimed for a voucher (sent at most once)
//
//   voucher_pending             requests without an outcome yet (a PendingSet the reconciler reads):
//                               added before the request is stored, removed once it is decided
//
// Events: `voucher.requested/<id>` is written before the request, `voucher.outcome/<id>` before the
// outcome; the relay builds voucher.requested, voucher.issued or voucher.failed from what is stored
// (the code itself is never in an event). The outcome's marker is written only when the outcome is,
// so the relay never rereads requests still waiting for their code (measured: writing it with the
// request, as its pending mark, made every relay pass read every pending request).
import type { Collection, Db, Filter } from 'mongodb';
import type { EventMeta } from '../common/events/cloud-event.js';
import { insertOnce, insertOrGet } from '../common/data/insert-or-get.js';
import { type PendingItem, PendingSet, type PendingWork } from '../common/data/pending-set.js';
import type { Outbox, OutboxSource } from '../common/events/outbox.js';
import type { IndexPlan } from '../common/mongo.js';
import type { ValueSealer } from '../common/sealed-values.js';
import { type StoredDelivery, type StoredOutcome, type StoredVoucher, maskPhone } from './voucher-domain.js';

export const voucherIndexes: IndexPlan = {
  // Lists filter by owner (and number), newest first: they scan on FerretDB (docs/benchmarks.md).
  vouchers: [{ key: { userId: 1, phoneNumber: 1, createdAt: -1, _id: -1 }, name: 'by_owner_number_newest' }],
};

export const OUTCOME_SOURCE = 'voucher.outcome';
const REQUESTED_SOURCE = 'voucher.requested';

interface SealedSecret {
  _id: string;
  sealed: string;
  createdAt: string;
}

interface SmsClaim {
  _id: string;
  at: string;
}

interface AttemptClaim {
  _id: string;
  at: Date;
}

export interface ListQuery {
  userId: string;
  phoneNumber?: string;
  after?: { createdAt: string; id: string };
  limit: number;
}

export class VoucherRepository {
  readonly vouchers: Collection<StoredVoucher>;
  readonly outcomes: Collection<StoredOutcome>;
  readonly deliveries: Collection<StoredDelivery>;
  private readonly attempts: Collection<AttemptClaim>;
  private readonly secrets: Collection<SealedSecret>;
  private readonly sms: Collection<SmsClaim>;
  /** Requests waiting for their outcome, for the reconciler. */
  readonly pendingRequests: PendingSet;
  /** Webhook deliveries under way, each with when its next attempt is due. */
  readonly pendingDeliveries: DueDeliveries;

  constructor(
    db: Db,
    private readonly outbox: Outbox,
    private readonly sealer: ValueSealer,
  ) {
    this.vouchers = db.collection('vouchers');
    this.outcomes = db.collection('voucher_outcomes');
    this.deliveries = db.collection('webhook_deliveries');
    this.attempts = db.collection('webhook_attempts');
    this.secrets = db.collection('webhook_secrets');
    this.sms = db.collection('sms_messages');
    this.pendingRequests = new PendingSet(db, 'voucher_pending');
    this.pendingDeliveries = new DueDeliveries(db.collection('webhook_pending'));
  }

  outboxSources(): Record<string, OutboxSource> {
    const meta = (voucher: StoredVoucher, id: string, time: string): EventMeta & { id: string } => ({
      id,
      correlationId: voucher.correlationId ?? voucher._id,
      ...(voucher.requestId ? { causationId: voucher.requestId } : {}),
      time,
    });
    return {
      [REQUESTED_SOURCE]: async (id) => {
        const voucher = await this.get(id);
        if (!voucher) return 'missing';
        return {
          type: 'voucher.requested',
          data: { voucherId: id, userId: voucher.userId, phoneNumberMasked: maskPhone(voucher.phoneNumber), hasCallbackUrl: voucher.callbackUrl !== undefined, requestedAt: voucher.createdAt },
          meta: meta(voucher, `${id}.requested`, voucher.createdAt),
        };
      },
      [OUTCOME_SOURCE]: async (id) => {
        const outcome = await this.outcome(id);
        if (!outcome) return 'missing';
        const voucher = await this.get(id);
        if (!voucher) return 'drop';
        if (outcome.status === 'ISSUED') {
          return {
            type: 'voucher.issued',
            data: { voucherId: id, userId: voucher.userId, providerStatus: outcome.providerStatus, issuedAt: outcome.at },
            meta: meta(voucher, `${id}.issued`, outcome.at),
          };
        }
        return { type: 'voucher.failed', data: { voucherId: id, userId: voucher.userId, reason: outcome.reason, failedAt: outcome.at }, meta: meta(voucher, `${id}.failed`, outcome.at) };
      },
    };
  }

  /** Stores a request (its events owed first); the one stored first under its id when it exists. */
  async create(voucher: StoredVoucher): Promise<StoredVoucher> {
    await this.outbox.add(REQUESTED_SOURCE, voucher._id);
    await this.pendingRequests.add(voucher._id, new Date(voucher.createdAt));
    return (await insertOrGet(this.vouchers, voucher)).doc;
  }

  async get(id: string): Promise<StoredVoucher | undefined> {
    return (await this.vouchers.findOne({ _id: id })) ?? undefined;
  }

  async outcome(id: string): Promise<StoredOutcome | undefined> {
    return (await this.outcomes.findOne({ _id: id })) ?? undefined;
  }

  async delivery(id: string): Promise<StoredDelivery | undefined> {
    return (await this.deliveries.findOne({ _id: id })) ?? undefined;
  }

  /** The provider's challenge, once it acknowledged (the same on every acknowledgement of a request). */
  async recordChallenge(id: string, codeChallenge: string, at: Date): Promise<void> {
    await this.vouchers.updateOne({ _id: id }, { $set: { codeChallenge, challengedAt: at.toISOString() } });
  }

  /** Decides the request's outcome once: `decided: false` with the outcome already there when another got first. */
  async decide(outcome: StoredOutcome): Promise<{ decided: boolean; outcome: StoredOutcome }> {
    await this.outbox.add(OUTCOME_SOURCE, outcome._id);
    const { inserted, doc } = await insertOrGet(this.outcomes, outcome);
    await this.pendingRequests.remove(outcome._id);
    return { decided: inserted, outcome: doc as StoredOutcome };
  }

  /** A page of a customer's vouchers, newest first (a filtered list: it scans on FerretDB). */
  async list(query: ListQuery): Promise<StoredVoucher[]> {
    const filter: Filter<StoredVoucher> = { userId: query.userId };
    if (query.phoneNumber !== undefined) filter.phoneNumber = query.phoneNumber;
    if (query.after) {
      filter.$or = [{ createdAt: { $lt: query.after.createdAt } }, { createdAt: query.after.createdAt, _id: { $lt: query.after.id } }];
    }
    return this.vouchers.find(filter).sort({ createdAt: -1, _id: -1 }).limit(query.limit + 1).toArray();
  }

  /** Replaces the customer's webhook secret (sealed at rest). */
  async saveSecret(userId: string, secret: string, at: Date): Promise<void> {
    const sealed = await this.sealer.seal(secret, 'webhook-secret');
    await this.secrets.replaceOne({ _id: userId }, { sealed, createdAt: at.toISOString() }, { upsert: true });
  }

  async hasSecret(userId: string): Promise<boolean> {
    return (await this.secrets.findOne({ _id: userId }, { projection: { _id: 1 } })) !== null;
  }

  async secretOf(userId: string): Promise<string | undefined> {
    const stored = await this.secrets.findOne({ _id: userId });
    return stored ? this.sealer.open(stored.sealed, 'webhook-secret') : undefined;
  }

  /** Claims the voucher's SMS: true for the one caller that sends it. */
  claimSms(id: string, at: Date): Promise<boolean> {
    return insertOnce(this.sms, { _id: id, at: at.toISOString() });
  }

  async releaseSms(id: string): Promise<void> {
    await this.sms.deleteOne({ _id: id });
  }

  /** Records a delivery after its first attempt (the first record stays: a repeat of that attempt changes nothing). */
  async recordDelivery(delivery: StoredDelivery): Promise<void> {
    if (delivery.status === 'PENDING') await this.pendingDeliveries.due(delivery._id, new Date(delivery.nextAttemptAt!));
    await insertOnce(this.deliveries, delivery);
  }

  /** Claims attempt `n` of a delivery: one sender per attempt, whoever else holds the delivery. */
  claimAttempt(id: string, n: number, at: Date): Promise<boolean> {
    return insertOnce(this.attempts, { _id: `${id}#${n}`, at });
  }

  async attemptClaimedAt(id: string, n: number): Promise<Date | undefined> {
    return (await this.attempts.findOne({ _id: `${id}#${n}` }))?.at;
  }

  async updateDelivery(id: string, change: Partial<StoredDelivery>): Promise<void> {
    await this.deliveries.updateOne({ _id: id }, { $set: change });
    if (change.status !== undefined && change.status !== 'PENDING') await this.pendingDeliveries.remove(id);
    else if (change.nextAttemptAt !== undefined) await this.pendingDeliveries.due(id, new Date(change.nextAttemptAt));
  }
}

/**
 * Deliveries under way as the reconciler's pending work, each item's time being when its next
 * attempt is due (not when it was added): the reconciler's age threshold keeps it away from young
 * work that someone is still doing, and here that is already guarded by the claim of each attempt
 * (webhook_attempts), so an item is listed as soon as it is due — retries follow their backoff, at
 * the reconciler's interval. The set holds only what is under way, read whole.
 */
export class DueDeliveries implements PendingWork {
  constructor(private readonly items: Collection<PendingItem>) {}

  async due(id: string, at: Date): Promise<void> {
    await this.items.updateOne({ _id: id }, { $set: { at } }, { upsert: true });
  }

  async remove(id: string): Promise<void> {
    await this.items.deleteOne({ _id: id });
  }

  async list(options: { limit?: number; now?: Date } = {}): Promise<PendingItem[]> {
    const now = (options.now ?? new Date()).getTime();
    const all = await this.items.find({}).sort({ at: 1 }).toArray();
    return all.filter((item) => item.at.getTime() <= now).slice(0, options.limit ?? Number.POSITIVE_INFINITY);
  }

  size(): Promise<number> {
    return this.items.countDocuments({});
  }
}
