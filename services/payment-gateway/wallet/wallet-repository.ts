// Wallet storage on MongoDB, correct on FerretDB too (no transactions; only a unique `_id` is an
// atomic guard; every read and write is a filter of `_id` alone — docs/architecture.md).
//
// Balances are an append-only ledger per account (`wallet_ledger`, services/common/data/
// sequenced-log.ts): entry `<account>:<seq>` carries the balance after it, and the unique `_id`
// is the sequence invariant — two writers of one seq collide and the loser retries on fresh
// state, so a balance never goes below zero. `wallet_ledger_heads` holds each account's latest
// entry as a starting hint.
//
// A leg (a top-up's credit, a transfer's debit or credit) is applied exactly once, and its
// outcome is an entry either way: a debit the balance cannot cover is written as a `refused`
// entry (balance unchanged), so "debited" and "refused" are two values of one append and
// exclude each other by the ledger's own guard. To find a leg, `wallet_legs` keeps a pointer
// (`_id`: `${topUpId}:credit`, `${transferId}:debit`…) to the seq its first writer claimed,
// inserted once before that writer's first insert. Every writer of the leg — the request, a
// retry, the reconciler — checks the entries from that seq up to the head it builds on, and the
// occupant of every seq it collides on, for the leg before appending: two writers of one leg
// meet on the same seqs, so it is never appended twice.
//
// A transfer (`wallet_transfers`, `_id` derived from the caller and its Idempotency-Key) is
// pending until its legs are written, then completed or failed. Its `wallet.transfer-completed`
// outbox marker (services/common/events/outbox.ts) is written first and waits while the transfer
// is pending: those markers are the reconciler's pending work, so recovery costs the number of
// pending transfers, not the number ever made, and no set of its own is written and cleared.
import type { Collection, Db } from 'mongodb';
import { insertOrGet } from '../../common/data/insert-or-get.js';
import type { PendingWork } from '../../common/data/pending-set.js';
import { type LogEntry, SequencedLog } from '../../common/data/sequenced-log.js';
import type { Outbox, OutboxSource } from '../../common/events/outbox.js';
import { idForIdempotencyKey } from '../../common/ids.js';
import type { IndexPlan } from '../../common/mongo.js';

export type TransactionType = 'top-up' | 'transfer-in' | 'transfer-out';
/** A ledger entry's kind: a transaction, or a debit refused (no money moved; not listed). */
export type EntryType = TransactionType | 'refused';

export interface Party {
  userId: string;
  email: string;
  name: string;
}

export interface LedgerEntry extends LogEntry {
  /** `<account>:<seq>`; `owner` is the account (the user id). */
  _id: string;
  /** The leg this entry applies: `${topUpId}:credit`, `${transferId}:debit` or `${transferId}:credit`. */
  legId: string;
  type: EntryType;
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
  /** Refused entries: why. */
  reason?: TransferFailure;
  requestId?: string;
  correlationId?: string;
}

interface LegPointer {
  _id: string; // the leg id
  account: string;
  /** The seq the leg's first writer claimed: the leg is at this seq or after it. */
  seq: number;
  at: string;
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
}

export const walletIndexes: IndexPlan = {
  // Every hot read is by `_id`. For MongoDB in production, what lists and reports filter on:
  wallet_ledger: [{ key: { owner: 1, seq: -1 }, name: 'by_account' }],
  wallet_transfers: [{ key: { 'from.userId': 1, createdAt: -1 }, name: 'by_sender' }],
  // wallet_accounts, wallet_legs: read by `_id` only.
};

export const legKey = (sourceId: string, leg: 'debit' | 'credit') => `${sourceId}:${leg}`;
const transactionIdOf = (legId: string) => idForIdempotencyKey('txn', 'wallet-ledger', legId);

export type BeginTransferResult = { created: boolean; transfer: TransferRecord };
export type DebitResult = { debited: true; entry: LedgerEntry } | { debited: false; reason: TransferFailure };
export type TopUpResult = { created: boolean; entry: LedgerEntry };
type LegBody = Omit<LedgerEntry, '_id' | 'owner' | 'seq'>;

export interface ListQuery {
  accountId: string;
  type?: TransactionType;
  from?: string;
  to?: string;
  beforeSeq?: number;
  limit: number;
}

/** A page of a wallet's entries; `nextBeforeSeq` where the next page starts when more may follow. */
export interface LedgerPage {
  entries: LedgerEntry[];
  nextBeforeSeq?: number;
}

