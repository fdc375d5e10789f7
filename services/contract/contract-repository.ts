// Contract storage on MongoDB, correct on FerretDB too (no transactions, no atomic
// read-modify-write): every change is an insert into `contract_changes` keyed by
// (contract id, version). The unique key is the only concurrency guard — two writers of the same
// version collide and the loser retries on fresh state. `contracts` is the current snapshot of
// each contract, projected from its latest change and used for reads and listing. The change
// record is also the outbox: its event is relayed after the write (see OutboxStore below).
import type { Collection, Db, Filter, WithoutId } from 'mongodb';
import type { EventType } from '../../generated/events/types.js';
import type { OutboxMessage, OutboxStore } from '../common/events/outbox-relay.js';
import { type IndexPlan, isDuplicateKey } from '../common/mongo.js';
import { type ContractChangeType, type ContractStatus, type StoredContract, toApiContract } from './contract-domain.js';

export interface ContractChangeRecord {
  _id: string; // `${contractId}:${version}`
  contractId: string;
  version: number;
  type: ContractChangeType;
  status: ContractStatus;
  at: string;
  reason?: string;
  actor: string;
  requestId?: string;
  correlationId?: string;
  /** Set on the creation only: tells an idempotent retry from a different request with the same key. */
  requestHash?: string;
  contract: StoredContract;
  /** False until `contracts` shows this version; recovery projects what a crash left behind. */
  projected: boolean;
  /** False until its event is published: the change record is the outbox (DESIGN.md §5). */
  published: boolean;
}

type ContractRecord = StoredContract & { _id: string };

export const contractIndexes: IndexPlan = {
  contracts: [
    { key: { 'customer.id': 1, createdAt: -1, _id: -1 }, name: 'by_customer_newest' },
    { key: { createdAt: -1, _id: -1 }, name: 'newest' },
  ],
  contract_changes: [
    { key: { contractId: 1, version: 1 }, name: 'contract_version', unique: true },
    { key: { projected: 1 }, name: 'unprojected' },
    { key: { published: 1, at: 1 }, name: 'unpublished' },
  ],
};

export type AppendResult = { appended: true } | { appended: false; existing: ContractChangeRecord };

export interface ListQuery {
  customerId?: string;
  status?: ContractStatus;
  after?: { createdAt: string; id: string };
  limit: number;
}

export class ContractRepository implements OutboxStore {
  private readonly contracts: Collection<ContractRecord>;
  private readonly changes: Collection<ContractChangeRecord>;

  constructor(db: Db) {
    this.contracts = db.collection('contracts');
    this.changes = db.collection('contract_changes');
  }

  /** Appends a change; `appended: false` with the record already holding that version when another write got there first. */
  async append(change: Omit<ContractChangeRecord, '_id' | 'projected' | 'published'>): Promise<AppendResult> {
    const record: ContractChangeRecord = { _id: `${change.contractId}:${change.version}`, ...change, projected: false, published: false };
    try {
      await this.changes.insertOne(record);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const existing = await this.changes.findOne({ _id: record._id });
      if (!existing) throw err;
      return { appended: false, existing };
    }
    await this.project(record);
    return { appended: true };
  }

  /** The authoritative current state: the contract in its highest-version change. */
  async latest(contractId: string): Promise<StoredContract | undefined> {
    const [change] = await this.changes.find({ contractId }).sort({ version: -1 }).limit(1).toArray();
    return change?.contract;
  }

  async get(contractId: string): Promise<StoredContract | undefined> {
    const record = await this.contracts.findOne({ _id: contractId });
    return record ? withoutId(record) : undefined;
  }

  async list(query: ListQuery): Promise<StoredContract[]> {
    const filter: Filter<ContractRecord> = {};
    if (query.customerId !== undefined) filter['customer.id'] = query.customerId;
    if (query.status !== undefined) filter.status = query.status;
    if (query.after) {
      filter.$or = [
        { createdAt: { $lt: query.after.createdAt } },
        { createdAt: query.after.createdAt, _id: { $lt: query.after.id } },
      ];
    }
    const rows = await this.contracts.find(filter).sort({ createdAt: -1, _id: -1 }).limit(query.limit + 1).toArray();
    return rows.map(withoutId);
  }

  async history(contractId: string, afterVersion: number, limit: number): Promise<ContractChangeRecord[]> {
    return this.changes
      .find({ contractId, version: { $gt: afterVersion } })
      .sort({ version: 1 })
      .limit(limit + 1)
      .toArray();
  }

  /** Brings `contracts` up to date with changes a crash left unprojected. Returns how many it applied. */
  async projectPending(): Promise<number> {
    const pending = await this.changes.find({ projected: false }).sort({ contractId: 1, version: 1 }).toArray();
    for (const change of pending) await this.project(change);
    return pending.length;
  }

  /** Unpublished changes as events, oldest first (each contract's in version order). */
  async pending(limit: number): Promise<OutboxMessage[]> {
    const changes = await this.changes.find({ published: false }).sort({ at: 1, contractId: 1, version: 1 }).limit(limit).toArray();
    return changes.map((change) => ({
      outboxId: change._id,
      type: `contract.${change.type}` as EventType,
      data: {
        contractId: change.contractId,
        version: change.version,
        at: change.at,
        ...(change.reason !== undefined ? { reason: change.reason } : {}),
        actor: change.actor,
        contract: toApiContract(change.contract),
      },
      // The change's key is the event id: a republished event is recognisably the same one.
      meta: { id: change._id, correlationId: change.correlationId ?? change._id, ...(change.requestId ? { causationId: change.requestId } : {}), time: change.at },
    }));
  }

  async markPublished(outboxIds: string[]): Promise<void> {
    await this.changes.updateMany({ _id: { $in: outboxIds } }, { $set: { published: true } });
  }

  /** Replace the snapshot unless a newer version is already there (then the upsert's insert collides: fine). */
  private async project(change: ContractChangeRecord): Promise<void> {
    try {
      await this.contracts.replaceOne(
        { _id: change.contractId, version: { $lt: change.version } },
        // _id stated explicitly rather than left to the server to copy from the filter on insert.
        { _id: change.contractId, ...change.contract } as WithoutId<ContractRecord>,
        { upsert: true },
      );
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    await this.changes.updateOne({ _id: change._id }, { $set: { projected: true } });
  }
}

function withoutId(record: ContractRecord): StoredContract {
  const { _id: _ignored, ...contract } = record;
  return contract;
}
