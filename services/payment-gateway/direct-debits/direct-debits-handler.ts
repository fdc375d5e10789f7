// Billing operations authorized by direct debit: the gateway's handler of
// billing.payment-requested, and the settlement of a debit left pending (the reconciler's unit of
// work). The debit is stored pending under the operation's id before the bank is called — with
// its final event owed to the outbox — so a redelivery finds it and never calls the bank again;
// the mandate's IBAN is opened from its seal only in memory, for the bank call, and is never
// stored, logged or emitted. A bank that is down, slow past BANK_TIMEOUT_MS or answers garbage
// leaves the debit pending: the reconciler asks the bank by the reference
// (GET /direct-debits/{reference}) and sends the debit only if the bank never received it — the
// bank is idempotent on the reference, so that can never debit twice.
import type { Logger } from 'pino';
import type { CloudEvent } from '../../common/events/cloud-event.js';
import { SealError, type ValueSealer } from '../../common/sealed-values.js';
import type { Banks } from '../payments/bank-client.js';
import { MANDATE_INVALID, MANDATE_UNREADABLE, type DirectDebitDecision, decisionOfBank, mandateMalformed, normalizeIban } from './direct-debits-domain.js';
import type { DirectDebitsRepository, StoredDirectDebit } from './direct-debits-repository.js';

export interface DirectDebitsDeps {
  repository: DirectDebitsRepository;
  banks: Banks;
  sealer: ValueSealer;
  /** The bank new debits go to (DIRECT_DEBIT_BANK, one of ACQUIRING_BANKS). */
  bank: string;
  log: Logger;
  now: () => Date;
  /** After a settlement, so the relay publishes its event now rather than at its next poll. */
  onChange: () => void;
}

export class DirectDebits {
  constructor(private readonly deps: DirectDebitsDeps) {}

  /** billing.payment-requested: one debit per operation, whatever the deliveries. */
  async authorize(event: CloudEvent<'billing.payment-requested'>): Promise<void> {
    const request = event.data;
    const at = this.deps.now().toISOString();
    const { created, debit } = await this.deps.repository.insertPending({
      _id: request.operationId,
      contractId: request.contractId,
      amount: request.amount,
      currency: request.currency,
      ...(request.description !== undefined ? { description: request.description } : {}),
      mandate: request.mandate,
      bank: this.deps.bank,
      status: 'pending',
      requestedAt: request.requestedAt,
      createdAt: at,
      updatedAt: at,
      statusHistory: [{ status: 'pending', at }],
      requestEventId: event.id,
      correlationId: event.correlationid,
    });
    if (!created) {
      // Seen before: its first handling called the bank (or the reconciler will); never again here.
      this.deps.log.info({ operationId: debit._id, status: debit.status, eventId: event.id }, 'payment request seen before; its direct debit is not sent again');
      return;
    }
    await this.send(debit, 'request');
  }

  /** The reconciler's settlement of a debit left pending: asks the bank, sends only what it never received. */
  async settlePending(operationId: string): Promise<void> {
    const debit = await this.deps.repository.get(operationId);
    if (!debit || debit.status !== 'pending') return;
    const known = await this.deps.banks.directDebitStatus(debit.bank, operationId);
    if (known.status === 'never-received') {
      // The request's call never reached the bank (it was down, or the gateway stopped first).
      await this.send(debit, 'reconciler');
      return;
    }
    if (known.status === 'unknown') {
      this.deps.log.info({ operationId, bank: debit.bank, why: known.why }, 'bank gave no usable answer; the direct debit stays pending');
      return;
    }
    const decision = decisionOfBank(known.debit);
    if (decision) await this.settle(debit, decision, 'reconciler');
  }

  /** Opens the IBAN, sends the debit, records the bank's decision (or leaves it pending). */
  private async send(debit: StoredDirectDebit, by: string): Promise<void> {
    const operationId = debit._id;
    let iban: string;
    try {
      iban = normalizeIban(await this.deps.sealer.open(debit.mandate.ibanSealed, 'iban'));
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      // SealError messages name keys and purposes, never the value.
      this.deps.log.warn({ operationId, why: err.message }, 'the mandate IBAN does not open; direct debit declined');
      await this.settle(debit, { status: 'declined', reason: MANDATE_UNREADABLE }, by);
      return;
    }
    const { reference, signedOn, expiresOn } = debit.mandate;
    if (mandateMalformed({ reference, iban })) {
      this.deps.log.warn({ operationId }, 'the mandate is not one the bank takes (IBAN or reference shape); direct debit declined');
      await this.settle(debit, { status: 'declined', reason: MANDATE_INVALID }, by);
      return;
    }
    const reply = await this.deps.banks.directDebit(debit.bank, {
      reference: operationId,
      mandate: { reference, iban, signedOn, ...(expiresOn !== undefined ? { expiresOn } : {}) },
      amount: debit.amount,
      currency: debit.currency,
      ...(debit.description !== undefined ? { description: debit.description } : {}),
    });
    if (reply.status === 'unknown') {
      this.deps.log.warn({ operationId, bank: debit.bank, why: reply.why }, 'bank gave no usable answer; the direct debit stays pending');
      return;
    }
    const decision = decisionOfBank(reply.debit);
    if (decision) await this.settle(debit, decision, by);
  }

  private async settle(debit: StoredDirectDebit, decision: DirectDebitDecision, by: string): Promise<void> {
    const settled = await this.deps.repository.settle(debit._id, { ...decision, at: this.deps.now().toISOString() }, by);
    this.deps.log.info({ operationId: debit._id, bank: debit.bank, amount: debit.amount, currency: debit.currency, status: settled?.status, reason: settled?.reason, by }, 'direct debit settled');
    this.deps.onChange();
  }
}
