// Wallet storage on MongoDB, correct on FerretDB too (no transactions; an update is a read then a
// separate write; only unique indexes are atomic — DESIGN.md §6).
//
// Balances are an append-only ledger (`wallet_entries`). Each entry belongs to one account (a
// user id), carries the account's next sequence number under the unique index {accountId, seq}
// and the balance after it. Appending = read the account's head (latest seq and balance),
// compute, insert seq + 1: a concurrent writer collides on the same seq and retries on fresh
// state, so a balance never goes below zero. Each entry's `_id` is its idempotent key
// (`${topUpId}:credit`, `${transferId}:debit`, `${transferId}:credit`): a retry or a recovery
// can never apply a leg twice, since the second insert collides on `_id`.
//
// A transfer (`wallet_transfers`, `_id` derived from the caller and its Idempotency-Key) is
// inserted `pending`, then its debit leg is appended, then its credit leg, then it is marked
// `completed`. Refusing a pending transfer for want of funds, or because a crash interrupted it
// before its debit, is also an insert under the debit's `_id` (a `void` marker in a pseudo-account
// of its own): the debit and the refusal exclude each other atomically, so a transfer is never
// both refused and debited, whoever races (retries, recovery, another instance).
//
// `wallet_accounts` is a per-account snapshot of the head (seq, balance), kept best-effort after
// each append. FerretDB answers any ledger query by reading the whole collection (see
// WalletRepository.head), so appends start from the snapshot — a stale one just makes the insert
// collide, after which the ledger itself is read. Refusals and balances are always read from the
// ledger: the snapshot is never trusted over it. Within one process, appends to one account
// queue up (during a burst the next starts from the head the previous wrote, a hint verified the
// same way), so a burst does not turn into a storm of collisions; across processes the unique
// index alone keeps writers apart.
//
// The records are also the outbox (DESIGN.md §5): a top-up's ledger entry and a transfer record
// are written with `published: false`, and `pending()` turns them into events.
import type { Collection, Db, Filter, WithoutId } from 'mongodb';
import type { OutboxMessage, OutboxStore } from '../../common/events/outbox-relay.js';
import { idForIdempotencyKey } from '../../common/ids.js';
import { type IndexPlan, isDuplicateKey } from '../../common/mongo.js';

export type TransactionType = 'top-up' | 'transfer-in' | 'transfer-out';

export interface Party {
  userId: string;
  email: string;
  name: string;
}

export interface LedgerEntry {
  /** The leg's idempotent key: `${topUpId}:credit`, `${transferId}:debit` or `${transferId}:credit`. */
  _id: string;
  /** The user whose wallet this is; `void:${transferId}` for a refused debit's marker. */
  accountId: string;
  /** 1, 2, 3… per account, without gaps (each append read the entry before it). 0 for a marker. */
  seq: number;
  type: TransactionType | 'void';
  /** The id the API shows (`txn_…`), derived from the leg's key. */
  transactionId: string;
  amount: number;
  currency: string;
  balanceAfter: number;
  at: string;
  transferId?: string;
  /** The other side of a transfer leg. */
  counterparty?: Party;
  note?: string;
  /** Top-ups: tells an idempotent retry from another request with the same key. */
  requestHash?: string;
  /** Void markers: why the transfer was refused. */
  reason?: TransferFailure;
  requestId?: string;
  correlationId?: string;
  /** False until its event is published (top-ups; other entries announce nothing). */
  published: boolean;
}

export type TransferStatus = 'pending' | 'completed' | 'failed';
export type TransferFailure = 'insufficient-funds' | 'interrupted';

export interface TransferRecord {
  _id: string; // trf_…
  from: Party;
  to: Party;
  amount: number;
  currency: string;
  note?: string;
  requestHash: string;
  status: TransferStatus;
  /** Transitions are kept as their times (set once each, so a repeated write changes nothing). */
  createdAt: string;
  completedAt?: string;
  failedAt?: string;
  failureReason?: TransferFailure;
  requestId?: string;
  correlationId?: string;
  /** False until `wallet.transfer-completed` is published; a failed transfer announces nothing. */
  published: boolean;
}

interface AccountSnapshot {
  _id: string; // the account id
  seq: number;
  balance: number;
  at: string;
}

interface Head {
  seq: number;
  balance: number;
}

