// The outbox: which events a service still owes the bus, kept apart from its state so that a
// relay pass costs the number of pending events, not the number ever written (docs/architecture.md: every
// hot read is a filter of `_id` alone; this collection is the one small set scanned).
//
// Writing a state change that announces an event goes:
//   1. outbox.add(source, key)   a marker `{_id: <source>/<key>}` (idempotent)
//   2. the state write itself    (the document the event is built from)
// and the relay, per marker, asks the source to build the event from the stored state by `_id`:
//   - built    → published, then the marker is deleted;
//   - 'missing'→ the state is not there (yet): step 2 is in flight; asked again next pass, and
//                after `abandonAfterMs` the marker is deleted (a crash between 1 and 2, or a
//                write that was refused: that state will never exist);
//   - 'wait'   → the state exists but is not ready to announce (a transfer not settled yet);
//   - 'drop'   → the state will never announce this (a refused transfer); the marker is deleted. No transaction is needed: the event cannot go out before its state
// exists, and a crash anywhere loses nothing. A crash between publish and delete publishes the
// same event id again, which consumers' inboxes skip.
//
// A marker whose event the bus refuses (it fails its schema: a bug, never fixed by retrying)
// is moved to `outbox_parked` with the reason, counted, and the others flow on.
import type { Collection, Db } from 'mongodb';
import type { EventPayloads, EventType } from '../../../generated/events/types.js';
import { insertOnce } from '../data/insert-or-get.js';
import type { PendingWork } from '../data/pending-set.js';
import type { IndexPlan } from '../mongo.js';
import type { EventMeta } from './cloud-event.js';

export interface OutboxMessage<T extends EventType = EventType> {
  /** The marker's key, handed back to markPublished / park. */
  outboxId: string;
  type: T;
  data: EventPayloads[T];
  /** Must carry a stable `id`, so a republished event is recognised as the same one. */
  meta: EventMeta & { id: string };
}

/** What a relay reads and acknowledges. */
export interface OutboxStore {
  /** Events ready to publish, oldest first. */
  pending(limit: number): Promise<OutboxMessage[]>;
  markPublished(outboxIds: string[]): Promise<void>;
  /** Sets aside an event the bus refuses, with why. */
  park(outboxId: string, reason: string): Promise<void>;
}

/** Builds the event a marker stands for from the stored state (read by `_id`). */
export type OutboxSource = (key: string) => Promise<Omit<OutboxMessage, 'outboxId'> | 'missing' | 'wait' | 'drop'>;

interface Marker {
  _id: string;
  source: string;
  key: string;
  at: Date;
}

interface ParkedMarker extends Marker {
  reason: string;
  parkedAt: Date;
}

export const outboxIndexes: IndexPlan = {
  // Scanned whole on every pass (it holds only what is pending); sorted in memory.
  outbox: [{ key: { at: 1 }, name: 'by_time' }],
  outbox_parked: [{ key: { parkedAt: 1 }, name: 'by_time' }],
};

export class Outbox implements OutboxStore {
  private readonly markers: Collection<Marker>;
  private readonly parked: Collection<ParkedMarker>;
  /** Events set aside since start (also on /metrics through the relay). */
  parkedCount = 0;

  private readonly sources: Record<string, OutboxSource> = {};

  constructor(
    db: Db,
    private readonly options: { abandonAfterMs?: number; now?: () => Date } = {},
  ) {
    this.markers = db.collection('outbox');
    this.parked = db.collection('outbox_parked');
  }

  /** True once some source is registered: a service that announces nothing needs no relay. */
  get hasSources(): boolean {
    return Object.keys(this.sources).length > 0;
  }

  /** Declares what builds the events of some sources (a repository's `outboxSources()`). */
  register(sources: Record<string, OutboxSource>): this {
    for (const [name, source] of Object.entries(sources)) {
      if (name in this.sources) throw new Error(`outbox source ${name} registered twice`);
      this.sources[name] = source;
    }
    return this;
  }

  /** Records that the state about to be written under `key` owes an event (before writing it). */
  async add(source: string, key: string): Promise<void> {
    if (!(source in this.sources)) throw new Error(`no outbox source named ${source}`);
    await insertOnce(this.markers, { _id: `${source}/${key}`, source, key, at: this.now() });
  }

  async pending(limit: number): Promise<OutboxMessage[]> {
    const markers = await this.markers.find({}).sort({ at: 1 }).toArray();
    const abandonBefore = this.now().getTime() - (this.options.abandonAfterMs ?? 60_000);
    const ready: OutboxMessage[] = [];
    for (const marker of markers) {
      if (ready.length === limit) break;
      const source = this.sources[marker.source];
      const built = source ? await source(marker.key) : 'drop';
      if (built === 'drop' || (built === 'missing' && marker.at.getTime() < abandonBefore)) {
        await this.markers.deleteOne({ _id: marker._id });
        continue;
      }
      if (typeof built !== 'string') ready.push({ outboxId: marker._id, ...built });
    }
    return ready;
  }

  async markPublished(outboxIds: string[]): Promise<void> {
    for (const id of outboxIds) await this.markers.deleteOne({ _id: id });
  }

  async park(outboxId: string, reason: string): Promise<void> {
    const marker = await this.markers.findOne({ _id: outboxId });
    if (!marker) return;
    await insertOnce(this.parked, { ...marker, reason, parkedAt: this.now() });
    await this.markers.deleteOne({ _id: outboxId });
    this.parkedCount++;
  }

  /**
   * The markers of one source as pending work: a state whose event waits for it to settle (a
   * payment the bank has not decided) is pending exactly as long as its marker lives, so a
   * reconciler can read them instead of a set of its own (two writes fewer per item).
   */
  pendingWork(source: string): PendingWork {
    return {
      list: async ({ olderThanMs = 0, limit, now = this.now() } = {}) => {
        const before = now.getTime() - olderThanMs;
        const markers = await this.markers.find({ source }).sort({ at: 1 }).toArray();
        return markers
          .filter((m) => m.at.getTime() <= before)
          .slice(0, limit ?? Number.POSITIVE_INFINITY)
          .map((m) => ({ _id: m.key, at: m.at }));
      },
      size: () => this.markers.countDocuments({ source }),
    };
  }

  /** How many events are waiting (for /metrics: the outbox's size). */
  async size(): Promise<number> {
    return this.markers.countDocuments({});
  }

  /** When the oldest waiting marker was written, if any (for /metrics: the outbox's lag; a scan of a small set). */
  async oldestAt(): Promise<Date | undefined> {
    const [oldest] = await this.markers.find({}).sort({ at: 1 }).limit(1).toArray();
    return oldest?.at;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}
