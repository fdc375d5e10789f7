// The idempotent-consumer inbox, leased: which events a service has handled, and which it is
// handling right now, under unique keys (`_id` = the event id; every read and write by `_id`).
//
// `begin` claims the event by inserting `inbox_claims/<event id>` with a lease (the handler's
// time-out): the one insert that succeeds runs the handler. A delivery that finds the claim
// taken looks in `inbox` for the record `complete` wrote after the handler succeeded:
//   - there: a duplicate, acknowledged and skipped;
//   - not there, lease live: another consumer is running it now → `busy` (the bus sends it
//     round again later, without counting an attempt) — so a mailer or a webhook sender never
//     runs twice at once;
//   - not there, lease expired: that attempt crashed, failed (`release`) or timed out → taken over by one taker
//     (the takeover is itself a unique insert, `inbox_takeovers/<event id>#<attempt>`), which
//     runs the handler once more.
// Without transactions the record is written after the handler, so a crash between the two runs
// the handler again after the lease: handlers make their own effects idempotent (keyed by event
// id, or by the version they apply), and the inbox spares the common case.
import type { Collection, Db } from 'mongodb';
import { BatchedInsertOnce, insertOnce } from '../data/insert-or-get.js';
import type { IndexPlan } from '../mongo.js';

export const inboxIndexes: IndexPlan = {
  inbox: [{ key: { at: 1 }, name: 'by_time' }],
  inbox_claims: [{ key: { at: 1 }, name: 'by_time' }],
  inbox_takeovers: [{ key: { at: 1 }, name: 'by_time' }],
};

export type InboxDecision = 'run' | 'duplicate' | 'busy';

interface InboxRecord {
  _id: string;
  type: string;
  at: Date;
}

interface Claim extends InboxRecord {
  leaseUntil: Date;
  attempt: number;
}

export interface InboxOptions {
  /** How long a claim keeps other deliveries of its event away (the handler's time-out). */
  leaseMs?: number;
  now?: () => Date;
}

export class Inbox {
  private readonly handled: Collection<InboxRecord>;
  private readonly claims: Collection<Claim>;
  private readonly takeovers: Collection<InboxRecord>;
  /** The deliveries in hand claim, and then record, their events together (one insertMany each). */
  private readonly claiming: BatchedInsertOnce<Claim>;
  private readonly recording: BatchedInsertOnce<InboxRecord>;
  readonly leaseMs: number;

  constructor(
    db: Db,
    private readonly options: InboxOptions = {},
  ) {
    this.handled = db.collection('inbox');
    this.claims = db.collection('inbox_claims');
    this.takeovers = db.collection('inbox_takeovers');
    this.claiming = new BatchedInsertOnce(this.claims);
    this.recording = new BatchedInsertOnce(this.handled);
    this.leaseMs = options.leaseMs ?? 30_000;
  }

  /** Call before handling: run it, skip it (handled already), or leave it for later (running elsewhere). */
  async begin(eventId: string, type: string): Promise<InboxDecision> {
    const now = this.now();
    const leaseUntil = new Date(now.getTime() + this.leaseMs);
    if (await this.claiming.insertOnce({ _id: eventId, type, at: now, leaseUntil, attempt: 1 })) return 'run';
    if (await this.handled.findOne({ _id: eventId }, { projection: { _id: 1 } })) return 'duplicate';
    const claim = await this.claims.findOne({ _id: eventId });
    if (!claim) return (await insertOnce(this.claims, { _id: eventId, type, at: now, leaseUntil, attempt: 1 })) ? 'run' : 'busy';
    if (claim.leaseUntil.getTime() > now.getTime()) return 'busy';
    const attempt = claim.attempt + 1;
    if (!(await insertOnce(this.takeovers, { _id: `${eventId}#${attempt}`, type, at: now }))) return 'busy';
    await this.claims.replaceOne({ _id: eventId }, { type, at: now, leaseUntil, attempt });
    return 'run';
  }

  /** Call after the handler failed: its claim ends now, so the retry runs it instead of waiting out the lease. */
  async release(eventId: string): Promise<void> {
    await this.claims.updateOne({ _id: eventId }, { $set: { leaseUntil: new Date(0) } });
  }

  /** Call after the handler succeeded. */
  async complete(eventId: string, type: string): Promise<void> {
    await this.recording.insertOnce({ _id: eventId, type, at: this.now() });
  }

  /**
   * Forgets events handled before `before` (there are no TTL indexes on FerretDB). A redelivery
   * comes within seconds, a retry within the retry delays; only an event delivered again after
   * the retention would run its (idempotent) handler once more.
   */
  async purge(before: Date): Promise<number> {
    const results = await Promise.all([this.handled, this.claims, this.takeovers].map((c) => c.deleteMany({ at: { $lt: before } })));
    return results[0]!.deletedCount + results[1]!.deletedCount;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}
