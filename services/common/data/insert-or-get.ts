// "Insert, and if the key is taken, read what is there": the one atomic guard both MongoDB and
// FerretDB give without transactions (a unique `_id`). Every idempotent write in the services is
// built on it, so the pattern lives here once. The read back is a filter of `_id` alone, the only
// lookup the embedded FerretDB answers from an index (docs/architecture.md, data access).
import type { Collection, Document, OptionalUnlessRequiredId, WithId } from 'mongodb';
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
