// "Insert, and if the key is taken, read what is there": the one atomic guard both MongoDB and
// FerretDB give without transactions (a unique `_id`). Every idempotent write in the services is
// built on it, so the pattern lives here once. The read back is a filter of `_id` alone, the only
// lookup the embedded FerretDB answers from an index (docs/architecture.md, data access).
import { type Collection, type Document, MongoBulkWriteError, type OptionalUnlessRequiredId, type WithId } from 'mongodb';
import { isDuplicateKey } from '../mongo.js';

export type InsertOrGetResult<T> = { inserted: true; doc: T } | { inserted: false; doc: WithId<T> };

/**
 * Inserts `doc` under its `_id`; when that `_id` exists, returns the stored document instead.
 * Throws if the key collided but nothing is found (another unique index refused it, or the
 * holder was deleted in between: neither is an idempotent replay).
 */
export async function insertOrGet<T extends Document & { _id: string }>(collection: Collection<T>, doc: T): Promise<InsertOrGetResult<T>> {
  try {
    await collection.insertOne(doc as OptionalUnlessRequiredId<T>);
    return { inserted: true, doc };
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const existing = await collection.findOne({ _id: doc._id } as never);
    if (!existing) throw err;
    return { inserted: false, doc: existing as WithId<T> };
  }
}

/** Inserts unless the `_id` exists; true when this call inserted it (a claim, a marker). */
export async function insertOnce<T extends Document & { _id: string }>(collection: Collection<T>, doc: T): Promise<boolean> {
  try {
    await collection.insertOne(doc as OptionalUnlessRequiredId<T>);
    return true;
  } catch (err) {
    if (isDuplicateKey(err)) return false;
    throw err;
  }
}

/**
 * insertOnce for many concurrent callers: the inserts that arrive within one turn of the event
 * loop go to the database as one unordered insertMany (one round trip and, on SQLite, one
 * commit), and each caller learns whether its own document was the one inserted. The inbox uses
 * it: the deliveries a consumer holds at once claim their events together.
 */
export class BatchedInsertOnce<T extends Document & { _id: string }> {
  private queue: { doc: T; settle: (inserted: boolean | Error) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly collection: Collection<T>,
    private readonly maxBatch = 100,
  ) {}

  insertOnce(doc: T): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ doc, settle: (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)) });
      if (this.queue.length >= this.maxBatch) void this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue.splice(0);
    if (batch.length === 0) return;
    try {
      await this.collection.insertMany(
        batch.map((b) => b.doc as OptionalUnlessRequiredId<T>),
        { ordered: false },
      );
      for (const b of batch) b.settle(true);
    } catch (err) {
      if (!(err instanceof MongoBulkWriteError)) {
        for (const b of batch) b.settle(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      // Unordered: every document was tried; the ones in writeErrors were not inserted.
      const errors = [err.writeErrors].flat() as { index: number; code?: number; errmsg?: string }[];
      const failed = new Map(errors.map((e) => [e.index, e]));
      batch.forEach((b, i) => {
        const error = failed.get(i);
        if (!error) b.settle(true);
        else if (error.code === 11000) b.settle(false);
        else b.settle(new Error(error.errmsg ?? `insert failed (code ${error.code})`));
      });
    }
  }
}
