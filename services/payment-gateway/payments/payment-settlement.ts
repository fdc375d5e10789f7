// Settling a payment left pending (the bank was slow, down, answered garbage, or is still
// processing; or the gateway died between storing the payment and the bank's answer): the
// reconciler's unit of work. The gateway asks the bank what it knows of the charge — by the
// payment's id, the charge's reference — and records the final answer once (the first settler
// wins; see PaymentsRepository.settle). It never sends the charge again: the CVV is not kept, so
// a charge the bank never received fails as `interrupted`.
import type { Logger } from 'pino';
import type { Banks } from './bank-client.js';
import type { PaymentsRepository } from './payments-repository.js';

export async function settlePendingPayment(paymentId: string, payments: PaymentsRepository, banks: Banks, log: Logger, now = new Date()): Promise<void> {
  const payment = await payments.get(paymentId);
  if (!payment || payment.status !== 'pending') return;
  const known = await banks.chargeStatus(payment.bank, paymentId);
  const at = now.toISOString();
  if (known.status === 'never-received') {
    // Only a payment older than a bank call can have missed its bank: a younger one may have its
    // charge on the wire right now (the request is still waiting for the answer).
    if (now.getTime() - Date.parse(payment.createdAt) < 2 * banks.timeoutMs) return;
    await payments.settle(paymentId, { status: 'failed', reason: 'interrupted', at }, 'reconciler');
    log.warn({ paymentId }, 'payment never reached its bank; failed as interrupted');
    return;
  }
  // Still pending at the bank, or the bank unreachable: asked again on the next pass.
  if (known.status === 'unknown' || known.status === 'pending') return;
  await payments.settle(paymentId, { status: known.status, ...(known.status === 'failed' ? { reason: known.reason } : {}), ...(known.bankChargeId ? { bankChargeId: known.bankChargeId } : {}), at }, 'reconciler');
}