export const walletIndexes: IndexPlan = {
  wallet_entries: [
    // The concurrency guard: one entry per (account, seq).
    { key: { accountId: 1, seq: 1 }, name: 'account_seq', unique: true },
    { key: { published: 1, at: 1 }, name: 'unpublished' },
  ],
  wallet_transfers: [
    { key: { status: 1, createdAt: 1 }, name: 'by_status' },
    { key: { published: 1, status: 1 }, name: 'unpublished' },
  ],
  // wallet_accounts is looked up by _id only.
};

/** Appends that keep colliding past this many attempts give up (they can only come from other instances). */
const MAX_ATTEMPTS = 50;

export const legKey = (sourceId: string, leg: 'debit' | 'credit') => `${sourceId}:${leg}`;
const transactionIdOf = (legId: string) => idForIdempotencyKey('txn', 'wallet-ledger', legId);

export type BeginTransferResult = { created: true; transfer: TransferRecord } | { created: false; transfer: TransferRecord };
export type DebitResult = { debited: true; entry: LedgerEntry } | { debited: false; reason: TransferFailure };
export type TopUpResult = { created: boolean; entry: LedgerEntry };

export interface ListQuery {
  accountId: string;
  type?: TransactionType;
  from?: string;
  to?: string;
  beforeSeq?: number;
  limit: number;
}

export class WalletRepository implements OutboxStore {
  private readonly entries: Collection<LedgerEntry>;
  private readonly transfers: Collection<TransferRecord>;
  private readonly accounts: Collection<AccountSnapshot>;
  /** Appends to one account queue up in this process (fewer collisions); the unique index guards across processes. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** While appends to an account are queued here: the head the last of them wrote (a hint, like the snapshot). */
  private readonly hints = new Map<string, Head>();
  /** Ledger reads and collisions, for tests and measurements. */
  readonly stats = { ledgerReads: 0, collisions: 0 };

