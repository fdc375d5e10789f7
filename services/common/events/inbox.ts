// The idempotent-consumer inbox: the ids of events a service has handled, under a unique key.
// A redelivery of a handled event is acknowledged without running its handler again.
// Without transactions (FerretDB) the record is written after the handler, so a crash between
// the two runs the handler again on redelivery: handlers make their own effects idempotent
// (keyed by event id or by the version they apply), and the inbox spares the common case.
import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from '../mongo.js';

interface InboxRecord {
  _id: string;
  type: string;
  handledAt: Date;
}

export class Inbox {
  private readonly records: Collection<InboxRecord>;

  constructor(db: Db, collection = 'inbox') {
    this.records = db.collection(collection);
  }

  async has(eventId: string): Promise<boolean> {
    // findOne by _id, not countDocuments: FerretDB answers an _id lookup from its primary key
    // but runs a count as an aggregation over the whole collection.
    return (await this.records.findOne({ _id: eventId }, { projection: { _id: 1 } })) !== null;
  }

  async record(eventId: string, type: string): Promise<void> {
    try {
      await this.records.insertOne({ _id: eventId, type, handledAt: new Date() });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }
}
