// Sign-in attempts limited per account (the normalized e-mail, known or not) and per client
// address, in a sliding window. Each attempt is an inserted document, recorded BEFORE the
// password is checked and deleted when it succeeds: what remains are the failures (and attempts
// still in flight). An attempt goes ahead only when fewer than the limit precede it in the
// window, so a burst of concurrent guesses cannot all slip past one count (DESIGN.md §6: no
// read-then-write guard). Old attempts are purged opportunistically (no TTL indexes).
import type { Collection, Db, Filter } from 'mongodb';
import { newId } from '../../common/ids.js';
import type { IndexPlan } from '../../common/mongo.js';

interface AttemptRecord {
  _id: string;
  account: string;
  client: string;
  at: Date;
}

export interface LimiterSettings {
  maxPerAccount: number;
  maxPerClient: number;
  windowS: number;
}

export type AttemptDecision = { allowed: true; attemptId: string } | { allowed: false; retryAfterS: number; limitedBy: ('account' | 'client')[] };

export const signInAttemptIndexes: IndexPlan = {
  sign_in_attempts: [
    { key: { account: 1, at: -1 }, name: 'by_account' },
    { key: { client: 1, at: -1 }, name: 'by_client' },
    { key: { at: 1 }, name: 'by_time' },
  ],
};

export class SignInLimiter {
  private readonly attempts: Collection<AttemptRecord>;

  constructor(db: Db) {
    this.attempts = db.collection('sign_in_attempts');
  }

  /** Records an attempt; refused (and forgotten) when the account or the client is over its limit. */
  async begin(account: string, client: string, now: Date, settings: LimiterSettings): Promise<AttemptDecision> {
    const attempt: AttemptRecord = { _id: newId('sia'), account, client, at: now };
    await this.attempts.insertOne(attempt);
    const since = new Date(now.getTime() - settings.windowS * 1000);
    const [byAccount, byClient] = await Promise.all([
      this.preceding({ account }, attempt, since, settings.maxPerAccount),
      this.preceding({ client }, attempt, since, settings.maxPerClient),
    ]);
    const waits: { by: 'account' | 'client'; seconds: number }[] = [];
    for (const [by, rows, max] of [
      ['account', byAccount, settings.maxPerAccount],
      ['client', byClient, settings.maxPerClient],
    ] as const) {
      if (max <= 0 || rows.length < max) continue; // 0: no limit
      // A slot frees when the oldest of the last `max` attempts leaves the window.
      const frees = rows[max - 1]!.at.getTime() + settings.windowS * 1000;
      waits.push({ by, seconds: Math.max(1, Math.ceil((frees - now.getTime()) / 1000)) });
    }
    if (waits.length === 0) return { allowed: true, attemptId: attempt._id };
    await this.attempts.deleteOne({ _id: attempt._id });
    return { allowed: false, retryAfterS: Math.max(...waits.map((w) => w.seconds)), limitedBy: waits.map((w) => w.by) };
  }

  /** A successful attempt does not count. */
  async succeeded(attemptId: string): Promise<void> {
    await this.attempts.deleteOne({ _id: attemptId });
  }

  async purge(now: Date, windowS: number): Promise<void> {
    await this.attempts.deleteMany({ at: { $lt: new Date(now.getTime() - windowS * 1000) } });
  }

  /** The newest `limit` attempts of the same account or client before `attempt` in the window. */
  private preceding(scope: Filter<AttemptRecord>, attempt: AttemptRecord, since: Date, limit: number): Promise<AttemptRecord[]> {
    if (limit <= 0) return Promise.resolve([]);
    return this.attempts
      .find({
        ...scope,
        at: { $gte: since },
        $or: [{ at: { $lt: attempt.at } }, { at: attempt.at, _id: { $lt: attempt._id } }],
      })
      .sort({ at: -1, _id: -1 })
      .limit(limit)
      .project<AttemptRecord>({ at: 1 })
      .toArray();
  }
}