  constructor(
    db: Db,
    readonly currency: string,
  ) {
    this.entries = db.collection('wallet_entries');
    this.transfers = db.collection('wallet_transfers');
    this.accounts = db.collection('wallet_accounts');
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  /** The wallet's balance from the ledger (authoritative), with the time of its latest entry. */
  async balance(accountId: string): Promise<{ balance: number; updatedAt?: string }> {
    const latest = await this.latestEntry(accountId);
    return latest ? { balance: latest.balanceAfter, updatedAt: latest.at } : { balance: 0 };
  }

  /** A page of an account's entries, newest first (by seq), `limit + 1` rows to tell whether more follow. */
  async list(query: ListQuery): Promise<LedgerEntry[]> {
    const filter: Filter<LedgerEntry> = { accountId: query.accountId };
    if (query.type !== undefined) filter.type = query.type;
    if (query.beforeSeq !== undefined) filter.seq = { $lt: query.beforeSeq };
    if (query.from !== undefined || query.to !== undefined) {
      filter.at = { ...(query.from !== undefined ? { $gte: query.from } : {}), ...(query.to !== undefined ? { $lt: query.to } : {}) };
    }
    return this.entries.find(filter).sort({ seq: -1 }).limit(query.limit + 1).toArray();
  }

  async findTransfer(transferId: string): Promise<TransferRecord | undefined> {
    return (await this.transfers.findOne({ _id: transferId })) ?? undefined;
  }

  async findEntry(legId: string): Promise<LedgerEntry | undefined> {
    return (await this.entries.findOne({ _id: legId })) ?? undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Top-ups

  /** Credits a top-up, once per id: a second call with the same id returns the entry already there. */
  async topUp(input: { topUpId: string; accountId: string; amount: number; requestHash: string; at: () => string; requestId?: string; correlationId?: string }): Promise<TopUpResult> {
    const legId = legKey(input.topUpId, 'credit');
    const result = await this.appendCredit(input.accountId, legId, (head) => ({
      _id: legId,
      accountId: input.accountId,
      seq: head.seq + 1,
      type: 'top-up',
      transactionId: transactionIdOf(legId),
      amount: input.amount,
      currency: this.currency,
      balanceAfter: head.balance + input.amount,
      at: input.at(),
      requestHash: input.requestHash,
      ...(input.requestId !== undefined ? { requestId: input.requestId } : {}),
      ...(input.correlationId !== undefined ? { correlationId: input.correlationId } : {}),
      published: false,
    }));
    return { created: result.inserted, entry: result.entry };
  }

  // ---------------------------------------------------------------------------------------------
  // Transfers: begin (pending) → debit → credit → complete; or begin → refuse (failed).

  /** Inserts the transfer as pending; `created: false` with the record already there for a retried key. */
  async beginTransfer(transfer: Omit<TransferRecord, 'status' | 'published'>): Promise<BeginTransferResult> {
    const record: TransferRecord = { ...transfer, status: 'pending', published: false };
    try {
      await this.transfers.insertOne(record);
      return { created: true, transfer: record };
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const existing = await this.findTransfer(record._id);
      if (!existing) throw err;
      return { created: false, transfer: existing };
    }
  }

  /**
   * The debit leg: appended once, or refused for want of funds (the refusal is written under the
   * debit's key, so it and the debit exclude each other). Either outcome, once written, is what
   * every later call for this transfer gets.
   */
  async debit(transfer: TransferRecord, at: () => string): Promise<DebitResult> {
    const legId = legKey(transfer._id, 'debit');
    const account = transfer.from.userId;
    let recheck = false;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      // A refusal appends nothing to the account, so it is decided outside the account's queue,
      // on the ledger (authoritative): the queue only ever holds appends.
      const snapshot = await this.snapshotHead(account);
      if (recheck || (snapshot && snapshot.balance < transfer.amount)) {
        if ((await this.head(account, snapshot)).balance < transfer.amount) return this.refuse(transfer, 'insufficient-funds', at());
      }
      const result = await this.append(account, legId, (head) =>
        head.balance < transfer.amount
          ? undefined
          : transferLeg(transfer, 'debit', head, at()),
      );
      if (result === 'refused') return this.refuse(transfer, 'insufficient-funds', at());
      if (result === 'recheck') {
        recheck = true; // refused on a hint: ask the ledger, outside the queue
        continue;
      }
      return result.entry.type === 'void' ? { debited: false, reason: result.entry.reason ?? 'insufficient-funds' } : { debited: true, entry: result.entry };
    }
    throw new Error(`debit of ${transfer._id} could not be decided (${MAX_ATTEMPTS} attempts)`);
  }

  /** The credit leg (never refused), once. */
  async credit(transfer: TransferRecord, at: () => string): Promise<LedgerEntry> {
    const legId = legKey(transfer._id, 'credit');
    const result = await this.appendCredit(transfer.to.userId, legId, (head) => transferLeg(transfer, 'credit', head, at()));
    return result.entry;
  }

  /** Marks a transfer completed (both legs are written); repeating it changes nothing. */
  async complete(transfer: TransferRecord, at: string): Promise<void> {
    if (transfer.status === 'completed') return;
    await this.transfers.updateOne({ _id: transfer._id, status: 'pending' }, { $set: { status: 'completed', completedAt: at } });
  }

  /**
   * Refuses a pending transfer by writing a void marker under its debit's key. If the debit (or
   * another refusal) got there first, that outcome stands and is returned instead.
   */
  async refuse(transfer: TransferRecord, reason: TransferFailure, at: string): Promise<DebitResult> {
    const legId = legKey(transfer._id, 'debit');
    const marker: LedgerEntry = {
      _id: legId,
      accountId: `void:${transfer._id}`,
      seq: 0,
      type: 'void',
      transactionId: transactionIdOf(legId),
      amount: transfer.amount,
      currency: transfer.currency,
      balanceAfter: 0,
      at,
      transferId: transfer._id,
      reason,
      published: true,
    };
    try {
      await this.entries.insertOne(marker);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const existing = await this.findEntry(legId);
      if (!existing) throw err;
      if (existing.type !== 'void') return { debited: true, entry: existing };
      reason = existing.reason ?? reason;
    }
    await this.transfers.updateOne({ _id: transfer._id, status: 'pending' }, { $set: { status: 'failed', failedAt: at, failureReason: reason, published: true } });
    return { debited: false, reason };
  }

  /**
   * Settles the transfers a crash left pending: with a debit, the credit is written and the
   * transfer completed; without one, it is refused (`interrupted`). Never half applied. Returns
   * how many it settled.
   */
  async recoverTransfers(): Promise<number> {
    const pending = await this.transfers.find({ status: 'pending' }).sort({ createdAt: 1 }).toArray();
    const now = () => new Date().toISOString();
    for (const transfer of pending) {
      const debit = await this.findEntry(legKey(transfer._id, 'debit'));
      const outcome: DebitResult =
        debit === undefined
          ? await this.refuse(transfer, 'interrupted', now())
          : debit.type === 'void'
            ? { debited: false, reason: debit.reason ?? 'insufficient-funds' }
            : { debited: true, entry: debit };
      if (outcome.debited) {
        await this.credit(transfer, now);
        await this.complete(transfer, now());
      } else {
        await this.transfers.updateOne(
          { _id: transfer._id, status: 'pending' },
          { $set: { status: 'failed', failedAt: now(), failureReason: outcome.reason, published: true } },
        );
      }
    }
    return pending.length;
  }

  // ---------------------------------------------------------------------------------------------
  // Outbox

  async pending(limit: number): Promise<OutboxMessage[]> {
    const [topUps, transfers] = await Promise.all([
      this.entries.find({ published: false }).sort({ at: 1 }).limit(limit).toArray(),
      this.transfers.find({ published: false, status: 'completed' }).sort({ completedAt: 1 }).limit(limit).toArray(),
    ]);
    const messages: (OutboxMessage & { at: string })[] = [
      ...topUps.map((entry) => ({
        at: entry.at,
        outboxId: entry._id,
        type: 'wallet.topped-up' as const,
        data: { userId: entry.accountId, transactionId: entry.transactionId, amount: entry.amount, currency: entry.currency, balanceAfter: entry.balanceAfter, at: entry.at },
        meta: { id: entry._id, correlationId: entry.correlationId ?? entry._id, ...(entry.requestId ? { causationId: entry.requestId } : {}), time: entry.at },
      })),
      ...transfers.map((transfer) => {
        const at = transfer.completedAt ?? transfer.createdAt;
        return {
          at,
          outboxId: transfer._id,
          type: 'wallet.transfer-completed' as const,
          data: { transferId: transfer._id, fromUserId: transfer.from.userId, toUserId: transfer.to.userId, amount: transfer.amount, currency: transfer.currency, at },
          meta: { id: transfer._id, correlationId: transfer.correlationId ?? transfer._id, ...(transfer.requestId ? { causationId: transfer.requestId } : {}), time: at },
        };
      }),
    ];
    messages.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    return messages.slice(0, limit).map(({ at: _at, ...message }) => message);
  }

  async markPublished(outboxIds: string[]): Promise<void> {
    // Ledger entries' keys hold a `:leg` suffix; transfers' do not.
    const entryIds = outboxIds.filter((id) => id.includes(':'));
    const transferIds = outboxIds.filter((id) => !id.includes(':'));
    if (entryIds.length > 0) await this.entries.updateMany({ _id: { $in: entryIds } }, { $set: { published: true } });
    if (transferIds.length > 0) await this.transfers.updateMany({ _id: { $in: transferIds } }, { $set: { published: true } });
  }

  // ---------------------------------------------------------------------------------------------
  // The ledger append

  /**
   * Appends the entry `build` makes from the account's head, once per `legId`, in the account's
   * queue. Returns the entry written (or found already written under `legId`); `refused` when
   * `build` refused on the ledger's authoritative head; `recheck` when it refused on the snapshot
   * (the caller asks the ledger outside the queue, then calls again).
   */
  private async append(accountId: string, legId: string, build: (head: Head) => LedgerEntry | undefined): Promise<{ entry: LedgerEntry; inserted: boolean } | 'refused' | 'recheck'> {
    const result = await this.serialized(accountId, async () => {
      // The head this process last wrote or read while appends were queued, else the snapshot:
      // hints both, which the insert verifies (a stale one collides).
      let head = this.hints.get(accountId) ?? (await this.snapshotHead(accountId));
      let authoritative = head === undefined;
      head ??= await this.head(accountId);
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const entry = build(head);
        // A refusal is decided on the ledger only, never on a hint.
        if (!entry) return authoritative ? ('refused' as const) : ('recheck' as const);
        try {
          await this.entries.insertOne(entry);
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          this.stats.collisions++;
          // Our leg already written (a retry, a recovery), or another writer took this seq.
          const existing = await this.findEntry(legId);
          if (existing) return { entry: existing, inserted: false };
          head = await this.head(accountId);
          authoritative = true;
          continue;
        }
        this.hint(accountId, { seq: entry.seq, balance: entry.balanceAfter });
        return { entry, inserted: true };
      }
      throw new Error(`ledger append for ${accountId} kept colliding (${MAX_ATTEMPTS} attempts)`);
    });
    // Outside the queue: the next append of this process starts from the hint meanwhile.
    if (typeof result !== 'string' && result.inserted) await this.saveSnapshot(result.entry);
    return result;
  }

