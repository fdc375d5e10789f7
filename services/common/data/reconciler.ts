// The reconciler: settles work left pending (a crash, a request that failed midway, a bank that
// never answered) — periodically, only for items older than `minAgeMs` (younger ones belong to
// whoever is working on them: a rolling restart must not fail another instance's in-flight
// transfer), and once per lease period across instances: before settling an item, an instance
// inserts `<name>:<item>:<period>`; the one insert that succeeds holds the item for that period.
// Settling must be idempotent (it is driven to the same end whoever does it, and whenever).
import type { Collection, Db } from 'mongodb';
import type { Logger } from 'pino';
import { insertOnce } from './insert-or-get.js';
import type { PendingWork } from './pending-set.js';

export interface ReconcilerOptions {
  /** Names the work in logs and leases (e.g. `wallet-transfers`). */
  name: string;
  pending: PendingWork;
  /** Drives one item to its end; `now` is the pass's clock (injected in tests). */
  settle: (id: string, now: Date) => Promise<void>;
  minAgeMs: number;
  intervalMs: number;
  /** How long a lease holds an item (default: 4 intervals, at least 30 s). */
  leaseMs?: number;
  log: Logger;
  now?: () => Date;
}

interface Lease {
  _id: string;
  at: Date;
}

export class Reconciler {
  private readonly leases: Collection<Lease>;
  private timer?: NodeJS.Timeout;
  private pass?: Promise<number>;
  private stopped = false;
  /** Items settled since start (tests, logs). */
  settled = 0;

  constructor(
    db: Db,
    private readonly options: ReconcilerOptions,
  ) {
    this.leases = db.collection('reconciler_leases');
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.pass = this.runOnce().catch((err: unknown) => {
        this.options.log.warn({ err, reconciler: this.options.name }, 'reconciler pass failed; trying again next time');
        return 0;
      });
      void this.pass.finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.options.intervalMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  get name(): string {
    return this.options.name;
  }

  /** How many items wait (for /metrics: the reconciler's backlog). */
  backlog(): Promise<number> {
    return this.options.pending.size();
  }

  /** One pass: settles each old-enough item this instance can lease; returns how many it settled. */
  async runOnce(): Promise<number> {
    const now = this.options.now?.() ?? new Date();
    const leaseMs = this.options.leaseMs ?? Math.max(30_000, 4 * this.options.intervalMs);
    const period = Math.floor(now.getTime() / leaseMs);
    let settled = 0;
    for (const item of await this.options.pending.list({ olderThanMs: this.options.minAgeMs, now })) {
      if (this.stopped) break;
      if (!(await insertOnce(this.leases, { _id: `${this.options.name}:${item._id}:${period}`, at: now }))) continue;
      try {
        await this.options.settle(item._id, now);
        settled++;
        this.options.log.info({ reconciler: this.options.name, item: item._id }, 'looked at work left pending');
      } catch (err) {
        this.options.log.warn({ err, reconciler: this.options.name, item: item._id }, 'settling failed; trying again later');
      }
      // Done with it for this pass: an item still pending (a bank still processing) is looked at
      // again on the next pass, not a lease period later.
      await this.leases.deleteOne({ _id: `${this.options.name}:${item._id}:${period}` });
    }
    // Leases of past periods hold nothing any more (a batch delete, not on a request's path).
    await this.leases.deleteMany({ at: { $lt: new Date(now.getTime() - 2 * leaseMs) } });
    this.settled += settled;
    return settled;
  }
}
