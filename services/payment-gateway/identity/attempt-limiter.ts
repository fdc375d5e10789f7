// Attempts limited per scope (sign-in: the account — the normalized e-mail, known or not — and the
// client address; sign-up: the client address) in a sliding window. Each scope's attempts are a
// sequenced log (services/common/data/sequenced-log.ts: `_id` `<scope>:<key>:<seq>`), appended
// BEFORE the work they guard (checking a password, hashing one): an attempt goes ahead only when
// fewer than the limit of the attempts before it in the window still count. What counts is the
// limiter's choice: for sign-in, failed attempts and those still in flight (a success is marked
// and no longer counts); for sign-up, every attempt let through. A refused attempt never counts.
// The append is the concurrency guard — a burst of concurrent attempts takes consecutive seqs,
// and each sees all the ones before it — and every read is by `_id`, walking back from the
// attempt's own seq (at most `limit` counted entries, stopping at the window's start). Old
// attempts are purged opportunistically (no TTL indexes on FerretDB).
import type { Db } from 'mongodb';
import { type LogEntry, SequencedLog } from '../../common/data/sequenced-log.js';
import type { IndexPlan } from '../../common/mongo.js';

interface AttemptEntry extends LogEntry {
  at: Date;
  outcome: 'pending' | 'failed' | 'succeeded' | 'refused';
}

/** One limit an attempt is held to: at most `max` counted attempts of `key` in the window (0: no limit). */
export interface AttemptScope<S extends string = string> {
  scope: S;
  key: string;
  max: number;
}

export type AttemptDecision<S extends string = string> = { allowed: true; attemptId: string } | { allowed: false; retryAfterS: number; limitedBy: S[] };

export interface AttemptLimiterOptions {
  /** `failures`: attempts marked failed, and those in flight; `all`: every attempt let through. */
  counts: 'failures' | 'all';
}

/** The index a limiter's collection needs for its purge (MongoDB). */
export const attemptIndexes = (collection: string): IndexPlan => ({ [collection]: [{ key: { at: 1 }, name: 'by_time' }] });

/** Entries walked at most per scope while counting (uncounted attempts in between are skipped). */
const MAX_WALK = 200;

export class AttemptLimiter<S extends string = string> {
  private readonly attempts: SequencedLog<AttemptEntry>;
  private readonly counted: (entry: AttemptEntry) => boolean;

  constructor(db: Db, collection: string, options: AttemptLimiterOptions) {
    this.attempts = new SequencedLog<AttemptEntry>(db, collection);
    this.counted = options.counts === 'all' ? (e) => e.outcome !== 'refused' : (e) => e.outcome === 'pending' || e.outcome === 'failed';
  }

  /** Records an attempt in every scope; refused (and not counted) when one of them is over its limit. */
  async begin(scopes: AttemptScope<S>[], now: Date, windowS: number): Promise<AttemptDecision<S>> {
    const limited = scopes.filter((scope) => scope.max > 0).map((scope) => ({ ...scope, owner: `${scope.scope}:${scope.key}` }));
    const since = now.getTime() - windowS * 1000;
    const entries = await Promise.all(
      limited.map(async (scope) => {
        const result = await this.attempts.append(scope.owner, () => ({ at: now, outcome: 'pending' }));
        if (!result.appended) throw new Error('an attempt is never refused by the log');
        return result.entry;
      }),
    );
    const waits: { by: S; seconds: number }[] = [];
    await Promise.all(
      limited.map(async (scope, i) => {
        const own = entries[i]!;
        const { entries: counted } = await this.attempts.walkBack(scope.owner, own.seq - 1, {
          limit: scope.max,
          accept: this.counted,
          stop: (e) => e.at.getTime() < since,
          maxScanned: MAX_WALK,
          batch: scope.max,
        });
        if (counted.length < scope.max) return;
        // A slot frees when the oldest of the last `max` attempts leaves the window.
        const frees = counted[scope.max - 1]!.at.getTime() + windowS * 1000;
        waits.push({ by: scope.scope, seconds: Math.max(1, Math.ceil((frees - now.getTime()) / 1000)) });
      }),
    );
    const attemptId = JSON.stringify(entries.map((e) => e._id));
    if (waits.length === 0) return { allowed: true, attemptId };
    await this.mark(attemptId, 'refused');
    return { allowed: false, retryAfterS: Math.max(...waits.map((w) => w.seconds)), limitedBy: waits.map((w) => w.by) };
  }

  /** A successful attempt (no longer counts when the limiter counts failures). */
  async succeeded(attemptId: string): Promise<void> {
    await this.mark(attemptId, 'succeeded');
  }

  /** A failed attempt counts until it leaves the window (it counts while pending too). */
  async failed(attemptId: string): Promise<void> {
    await this.mark(attemptId, 'failed');
  }

  /** Forgets attempts older than the window, and scopes idle since (a batch job: these filters are not by `_id`). */
  async purge(now: Date, windowS: number): Promise<void> {
    const before = new Date(now.getTime() - windowS * 1000);
    await this.attempts.entries.deleteMany({ at: { $lt: before } });
    await this.attempts.forgetIdleOwners({ 'entry.at': { $lt: before } });
  }

  private async mark(attemptId: string, outcome: AttemptEntry['outcome']): Promise<void> {
    for (const id of JSON.parse(attemptId) as string[]) await this.attempts.entries.updateOne({ _id: id }, { $set: { outcome } });
  }
}
