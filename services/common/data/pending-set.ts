// The ids of work that is under way (transfers not yet settled; soon payments, settlements,
// billing runs, webhook deliveries), kept in a collection of their own: an id is added before
// the work starts and removed when it ends, so what a reconciler reads after a crash costs the
// number of pending items, not the number ever made. Adding and removing are by `_id`.
import type { Collection, Db } from 'mongodb';
import { insertOnce } from './insert-or-get.js';

export interface PendingItem {
  _id: string;
  /** When it was added: a reconciler leaves young items to whoever is working on them. */
  at: Date;
}

/** What a reconciler reads: items of pending work with the time each was added. */
export interface PendingWork {
  list(options?: { olderThanMs?: number; limit?: number; now?: Date }): Promise<PendingItem[]>;
  size(): Promise<number>;
}

export class PendingSet implements PendingWork {
  private readonly items: Collection<PendingItem>;

  constructor(db: Db, collection: string) {
    this.items = db.collection(collection);
  }

  async add(id: string, at = new Date()): Promise<void> {
    await insertOnce(this.items, { _id: id, at });
  }

  async remove(id: string): Promise<void> {
    await this.items.deleteOne({ _id: id });
  }

  /** Items added at least `olderThanMs` ago, oldest first (the whole set is read: it is small). */
  async list(options: { olderThanMs?: number; limit?: number; now?: Date } = {}): Promise<PendingItem[]> {
    const before = (options.now ?? new Date()).getTime() - (options.olderThanMs ?? 0);
    const all = await this.items.find({}).sort({ at: 1 }).toArray();
    return all.filter((item) => item.at.getTime() <= before).slice(0, options.limit ?? Number.POSITIVE_INFINITY);
  }

  async size(): Promise<number> {
    return this.items.countDocuments({});
  }
}
