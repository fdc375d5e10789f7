// An append-only log per owner (a wallet's ledger, a contract's changes, a customer's list of
// contracts), keyed so that every read and write is a filter of `_id` alone — the only lookup the
// embedded FerretDB answers from an index (docs/architecture.md, data access):
//
//   entries  `_id: <owner>:<seq, zero-padded>`   seq 1, 2, 3… without gaps; the unique `_id` is
//                                                 the concurrency guard: two writers of one seq
//                                                 collide and the loser retries on fresh state
//   heads    `_id: <owner>`                      a copy of the latest entry: where to start
//
// The head copy is a hint, written after each append and never trusted alone: the true head is
// read from the log, probing forward from the copy's seq (`<owner>:<seq+1>` missing means `seq` is the latest), so a
// crash between the append and the copy, or two writers racing on the copy, costs a probe or
// two, never a wrong answer. Appends only ever insert at head+1, so the log has no gaps and an
// insert that succeeds at seq proves seq−1 was the head it was built on.
//
// Within one process, appends to one owner queue up and start from the entry the previous one
// wrote, so a burst does not become a storm of collisions; across processes the `_id` decides.
import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from '../mongo.js';
import { insertOnce } from './insert-or-get.js';

export interface LogEntry {
  _id: string;
  owner: string;
  seq: number;
}

export interface HeadCopy<E> {
  _id: string;
  seq: number;
  entry: E;
}

/** 12 digits: sorts as text in seq order up to a trillion entries per owner. */
export const logKey = (owner: string, seq: number) => `${owner}:${String(seq).padStart(12, '0')}`;

/** `own`: the entry was already written by another actor (an append with `once`). */
export type AppendResult<E> = { appended: true; entry: E } | { appended: false; head: E | undefined; own?: E };

/** How many appends to one owner may keep colliding before giving up (only other processes cause it). */
const MAX_ATTEMPTS = 50;
/** Heads remembered per process (a hint cache; least recently used dropped first). */
const MAX_HINTS = 10_000;

export class SequencedLog<E extends LogEntry> {
  readonly entries: Collection<E>;
  private readonly heads: Collection<HeadCopy<E>>;
  private readonly queues = new Map<string, { tail: Promise<unknown>; waiting: number }>();
  private readonly hints = new Map<string, E>();
  /** Probes, collisions and head reads, for tests and measurements. */
  readonly stats = { probes: 0, collisions: 0 };

  constructor(db: Db, entries: string, heads = `${entries}_heads`) {
    this.entries = db.collection(entries);
    this.heads = db.collection(heads);
  }

  async get(owner: string, seq: number): Promise<E | undefined> {
    if (seq < 1) return undefined;
    return ((await this.entries.findOne({ _id: logKey(owner, seq) } as never)) as E | null) ?? undefined;
  }

