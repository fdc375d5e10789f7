// The provider's books: one document per request, keyed by the caller's reference (so a request
// sent twice, even concurrently, is made once: the insert collides), and the callbacks still owed
// in a pending set, so a restart (timers live in one process) loses none. Every hot read and write
// is by `_id`.
import type { Collection, Db } from 'mongodb';
import { insertOrGet } from '../../common/data/insert-or-get.js';
import { PendingSet } from '../../common/data/pending-set.js';
import type { IndexPlan } from '../../common/mongo.js';
import type { Scenario } from './provider-domain.js';

export interface CallbackAttempt {
  at: string;
  httpStatus?: number;
  outcome: 'acknowledged' | 'refused' | 'failed';
}

export interface StoredRequest {
  _id: string;
  phoneNumber: string;
  callbackUrl: string;
  scenario: Scenario;
  createdAt: string;
  /** Absent for a request that never gets a code. */
  readyAt?: string;
  voucherCode: string;
  /** The provider's secret half of the RFC 7636 pair; only its S256 challenge is shown before the callback. */
  codeVerifier: string;
  codeChallenge: string;
  callbacks: CallbackAttempt[];
  /** The callback ended (acknowledged, refused, or given up). */
  callbackEnded?: boolean;
}

export const voucherProviderIndexes: IndexPlan = {};

export class VoucherProviderRepository {
  readonly requests: Collection<StoredRequest>;
  /** References whose callback is still owed. */
  readonly pendingCallbacks: PendingSet;

  constructor(db: Db) {
    this.requests = db.collection('provider_requests');
    this.pendingCallbacks = new PendingSet(db, 'provider_pending_callbacks');
  }

  /** The request made first under its reference (this one, or the earlier one). */
  async create(request: StoredRequest): Promise<{ created: boolean; request: StoredRequest }> {
    const { inserted, doc } = await insertOrGet(this.requests, request);
    return { created: inserted, request: doc };
  }

  get(reference: string): Promise<StoredRequest | null> {
    return this.requests.findOne({ _id: reference });
  }

  /** Appends an attempt (attempts at one request's callback are made one at a time). */
  async recordAttempt(reference: string, attempt: CallbackAttempt, ended: boolean): Promise<void> {
    await this.requests.updateOne({ _id: reference }, { $push: { callbacks: attempt }, ...(ended ? { $set: { callbackEnded: true } } : {}) });
    if (ended) await this.pendingCallbacks.remove(reference);
  }
}