  /** Keeps the newest head seen while appends to the account are queued in this process. */
  private hint(accountId: string, head: Head): void {
    const known = this.hints.get(accountId);
    if (this.queues.has(accountId) && (!known || known.seq < head.seq)) this.hints.set(accountId, head);
  }

  /** A credit is never refused. */
  private async appendCredit(accountId: string, legId: string, build: (head: Head) => LedgerEntry): Promise<{ entry: LedgerEntry; inserted: boolean }> {
    const result = await this.append(accountId, legId, build);
    if (typeof result === 'string') throw new Error('a credit is never refused');
    return result;
  }

  /**
   * The account's head from the ledger. On FerretDB 1.24 this reads the whole collection
   * (measured: ~35–40 ms per 1,000 entries); on MongoDB it is one probe of {accountId, seq}.
   */
  private async head(accountId: string, snapshot?: Head): Promise<Head> {
    const latest = await this.latestEntry(accountId);
    const head = latest ? { seq: latest.seq, balance: latest.balanceAfter } : { seq: 0, balance: 0 };
    this.hint(accountId, head);
    // Repair a stale snapshot (a crash between an append and its snapshot, or a lost race).
    if (latest && !(snapshot && snapshot.seq >= latest.seq)) await this.saveSnapshot(latest);
    return head;
  }

