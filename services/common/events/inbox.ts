// The idempotent-consumer inbox: the ids of events a service has handled, under unique keys.
// A redelivery of a handled event is acknowledged without running its handler again.
//
// Two inserts per event, no lookup on the common path: FerretDB 1.24 (SQLite) answers a find by
// _id by scanning the collection (measured: ~1.8 ms more per 1,000 records), while an insert
// under a unique key stays constant. So `begin` claims the event by inserting into
// `inbox_claims`; only when that collides (a redelivery, rare) does it look in `inbox` for the
// record `complete` wrote after the handler succeeded.
//
// Without transactions the record is written after the handler, so a crash between the two
// runs the handler again on redelivery: handlers make their own effects idempotent (keyed by
// event id, or by the version they apply), and the inbox spares the common case.
import type { Collection, Db } from 'mongodb';
import { type IndexPlan, isDuplicateKey } from '../mongo.js';

export const inboxIndexes: IndexPlan = {
  inbox: [{ key: { at: 1 }, name: 'by_time' }],
  inbox_claims: [{ key: { at: 1 }, name: 'by_time' }],
};

interface InboxRecord {
  _id: string;
  type: string;
  at: Date;
}

export class Inbox {
  private readonly handled: Collection<InboxRecord>;
  private readonly claims: Collection<InboxRecord>;

  constructor(db: Db) {
    this.handled = db.collection('inbox');
    this.claims = db.collection('inbox_claims');
  }

  /** Call before handling: false when the event was already handled (ack and skip it). */
  async begin(eventId: string, type: string): Promise<boolean> {
    if (await insertOnce(this.claims, { _id: eventId, type, at: new Date() })) return true;
    // Delivered before: handled already, or the earlier attempt failed or crashed midway.
    return (await this.handled.findOne({ _id: eventId }, { projection: { _id: 1 } })) === null;
  }

  /** Call after the handler succeeded. */
  async complete(eventId: string, type: string): Promise<void> {
    await insertOnce(this.handled, { _id: eventId, type, at: new Date() });
  }

  /**
   * Forgets events handled before `before` (there are no TTL indexes on FerretDB). A redelivery
   * comes within seconds, a retry within the retry delays; only an event delivered again after
   * the retention would run its (idempotent) handler once more.
   */
  async purge(before: Date): Promise<number> {
    const [handled, claims] = await Promise.all([this.handled.deleteMany({ at: { $lt: before } }), this.claims.deleteMany({ at: { $lt: before } })]);
    return handled.deletedCount + claims.deletedCount;
  }
}

/** Inserts unless the key exists; true when this call inserted it. */
async function insertOnce(collection: Collection<InboxRecord>, record: InboxRecord): Promise<boolean> {
  try {
    await collection.insertOne(record);
    return true;
  } catch (err) {
    if (isDuplicateKey(err)) return false;
    throw err;
  }
}