/** Entries read at most per page when a filter skips most of them (the rest comes on the next page). */
const MAX_SCANNED_PER_PAGE = 1_000;

/** A wallet's fixed facts: its currency, chosen once (the first top-up, or the first transfer to it). */
export interface WalletAccount {
  _id: string; // the user id
  currency: string;
  openedAt: string;
}

export class WalletRepository {
  readonly ledger: SequencedLog<LedgerEntry>;
  private readonly accounts: Collection<WalletAccount>;
  private readonly legs: Collection<LegPointer>;
  private readonly transfers: Collection<TransferRecord>;
  /** Transfers not yet settled: their `wallet.transfer-completed` markers, waiting in the outbox. */
  readonly pendingTransfers: PendingWork;

  constructor(
    db: Db,
    private readonly outbox: Outbox,
  ) {
    this.ledger = new SequencedLog<LedgerEntry>(db, 'wallet_ledger');
    this.accounts = db.collection('wallet_accounts');
    this.legs = db.collection('wallet_legs');
    this.transfers = db.collection('wallet_transfers');
    this.pendingTransfers = outbox.pendingWork('wallet.transfer-completed');
  }

  /** Sequence collisions retried, for tests and measurements. */
  get stats() {
    return this.ledger.stats;
  }

  /** The outbox sources this repository's events are built from. */
  outboxSources(): Record<string, OutboxSource> {
    return {
      'wallet.topped-up': async (legId) => {
        const entry = await this.findLeg(legId);
        if (entry === undefined) return 'missing';
        return {
          type: 'wallet.topped-up',
          data: { userId: entry.owner, transactionId: entry.transactionId, amount: entry.amount, currency: entry.currency, balanceAfter: entry.balanceAfter, at: entry.at },
          meta: { id: legId, correlationId: entry.correlationId ?? legId, ...(entry.requestId ? { causationId: entry.requestId } : {}), time: entry.at },
        };
      },
      'wallet.transfer-completed': async (transferId) => {
        const transfer = await this.findTransfer(transferId);
        if (!transfer) return 'missing';
        if (transfer.status === 'pending') return 'wait';
        if (transfer.status === 'failed') return 'drop';
        const at = transfer.completedAt ?? transfer.createdAt;
        return {
          type: 'wallet.transfer-completed',
          data: { transferId, fromUserId: transfer.from.userId, toUserId: transfer.to.userId, amount: transfer.amount, currency: transfer.currency, at },
          meta: { id: transferId, correlationId: transfer.correlationId ?? transferId, ...(transfer.requestId ? { causationId: transfer.requestId } : {}), time: at },
        };
      },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Accounts

  async account(userId: string): Promise<WalletAccount | undefined> {
    return (await this.accounts.findOne({ _id: userId })) ?? undefined;
  }

  /**
   * The wallet's account, opened in `currency` if it has none yet. Concurrent openings in two
   * currencies: one insert wins and both callers get its currency (the other is then refused).
   */
  async open(userId: string, currency: string, at: string): Promise<WalletAccount> {
    // Usually open already: a read, then the insert only for a new wallet.
    return (await this.account(userId)) ?? (await insertOrGet(this.accounts, { _id: userId, currency, openedAt: at })).doc;
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  /** The wallet's balance from the ledger's head (authoritative), with the time of its latest entry. */
  async balance(accountId: string): Promise<{ balance: number; updatedAt?: string }> {
    const head = await this.ledger.head(accountId);
    return head ? { balance: head.balanceAfter, updatedAt: head.at } : { balance: 0 };
  }

  /**
   * A page of an account's entries, newest first, read by `_id` from the head down: its cost is
   * the page (plus the entries a filter skips, at most MAX_SCANNED_PER_PAGE), never other wallets.
   */
  async list(query: ListQuery): Promise<LedgerPage> {
    const start = query.beforeSeq !== undefined ? query.beforeSeq - 1 : ((await this.ledger.head(query.accountId))?.seq ?? 0);
    const { entries, scannedTo, exhausted } = await this.ledger.walkBack(query.accountId, start, {
      limit: query.limit + 1,
      accept: (e) => e.type !== 'refused' && (query.type === undefined || e.type === query.type) && (query.to === undefined || e.at < query.to),
      // Entries are appended in time order: past `from`, nothing older can match.
      stop: (e) => query.from !== undefined && e.at < query.from,
      maxScanned: MAX_SCANNED_PER_PAGE,
      batch: 50,
    });
    if (entries.length > query.limit) return { entries: entries.slice(0, query.limit), nextBeforeSeq: entries[query.limit - 1]!.seq };
    // The filter skipped many: the page is short, and the next one starts where the scan stopped.
    if (!exhausted && scannedTo > 1) return { entries, nextBeforeSeq: scannedTo };
    return { entries };
  }

  async findTransfer(transferId: string): Promise<TransferRecord | undefined> {
    return (await this.transfers.findOne({ _id: transferId })) ?? undefined;
  }

  /** A leg's entry (applied or refused); undefined when it was never written. */
  async findLeg(legId: string): Promise<LedgerEntry | undefined> {
    const pointer = await this.legs.findOne({ _id: legId });
    if (!pointer) return undefined;
    // From the claimed seq up: the leg is there or after it, and the log has no gaps.
    for (let seq = pointer.seq; ; seq++) {
      const entry = await this.ledger.get(pointer.account, seq);
      if (!entry) return undefined;
      if (entry.legId === legId) return entry;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Top-ups

  /** Credits a top-up, once per id: a second call with the same id returns the entry already there. */
  async topUp(input: { topUpId: string; accountId: string; amount: number; currency: string; requestHash: string; at: () => string; requestId?: string; correlationId?: string }): Promise<TopUpResult> {
    const legId = legKey(input.topUpId, 'credit');
    await this.outbox.add('wallet.topped-up', legId);
    const result = await this.applyLeg(legId, input.accountId, (head) => ({
      legId,
      type: 'top-up',
      transactionId: transactionIdOf(legId),
      amount: input.amount,
      currency: input.currency,
      balanceAfter: (head?.balanceAfter ?? 0) + input.amount,
      at: input.at(),
      requestHash: input.requestHash,
      ...(input.requestId !== undefined ? { requestId: input.requestId } : {}),
      ...(input.correlationId !== undefined ? { correlationId: input.correlationId } : {}),
    }));
    return { created: result.now, entry: result.entry };
  }

  // ---------------------------------------------------------------------------------------------
  // Transfers: begin (pending) → debit → credit → complete; or begin → refuse (failed).

  /** Stores the transfer as pending; `created: false` with the record already there for a retried key. */
  async beginTransfer(transfer: Omit<TransferRecord, 'status'>): Promise<BeginTransferResult> {
    // Listed as pending and owed to the outbox before it exists: a crash right after leaves an
    // entry the reconciler and the relay clear (no record), never a transfer nobody settles.
    await this.outbox.add('wallet.transfer-completed', transfer._id);
    const result = await insertOrGet(this.transfers, { ...transfer, status: 'pending' as const });
    return { created: result.inserted, transfer: result.doc };
  }

  /**
   * The debit leg: appended once, or refused for want of funds. Either outcome, once written, is
   * what every later call for this transfer gets.
   */
  async debit(transfer: TransferRecord, at: () => string): Promise<DebitResult> {
    const legId = legKey(transfer._id, 'debit');
    const { entry } = await this.applyLeg(legId, transfer.from.userId, (head) =>
      (head?.balanceAfter ?? 0) < transfer.amount ? refusal(transfer, 'insufficient-funds', head, at()) : transferLeg(transfer, 'debit', head, at()),
    );
    const outcome = outcomeOf(entry);
    if (!outcome.debited) await this.fail(transfer, outcome.reason, entry.at);
    return outcome;
  }

  /** The credit leg (never refused), once. */
  async credit(transfer: TransferRecord, at: () => string): Promise<LedgerEntry> {
    const { entry } = await this.applyLeg(legKey(transfer._id, 'credit'), transfer.to.userId, (head) => transferLeg(transfer, 'credit', head, at()));
    return entry;
  }

  /** Marks a transfer completed (both legs are written); repeating it changes nothing. */
  async complete(transfer: TransferRecord, at: string): Promise<void> {
    if (transfer.status !== 'completed') {
      // Unconditional by `_id`: only a transfer whose debit is written gets here, and a debit and
      // a refusal exclude each other, so no failure can be overwritten.
      await this.transfers.updateOne({ _id: transfer._id }, { $set: { status: 'completed', completedAt: at } });
    }
  }

  /**
   * Refuses a pending transfer in place of its debit (a crash interrupted it before the debit).
   * If the debit (or another refusal) got there first, that outcome stands and is returned.
   */
  async refuse(transfer: TransferRecord, reason: TransferFailure, at: string): Promise<DebitResult> {
    const { entry } = await this.applyLeg(legKey(transfer._id, 'debit'), transfer.from.userId, (head) => refusal(transfer, reason, head, at));
    const outcome = outcomeOf(entry);
    if (!outcome.debited) await this.fail(transfer, outcome.reason, at);
    return outcome;
  }

  /**
   * Settles transfers left pending (by a crash, or a request that failed midway) that have been
   * pending longer than `olderThanMs`: with a debit, the credit is written and the transfer
   * completed; without one, it is refused (`interrupted`). Never half applied. Returns how many
   * it settled.
   */
  async recoverTransfers(olderThanMs = 0): Promise<number> {
    let settled = 0;
    for (const item of await this.pendingTransfers.list({ olderThanMs })) {
      await this.settle(item._id);
      settled++;
    }
    return settled;
  }

  /** Drives one pending transfer to its end (the reconciler's unit of work). */
  async settle(transferId: string): Promise<void> {
    const transfer = await this.findTransfer(transferId);
    if (!transfer) {
      // Listed, then the process died before the record was written: nothing to settle (the
      // relay drops its marker once it is old enough).
      return;
    }
    const now = () => new Date().toISOString();
    if (transfer.status === 'pending') {
      const debit = await this.findLeg(legKey(transfer._id, 'debit'));
      const outcome = debit === undefined ? await this.refuse(transfer, 'interrupted', now()) : outcomeOf(debit);
      if (outcome.debited) {
        await this.credit(transfer, now);
        await this.complete(transfer, now());
      } else await this.fail(transfer, outcome.reason, now());
    }
  }

  private async fail(transfer: TransferRecord, reason: TransferFailure, at: string): Promise<void> {
    if (transfer.status === 'pending') {
      await this.transfers.updateOne({ _id: transfer._id }, { $set: { status: 'failed', failedAt: at, failureReason: reason } });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Applying a leg exactly once

  /**
   * Appends the entry `build` makes from the head for `legId`, once: if any writer already
   * appended it, that entry is returned (`now: false`). See the file's header.
   */
  private async applyLeg(legId: string, account: string, build: (head: LedgerEntry | undefined) => LegBody): Promise<{ entry: LedgerEntry; now: boolean }> {
    // No read first: claiming the pointer answers the seq another writer claimed, if any, and
    // the log checks the entries from there (a retry of an applied leg costs one collision).
    const result = await this.ledger.append(account, build, {
      isOwn: (entry) => entry.legId === legId,
      claim: async (seq: number) => {
        const claimed = await insertOrGet(this.legs, { _id: legId, account, seq, at: new Date().toISOString() });
        return claimed.doc.seq;
      },
    });
    if (result.appended) return { entry: result.entry, now: true };
    if (result.own) return { entry: result.own, now: false };
    throw new Error(`the ledger refused leg ${legId}`); // build never refuses
  }
}

const outcomeOf = (entry: LedgerEntry): DebitResult =>
  entry.type === 'refused' ? { debited: false, reason: entry.reason ?? 'insufficient-funds' } : { debited: true, entry };

/** A debit refused, as the entry that stands in its place (balance unchanged). */
function refusal(transfer: TransferRecord, reason: TransferFailure, head: LedgerEntry | undefined, at: string): LegBody {
  const legId = legKey(transfer._id, 'debit');
  return {
    legId,
    type: 'refused',
    transactionId: transactionIdOf(legId),
    amount: transfer.amount,
    currency: transfer.currency,
    balanceAfter: head?.balanceAfter ?? 0,
    at,
    transferId: transfer._id,
    reason,
  };
}

/** One leg of a transfer as a ledger entry after `head`. */
function transferLeg(transfer: TransferRecord, side: 'debit' | 'credit', head: LedgerEntry | undefined, at: string): LegBody {
  const legId = legKey(transfer._id, side);
  const debit = side === 'debit';
  const balance = head?.balanceAfter ?? 0;
  return {
    legId,
    type: debit ? 'transfer-out' : 'transfer-in',
    transactionId: transactionIdOf(legId),
    amount: transfer.amount,
    currency: transfer.currency,
    balanceAfter: debit ? balance - transfer.amount : balance + transfer.amount,
    at,
    transferId: transfer._id,
    counterparty: debit ? transfer.to : transfer.from,
    ...(transfer.note !== undefined ? { note: transfer.note } : {}),
    ...(transfer.requestId !== undefined ? { requestId: transfer.requestId } : {}),
    ...(transfer.correlationId !== undefined ? { correlationId: transfer.correlationId } : {}),
  };
}