  private async latestEntry(accountId: string): Promise<LedgerEntry | undefined> {
    this.stats.ledgerReads++;
    const [latest] = await this.entries.find({ accountId }).sort({ seq: -1 }).limit(1).toArray();
    return latest;
  }

  /** The snapshot's head (a small collection: ~1 ms), or undefined without one. */
  private async snapshotHead(accountId: string): Promise<Head | undefined> {
    const snapshot = await this.accounts.findOne({ _id: accountId });
    return snapshot ? { seq: snapshot.seq, balance: snapshot.balance } : undefined;
  }

  /** Best effort: moves the snapshot forward to `entry` unless it is already there or beyond. */
  private async saveSnapshot(entry: LedgerEntry): Promise<void> {
    try {
      await this.accounts.replaceOne(
        { _id: entry.accountId, seq: { $lt: entry.seq } },
        // _id stated explicitly rather than left to the server to copy from the filter on insert.
        { _id: entry.accountId, seq: entry.seq, balance: entry.balanceAfter, at: entry.at } as WithoutId<AccountSnapshot>,
        { upsert: true },
      );
    } catch (err) {
      // The upsert's insert collided: a snapshot at this seq or later is there already.
      if (!isDuplicateKey(err)) throw err;
    }
  }

  /** Runs `task` after the tasks queued for the same account in this process. */
  private serialized<T>(accountId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(accountId) ?? Promise.resolve();
    const run = previous.then(task, task);
    const tail = run.catch(() => {});
    this.queues.set(accountId, tail);
    void tail.then(() => {
      if (this.queues.get(accountId) !== tail) return;
      this.queues.delete(accountId);
      this.hints.delete(accountId); // kept only through a burst: memory stays bounded by what is queued
    });
    return run;
  }
}

/** One leg of a transfer as a ledger entry after `head` (transfer events come from the transfer record, not its legs). */
function transferLeg(transfer: TransferRecord, side: 'debit' | 'credit', head: Head, at: string): LedgerEntry {
  const legId = legKey(transfer._id, side);
  const debit = side === 'debit';
  return {
    _id: legId,
    accountId: debit ? transfer.from.userId : transfer.to.userId,
    seq: head.seq + 1,
    type: debit ? 'transfer-out' : 'transfer-in',
    transactionId: transactionIdOf(legId),
    amount: transfer.amount,
    currency: transfer.currency,
    balanceAfter: debit ? head.balance - transfer.amount : head.balance + transfer.amount,
    at,
    transferId: transfer._id,
    counterparty: debit ? transfer.to : transfer.from,
    ...(transfer.note !== undefined ? { note: transfer.note } : {}),
    ...(transfer.requestId !== undefined ? { requestId: transfer.requestId } : {}),
    ...(transfer.correlationId !== undefined ? { correlationId: transfer.correlationId } : {}),
    published: true,
  };
}
