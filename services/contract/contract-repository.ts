// Contract storage on MongoDB, correct on FerretDB too (no transactions; a unique `_id` is the
// only atomic guard; every hot read and write is a filter of `_id` alone — docs/architecture.md).
// Every change is an entry of the contract's sequenced log (services/common/data/
// sequenced-log.ts): `contract_changes` keyed `<contract id>:<version>` — two writers of one
// version collide and the loser retries on fresh state. The log's head copies (`contracts`,
// keyed by contract id) hold each contract's latest change: the start of every read, and what
// lists filter. A reader always probes past the copy, so a stale copy (a crash after the change,
// a lost race between two copies) is repaired by the next read, never served as current.
// Each change owes an event: an outbox marker keyed by the change is written before it.
import type { Db, Filter } from 'mongodb';
import type { EventType } from '../../generated/events/types.js';
import { type HeadCopy, type LogEntry, SequencedLog, logKey } from '../common/data/sequenced-log.js';
import type { Outbox, OutboxSource } from '../common/events/outbox.js';
import type { IndexPlan } from '../common/mongo.js';
import type { ValueSealer } from '../common/sealed-values.js';
import { type ContractChangeType, type ContractStatus, type StoredContract, toApiContract } from './contract-domain.js';

export interface ContractChangeRecord extends LogEntry {
  /** `<contract id>:<version, zero-padded>`; `owner` is the contract id and `seq` its version. */
  _id: string;
  contractId: string;
  version: number;
  type: ContractChangeType;
  status: ContractStatus;
  at: string;
  reason?: string;
  actor: string;
  requestId?: string;
  correlationId?: string;
  contract: StoredContract;
}

export type NewChange = Omit<ContractChangeRecord, '_id' | 'owner' | 'seq'>;

export const contractIndexes: IndexPlan = {
  // Lists filter the head copies (on FerretDB they scan: docs/benchmarks.md); reads are by `_id`.
  contracts: [
    { key: { 'entry.contract.customer.id': 1, 'entry.contract.createdAt': -1, _id: -1 }, name: 'by_customer_newest' },
    { key: { 'entry.contract.customer.userId': 1, 'entry.contract.createdAt': -1, _id: -1 }, name: 'by_customer_account_newest' },
    { key: { 'entry.contract.createdAt': -1, _id: -1 }, name: 'newest' },
  ],
};

export type AppendResult = { appended: true } | { appended: false; existing: ContractChangeRecord };

export interface ListQuery {
  customerId?: string;
  /** The customer account (`customer.userId`) the contracts name. */
  userId?: string;
  status?: ContractStatus;
  after?: { createdAt: string; id: string };
  limit: number;
}

export class ContractRepository {
  private readonly changes: SequencedLog<ContractChangeRecord>;

  constructor(
    db: Db,
    private readonly outbox?: Outbox,
    private readonly sealer?: ValueSealer,
  ) {
    this.changes = new SequencedLog<ContractChangeRecord>(db, 'contract_changes', 'contracts');
  }

  /** The contract events, built from the change each marker names (the IBAN sealed: needs the sealer). */
  outboxSources(): Record<string, OutboxSource> {
    return {
      'contract.change': async (changeId) => {
        const change = await this.changes.entries.findOne({ _id: changeId });
        if (!change) return 'missing';
        return {
          type: `contract.${change.type}` as EventType,
          data: {
            contractId: change.contractId,
            version: change.version,
            at: change.at,
            ...(change.reason !== undefined ? { reason: change.reason } : {}),
            actor: change.actor,
            contract: toApiContract(change.contract),
            mandateIbanSealed: await this.sealer!.seal(change.contract.mandate.iban, 'iban'),
          },
          // The change's key is the event id: a republished event is recognisably the same one.
          meta: { id: change._id, correlationId: change.correlationId ?? change._id, ...(change.requestId ? { causationId: change.requestId } : {}), time: change.at },
        };
      },
    };
  }

  /** Appends a change at its version; `appended: false` with the change already holding that version when another write got there first. */
  async append(change: NewChange): Promise<AppendResult> {
    await this.outbox?.add('contract.change', logKey(change.contractId, change.version));
    const result = await this.changes.insertAt(change.contractId, change.version, change);
    return result.appended ? { appended: true } : { appended: false, existing: result.existing };
  }

  /** The authoritative current state: the contract in its highest-version change. */
  async latest(contractId: string): Promise<StoredContract | undefined> {
    return (await this.changes.head(contractId))?.contract;
  }

  async get(contractId: string): Promise<StoredContract | undefined> {
    return this.latest(contractId);
  }

  /** A page of contracts, newest first, from the head copies (a filtered list: it scans on FerretDB). */
  async list(query: ListQuery): Promise<StoredContract[]> {
    const filter: Filter<HeadCopy<ContractChangeRecord>> = {};
    if (query.customerId !== undefined) filter['entry.contract.customer.id'] = query.customerId;
    if (query.userId !== undefined) filter['entry.contract.customer.userId'] = query.userId;
    if (query.status !== undefined) filter['entry.contract.status'] = query.status;
    if (query.after) {
      filter.$or = [
        { 'entry.contract.createdAt': { $lt: query.after.createdAt } },
        { 'entry.contract.createdAt': query.after.createdAt, _id: { $lt: query.after.id } },
      ];
    }
    const rows = await this.changes.headCopies
      .find(filter)
      .sort({ 'entry.contract.createdAt': -1, _id: -1 })
      .limit(query.limit + 1)
      .toArray();
    return rows.map((row) => row.entry.contract);
  }

  /** Changes after `afterVersion`, oldest first, `limit + 1` at most (to tell whether more follow). */
  async history(contractId: string, afterVersion: number, limit: number): Promise<ContractChangeRecord[]> {
    return this.changes.range(contractId, afterVersion, limit + 1);
  }
}
