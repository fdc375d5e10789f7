// Idempotent commands (an `Idempotency-Key` on a POST), the way Stripe's API behaves, written
// once for every service:
//   - the key is scoped by the service, the operation and the caller: two callers, or two
//     operations, never share a key;
//   - the request body's hash is stored with it: the same key with another body is a 409
//     (`idempotency-key-reused`), whatever happened to the first;
//   - the first answer (any status below 500) is stored and replayed to every retry;
//   - concurrent calls with one key have one effect: the command gets a `commandId` derived from
//     the key, and builds what it creates under ids derived from it (a unique `_id` each), so a
//     second caller running it at the same time collides with the first instead of doing it
//     again — and then answers the same.
// Every read and write is by `_id` (docs/architecture.md, data access).
import type { Collection, Db } from 'mongodb';
import { problem } from '../http/problem.js';
import { idForIdempotencyKey, requestHash } from '../ids.js';
import type { IndexPlan } from '../mongo.js';
import { insertOrGet } from './insert-or-get.js';

export interface IdempotentRequest {
  operation: string;
  /** Who asked (the token's subject). */
  principal: string;
  key: string;
  body: unknown;
}

interface Answer {
  status: number;
  headers?: Record<string, unknown>;
  body?: unknown;
}

interface IdempotencyRecord {
  _id: string;
  requestHash: string;
  state: 'started' | 'completed';
  answer?: Answer;
  at: Date;
}

export const idempotencyIndexes: IndexPlan = {
  idempotency_keys: [{ key: { at: 1 }, name: 'by_time' }],
};

export const keyReused = () => ({
  status: 409 as const,
  body: problem(409, 'idempotency-key-reused', 'This Idempotency-Key was already used with a different request body.'),
});

/** The id a command derives what it creates from (`prefix_…`): the same for every retry of the key. */
export function commandIdFor(service: string, prefix: string, request: Omit<IdempotentRequest, 'body'>): string {
  return idForIdempotencyKey(prefix, `${service}\u0000${request.operation}\u0000${request.principal}`, request.key);
}

export class IdempotentCommands {
  private readonly records: Collection<IdempotencyRecord>;

  constructor(
    db: Db,
    private readonly service: string,
  ) {
    this.records = db.collection('idempotency_keys');
  }

  /**
   * Runs `execute` for the first call with this key and replays its answer to every other; a
   * call with the same key and another body gets `keyReused()`. `execute` must be idempotent on
   * `commandId` (see the header): it may run again after a crash, or beside a concurrent retry.
   */
  async run<A extends Answer>(prefix: string, request: IdempotentRequest, execute: (commandId: string) => Promise<A>): Promise<A | ReturnType<typeof keyReused>> {
    const id = commandIdFor(this.service, prefix, request);
    const hash = requestHash(request.body);
    const { inserted, doc } = await insertOrGet(this.records, { _id: id, requestHash: hash, state: 'started', at: new Date() });
    if (!inserted) {
      if (doc.requestHash !== hash) return keyReused();
      if (doc.state === 'completed' && doc.answer) return doc.answer as A;
      // Started by a call still running, or one that died: running it again is safe (see above).
    }
    const answer = await execute(id);
    // A 5xx is not an answer to keep: the retry should run again.
    if (answer.status < 500) {
      await this.records.updateOne({ _id: id }, { $set: { state: 'completed', answer: { status: answer.status, ...(answer.headers ? { headers: answer.headers } : {}), ...(answer.body !== undefined ? { body: answer.body } : {}) } } });
    }
    return answer;
  }
}
