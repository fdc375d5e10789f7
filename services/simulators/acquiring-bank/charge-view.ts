// A charge as the bank answers it now: the charge as made, its settlement if it was pending
// (settled lazily here once its time has come: the first settle wins), and its refunded total.
import type { Schemas } from '../../../generated/acquiring-bank/delegate.js';
import type { FailureReason, Outcome, StatusCode } from './acquiring-bank-domain.js';
import type { AcquiringBankRepository, StoredCharge, StoredRefund } from './acquiring-bank-repository.js';

export type ChargeState = { status: '200' } | (Outcome & { settledAt: string });

/** Where the charge stands at `now`: a pending one whose time has come is settled (once) by this read. */
export async function chargeState(repository: AcquiringBankRepository, charge: StoredCharge, now: Date): Promise<ChargeState> {
  if (charge.status !== '200') return stateOf(charge.status, charge.reason, charge.settledAt ?? charge.createdAt);
  let settlement = await repository.settlement(charge.reference);
  if (!settlement && charge.settlesTo && charge.settleAt !== undefined && now.getTime() >= Date.parse(charge.settleAt)) {
    settlement = await repository.settle(charge.reference, charge.settlesTo, now);
  }
  return settlement ? stateOf(settlement.status, settlement.reason, settlement.settledAt) : { status: '200' };
}

function stateOf(status: StatusCode, reason: FailureReason | undefined, settledAt: string): ChargeState {
  if (status === '0') return { status: '0', settledAt };
  if (status === '100' && reason !== undefined) return { status: '100', reason, settledAt };
  throw new Error(`a final charge state needs a final status and, when failed, a reason (got ${status}, ${reason})`);
}

/** The API's Charge: what was made, where it stands, and what has been refunded (succeeded charges only). */
export async function currentCharge(repository: AcquiringBankRepository, charge: StoredCharge, now: Date): Promise<Schemas['Charge']> {
  const state = await chargeState(repository, charge, now);
  const refundedAmount = state.status === '0' ? await repository.refunded(charge.reference) : 0;
  return {
    reference: charge.reference,
    bankChargeId: charge.bankChargeId,
    status: state.status,
    ...('reason' in state ? { reason: state.reason } : {}),
    amount: charge.amount,
    currency: charge.currency,
    refundedAmount,
    createdAt: charge.createdAt,
    ...('settledAt' in state ? { settledAt: state.settledAt } : {}),
  };
}

export function toApiRefund(refund: StoredRefund): Schemas['Refund'] {
  return {
    reference: refund.reference,
    chargeReference: refund.chargeReference,
    status: refund.status,
    ...(refund.reason !== undefined ? { reason: refund.reason } : {}),
    amount: refund.amount,
    createdAt: refund.createdAt,
  };
}
