// The rules of card payments, pure: how a bank's answer maps to a payment's status, which
// transitions exist, and what a refund may take. No I/O here (payments-repository.ts stores,
// payments-delegate.ts answers, bank-client.ts talks to the banks).
import type { Schemas } from '../../../generated/payment-gateway/delegate.js';

export type PaymentStatus = Schemas['PaymentStatus'];
export type FailureReason = Schemas['PaymentFailureReason'];

/** A bank's answer, reduced to what the gateway decides on. */
export type BankOutcome = { status: 'succeeded'; bankChargeId: string } | { status: 'failed'; reason: FailureReason; bankChargeId?: string } | { status: 'pending'; bankChargeId?: string };

const BANK_REASONS = new Set<string>(['insufficient-funds', 'expired-card', 'do-not-honour', 'stolen-card', 'invalid-card']);

/** The bank's status codes (the seed's): `0` succeeded, `100` failed, `200` pending. */
export function outcomeOfBankStatus(status: string, reason: string | undefined, bankChargeId: string): BankOutcome {
  if (status === '0') return { status: 'succeeded', bankChargeId };
  if (status === '200') return { status: 'pending', bankChargeId };
  return { status: 'failed', reason: reason && BANK_REASONS.has(reason) ? (reason as FailureReason) : 'do-not-honour', bankChargeId };
}

/** A payment's status as shown: `refunded` once its refunds reach the amount. */
export function shownStatus(status: PaymentStatus, amount: number, refundedAmount: number): PaymentStatus {
  return status === 'succeeded' && refundedAmount >= amount ? 'refunded' : status;
}

export type RefundDecision = { allowed: true } | { allowed: false; code: 'payment-not-refundable' | 'refund-exceeds-payment'; detail: string };

/** Whether `amount` may be refunded from a payment given what its refunds already hold. */
export function refundDecision(payment: { status: PaymentStatus; amount: number }, reserved: number, amount: number): RefundDecision {
  if (payment.status !== 'succeeded') {
    return { allowed: false, code: 'payment-not-refundable', detail: `A ${payment.status} payment cannot be refunded; only succeeded ones can.` };
  }
  const remaining = payment.amount - reserved;
  if (amount > remaining) {
    return { allowed: false, code: 'refund-exceeds-payment', detail: `At most ${remaining} (minor units) remains to refund on this payment.` };
  }
  return { allowed: true };
}