  /**
   * The owner's latest entry, authoritative: the head copy says only where to start; the entry
   * there is read itself, then the ones after it are probed until a seq is missing.
   */
  async head(owner: string): Promise<E | undefined> {
    const copy = await this.heads.findOne({ _id: owner } as never);
    let seq = copy?.seq ?? 0;
    let found = seq > 0 ? await this.get(owner, seq) : undefined;
    if (found === undefined) seq = 0; // a copy ahead of the log (its entries were purged): start over
    // Gallop forward (1, 2, 4… past the start), then bisect: a copy far behind costs log n probes.
    let step = 1;
    for (;;) {
      this.stats.probes++;
      const next = await this.get(owner, seq + step);
      if (!next) break;
      found = next;
      seq += step;
      step *= 2;
    }
    let low = seq; // exists (or 0)
    let high = seq + step; // missing
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      this.stats.probes++;
      const entry = await this.get(owner, mid);
      if (entry) {
        low = mid;
        found = entry;
      } else high = mid;
    }
    if (found && found.seq !== copy?.seq) await this.saveHead(found);
    if (found) this.remember(found);
    return found;
  }

  /**
   * Appends the entry `build` makes from the latest one (undefined for an empty log), at the next
   * seq. `build` returning undefined refuses: the refusal is only ever decided on the
   * authoritative head (a hint that refuses is checked against the log first).
   *
   * For an append that must happen once (a wallet leg), `once` finds it if another actor wrote
   * it: every entry from `once.from` up to the head the append builds on is checked with
   * `once.isOwn` before inserting, and so is every entry an insert collides with. `once.claim`
   * runs before the first insert with its seq and returns the seq from which this append's
   * twin may be found (its own seq, or the one another actor claimed first).
   */
  async append(
    owner: string,
    build: (previous: E | undefined) => Omit<E, '_id' | 'owner' | 'seq'> | undefined,
    once?: { isOwn: (entry: E) => boolean; from?: number; claim?: (seq: number) => Promise<number> },
  ): Promise<AppendResult<E>> {
    const result = await this.serialized(owner, async (): Promise<AppendResult<E>> => {
      let previous = this.hints.get(owner);
      let authoritative = false;
      if (previous === undefined) {
        previous = await this.head(owner);
        authoritative = true;
      }
      let unchecked = once?.from ?? Number.POSITIVE_INFINITY; // the lowest seq not yet checked for a twin
      let claimed = once?.claim === undefined;
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        if (once) {
          for (; unchecked <= (previous?.seq ?? 0); unchecked++) {
            const entry = await this.get(owner, unchecked);
            if (entry && once.isOwn(entry)) return { appended: false, head: previous, own: entry };
          }
        }
        const body = build(previous);
        if (body === undefined) {
          if (authoritative) return { appended: false, head: previous };
          previous = await this.head(owner);
          authoritative = true;
          continue;
        }
        const seq = (previous?.seq ?? 0) + 1;
        if (!claimed) {
          claimed = true;
          const from = await once!.claim!(seq);
          // From here on a twin may appear — written by another actor that claimed after us (it
          // got our seq) — so every seq this append moves past is checked from now on.
          unchecked = Math.min(unchecked, from);
          if (from < seq) continue; // another actor claimed first: look for its entry before appending
        }
        const entry = { ...body, _id: logKey(owner, seq), owner, seq } as E;
        if (!(await this.tryInsert(entry))) {
          if (once) {
            const occupant = await this.get(owner, seq);
            if (occupant && once.isOwn(occupant)) return { appended: false, head: occupant, own: occupant };
            if (unchecked === seq) unchecked++;
          }
          previous = await this.head(owner);
          authoritative = true;
          continue;
        }
        this.remember(entry);
        return { appended: true, entry };
      }
      throw new Error(`append to ${owner} kept colliding (${MAX_ATTEMPTS} attempts)`);
    });
    // The copy is written by the last append of a burst only: the ones before are superseded.
    if (result.appended && !this.queues.has(owner)) await this.saveHead(result.entry);
    return result;
  }

  /**
   * Inserts the entry at exactly `seq` (for callers that decide on the head themselves, like a
   * contract change built from the version it read): `appended: false` with the entry already
   * there when another writer took that seq first.
   */
  async insertAt(owner: string, seq: number, body: Omit<E, '_id' | 'owner' | 'seq'>): Promise<{ appended: true; entry: E } | { appended: false; existing: E }> {
    const entry = { ...body, _id: logKey(owner, seq), owner, seq } as E;
    if (!(await this.tryInsert(entry))) {
      const existing = await this.get(owner, seq);
      if (!existing) throw new Error(`${logKey(owner, seq)} collided but is not there`);
      return { appended: false, existing };
    }
    this.remember(entry);
    await this.saveHead(entry);
    return { appended: true, entry };
  }

  /** Entries `afterSeq + 1` up, at most `limit`, read by `_id` (stops at the head). */
  async range(owner: string, afterSeq: number, limit: number): Promise<E[]> {
    const rows = await Promise.all(Array.from({ length: limit }, (_, i) => this.get(owner, afterSeq + 1 + i)));
    const end = rows.findIndex((row) => row === undefined);
    return (end === -1 ? rows : rows.slice(0, end)) as E[];
  }

  /** The head copies (for lists that filter on the latest state: a batch read, not by `_id`). */
  get headCopies(): Collection<HeadCopy<E>> {
    return this.heads;
  }

  /**
   * Entries from `fromSeq` down (newest first), fetched `batch` at a time by `_id`, keeping those
   * `accept` takes, until `limit` are kept, seq 1 is passed, `stop` says so, or `maxScanned`
   * entries were read. `scannedTo` is the lowest seq read (where a next page starts below).
   */
  async walkBack(
    owner: string,
    fromSeq: number,
    options: { limit: number; accept?: (entry: E) => boolean; stop?: (entry: E) => boolean; maxScanned?: number; batch?: number },
  ): Promise<{ entries: E[]; scannedTo: number; exhausted: boolean }> {
    const kept: E[] = [];
    const maxScanned = options.maxScanned ?? Number.POSITIVE_INFINITY;
    let seq = fromSeq;
    let scanned = 0;
    while (seq >= 1 && kept.length < options.limit && scanned < maxScanned) {
      const size = Math.min(options.batch ?? Math.max(options.limit - kept.length, 1), seq, maxScanned - scanned);
      const seqs = Array.from({ length: size }, (_, i) => seq - i);
      const rows = await Promise.all(seqs.map((s) => this.get(owner, s)));
      for (const row of rows) {
        seq--;
        scanned++;
        if (!row) continue; // purged (logs that forget their oldest entries)
        if (options.stop?.(row)) return { entries: kept, scannedTo: seq + 1, exhausted: true };
        if (options.accept && !options.accept(row)) continue;
        kept.push(row);
        if (kept.length === options.limit) return { entries: kept, scannedTo: seq + 1, exhausted: seq < 1 };
      }
    }
    return { entries: kept, scannedTo: seq + 1, exhausted: seq < 1 };
  }

  /** Inserts the entry; false when its seq is taken (a collision, counted). */
  private async tryInsert(entry: E): Promise<boolean> {
    const inserted = await insertOnce(this.entries, entry);
    if (!inserted) this.stats.collisions++;
    return inserted;
  }

  private async saveHead(entry: E): Promise<void> {
    try {
      await this.heads.replaceOne({ _id: entry.owner } as never, { _id: entry.owner, seq: entry.seq, entry } as never, { upsert: true });
    } catch (err) {
      // Two upserts raced to insert the first copy: the other one is there, which is enough.
      if (!isDuplicateKey(err)) throw err;
    }
  }

  private remember(entry: E): void {
    const known = this.hints.get(entry.owner);
    if (known && known.seq > entry.seq) return;
    this.hints.delete(entry.owner);
    this.hints.set(entry.owner, entry);
    if (this.hints.size > MAX_HINTS) this.hints.delete(this.hints.keys().next().value!);
  }

  /**
   * Deletes the head copies matching `filter` (a batch job for logs that forget their entries:
   * an owner whose every entry was purged starts again at seq 1).
   */
  async forgetIdleOwners(filter: Record<string, unknown>): Promise<void> {
    await this.heads.deleteMany(filter as never);
    this.hints.clear();
  }

  /** Runs `task` after the tasks queued for the same owner in this process. */
  private serialized<T>(owner: string, task: () => Promise<T>): Promise<T> {
    const queue = this.queues.get(owner) ?? { tail: Promise.resolve(), waiting: 0 };
    queue.waiting++;
    const run = queue.tail.then(task, task);
    queue.tail = run.catch(() => {});
    this.queues.set(owner, queue);
    return run.finally(() => {
      if (--queue.waiting === 0 && this.queues.get(owner) === queue) this.queues.delete(owner);
    });
  }
}
