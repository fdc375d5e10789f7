// Shared by event-bus.test.ts and its child processes: valid event payloads, a handler whose
// effect is an insert keyed by the event id (so a second attempt is visible, not a second
// effect), and an inbox that counts the redeliveries it skipped.
import type { Collection, Db } from 'mongodb';
import type { EventPayloads } from '../../../../generated/events/types.js';
import type { StoredContract } from '../../../contract/contract-domain.js';
import { newId } from '../../ids.js';
import { isDuplicateKey } from '../../mongo.js';
import type { CloudEvent } from '../cloud-event.js';
import { Inbox, type InboxDecision, type InboxOptions } from '../inbox.js';

type ContractChanged = EventPayloads['contract.subscribed'];

/** A contract as the contract service stores it (full IBAN included). */
export function storedContract(contractId = newId('ctr'), version = 1, at = new Date().toISOString()): StoredContract {
  return {
    id: contractId,
    customer: { id: 'cust-bus-test', name: 'Bus Test Works Council', billingEmail: 'accounts@example.com', userId: 'usr_0000000000000000000000bus0' },
    status: 'active',
    validFrom: '2026-01-01',
    validTo: '2026-12-31',
    currency: 'EUR',
    creditLimit: 500_000,
    mandate: { reference: `MANDATE-${contractId}`, iban: 'FR7630006000011234567890189', ibanMasked: 'FR76 **** **** **** **** ***0 189', signedOn: '2025-12-01' },
    version,
    createdAt: at,
    updatedAt: at,
  };
}

/**
 * A `mandateIbanSealed` of the right shape (a compact JWE's five parts) that opens under no key:
 * for events whose consumers under test never open it.
 */
export const UNOPENABLE_SEALED_IBAN = 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXZpdml2aXZpdml2.c2VhbGVk.dGFndGFndGFndGFndGFn';

/** A `contract.*` payload valid against the ContractChanged schema. */
export function contractChanged(contractId = newId('ctr'), version = 1): ContractChanged {
  const at = new Date().toISOString();
  const { mandate, ...contract } = storedContract(contractId, version, at);
  const { iban: _iban, ...masked } = mandate;
  return { contractId, version, at, actor: 'bus-test', contract: { ...contract, mandate: masked }, mandateIbanSealed: UNOPENABLE_SEALED_IBAN };
}

export interface EffectCounters {
  /** Handler invocations. */
  invocations: number;
  /** Effects applied: inserts that did not collide. */
  effects: number;
  /** Inserts that collided with an effect already there: a repeated attempt, not a second effect. */
  duplicateAttempts: number;
  /** When given, the event ids of those repeated attempts. */
  duplicateIds?: string[];
}

/**
 * The test handler's effect: one document per event id in `effects` (unique `_id`). Counts in
 * memory, and, when `log` is given, also writes every invocation and every colliding attempt to
 * collections (for a process that may be SIGKILLed before it could report).
 */
export function effectHandler(db: Db, counters: EffectCounters, options: { delayMs?: number; log?: boolean } = {}) {
  const effects: Collection<{ _id: string; type: string; pid: number; at: Date }> = db.collection('effects');
  const invocations = db.collection<{ eventId: string; pid: number }>('invocations');
  const duplicates = db.collection<{ eventId: string; pid: number }>('duplicate_attempts');
  return async (event: CloudEvent): Promise<void> => {
    counters.invocations++;
    if (options.log) await invocations.insertOne({ eventId: event.id, pid: process.pid });
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    try {
      await effects.insertOne({ _id: event.id, type: event.type, pid: process.pid, at: new Date() });
      counters.effects++;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      counters.duplicateAttempts++;
      counters.duplicateIds?.push(event.id);
      if (options.log) await duplicates.insertOne({ eventId: event.id, pid: process.pid });
    }
  };
}

/** The bus's inbox, counting the deliveries it recognised as already handled (and so skipped). */
export class CountingInbox extends Inbox {
  skipped = 0;
  constructor(
    db: Db,
    private readonly onSkip?: (eventId: string) => Promise<void>,
    options: InboxOptions = {},
  ) {
    super(db, options);
  }

  override async begin(eventId: string, type: string): Promise<InboxDecision> {
    const decision = await super.begin(eventId, type);
    if (decision === 'duplicate') {
      this.skipped++;
      await this.onSkip?.(eventId);
    }
    return decision;
  }
}
