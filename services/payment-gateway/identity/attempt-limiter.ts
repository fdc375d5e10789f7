// Sign-in attempts limited per account (the normalized e-mail, known or not) and per client
// address, in a sliding window. Each scope's attempts are a sequenced log (services/common/data/
// sequenced-log.ts: `_id` `<scope>:<seq>`), appended BEFORE the password is checked: an attempt
// goes ahead only when fewer than the limit of the attempts before it in the window still count
// (failed, or still in flight). The append is the concurrency guard — a burst of concurrent
// guesses takes consecutive seqs, and each sees all the ones before it — and every read is by
// `_id`, walking back from the attempt's own seq (at most `limit` counted entries, stopping at
// the window's start). A successful attempt is marked and no longer counts; a refused one never
// counted. Old attempts are purged opportunistically (no TTL indexes on FerretDB).
import type { Db } from 'mongodb';
import { type LogEntry, SequencedLog } from '../../common/data/sequenced-log.js';
import type { IndexPlan } from '../../common/mongo.js';

interface AttemptEntry extends LogEntry {
  at: Date;
  outcome: 'pending' | 'failed' | 'succeeded' | 'refused';
}

export interface LimiterSettings {
  maxPerAccount: number;
  maxPerClient: number;
  windowS: number;
}

export type AttemptDecision = { allowed: true; attemptId: string } | { allowed: false; retryAfterS: number; limitedBy: ('account' | 'client')[] };

export const signInAttemptIndexes: IndexPlan = {
  sign_in_attempts: [{ key: { at: 1 }, name: 'by_time' }],
};

/** Entries walked at most per scope while counting (successes in between are skipped). */
const MAX_WALK = 200;

export class SignInLimiter {
  private readonly attempts: SequencedLog<AttemptEntry>;

  constructor(db: Db) {
    this.attempts = new SequencedLog<AttemptEntry>(db, 'sign_in_attempts');
  }

  /** Records an attempt; refused (and not counted) when the account or the client is over its limit. */
  async begin(account: string, client: string, now: Date, settings: LimiterSettings): Promise<AttemptDecision> {
    const scopes = [
      { by: 'account' as const, owner: `account:${account}`, max: settings.maxPerAccount },
      { by: 'client' as const, owner: `client:${client}`, max: settings.maxPerClient },
    ].filter((scope) => scope.max > 0); // 0: no limit
    const since = now.getTime() - settings.windowS * 1000;
    const entries = await Promise.all(
      scopes.map(async (scope) => {
        const result = await this.attempts.append(scope.owner, () => ({ at: now, outcome: 'pending' }));
        if (!result.appended) throw new Error('an attempt is never refused by the log');
        return result.entry;
      }),
    );
    const waits: { by: 'account' | 'client'; seconds: number }[] = [];
    await Promise.all(
      scopes.map(async (scope, i) => {
        const own = entries[i]!;
        const { entries: counted } = await this.attempts.walkBack(scope.owner, own.seq - 1, {
          limit: scope.max,
          accept: (e) => e.outcome === 'pending' || e.outcome === 'failed',
          stop: (e) => e.at.getTime() < since,
          maxScanned: MAX_WALK,
          batch: scope.max,
        });
        if (counted.length < scope.max) return;
        // A slot frees when the oldest of the last `max` attempts leaves the window.
        const frees = counted[scope.max - 1]!.at.getTime() + settings.windowS * 1000;
        waits.push({ by: scope.by, seconds: Math.max(1, Math.ceil((frees - now.getTime()) / 1000)) });
      }),
    );
    const attemptId = JSON.stringify(entries.map((e) => e._id));
    if (waits.length === 0) return { allowed: true, attemptId };
    await this.mark(attemptId, 'refused');
    return { allowed: false, retryAfterS: Math.max(...waits.map((w) => w.seconds)), limitedBy: waits.map((w) => w.by) };
  }

  /** A successful attempt does not count. */
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
