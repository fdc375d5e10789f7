// Charges and their refunds: the generated ChargesDelegate, implemented. HTTP, validation and the
// API key are done when a method runs. Every write is idempotent on the caller's reference: the
// charge (or refund) made first under it is the answer, however many requests race.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChargesDelegate } from '../../../generated/acquiring-bank/delegate.js';
import { idForIdempotencyKey } from '../../common/ids.js';
import { problem } from '../../common/http/problem.js';
import { type Outcome, cardSummary, decideCharge, decideRefund } from './acquiring-bank-domain.js';
import type { AcquiringBankRepository, StoredCharge } from './acquiring-bank-repository.js';
import { chargeState, currentCharge, toApiRefund } from './charge-view.js';
import type { SettlementCallbacks } from './settlement-callbacks.js';

export interface ChargesDelegateDeps {
  repository: AcquiringBankRepository;
  callbacks: SettlementCallbacks;
  /** BANK_SETTLE_AFTER_MS: how long a pending charge stays pending. */
  settleAfterMs: number;
  /** BANK_TIMEOUT_CARD_DELAY_MS: how long the slow card's first answer takes. */
  timeoutCardDelayMs: number;
  now?: () => Date;
}

const chargeNotFound = (reference: string) => ({ status: 404 as const, body: problem(404, 'charge-not-found', `No charge with reference ${reference}.`) });

/** Only http(s) callbacks can be delivered; anything else is refused before the charge is made. */
function callbackUrlProblem(url: string | undefined) {
  if (url === undefined) return undefined;
  let protocol: string | undefined;
  try {
    protocol = new URL(url).protocol;
  } catch {
    // reported below
  }
  if (protocol === 'http:' || protocol === 'https:') return undefined;
  return problem(400, 'callback-url-invalid', 'The callbackUrl must be an http or https URL.', {
    errors: [{ pointer: '/body/callbackUrl', message: 'must be an http or https URL' }],
  });
}

export function createChargesDelegate({ repository, callbacks, settleAfterMs, timeoutCardDelayMs, now = () => new Date() }: ChargesDelegateDeps): ChargesDelegate {
  const bank = repository.bank;

  return {
    async createCharge({ body }, ctx) {
      const invalidCallback = callbackUrlProblem(body.callbackUrl);
      if (invalidCallback) return { status: 400, body: invalidCallback };
      const at = now();
      const decision = decideCharge(body.card, body.amount, at);
      const charge: StoredCharge = {
        _id: repository.key(body.reference),
        bank,
        reference: body.reference,
        bankChargeId: idForIdempotencyKey(`chg_${bank}`, bank, body.reference),
        merchantId: body.merchantId,
        status: decision.status,
        ...('reason' in decision ? { reason: decision.reason } : {}),
        ...('settlesTo' in decision ? { settlesTo: decision.settlesTo, settleAt: new Date(at.getTime() + settleAfterMs).toISOString() } : { settledAt: at.toISOString() }),
        amount: body.amount,
        currency: body.currency,
        ...(body.description !== undefined ? { description: body.description } : {}),
        ...(body.callbackUrl !== undefined ? { callbackUrl: body.callbackUrl } : {}),
        card: cardSummary(body.card.number),
        createdAt: at.toISOString(),
      };
      const owesCallback = charge.status === '200' && charge.callbackUrl !== undefined;
      // Listed before the charge exists, so a crash right after it leaves the callback to the reconciler.
      if (owesCallback) await repository.pendingCallbacks.add(charge._id, at);
      const { inserted, doc } = await repository.insertCharge(charge);
      const log = { bank, reference: doc.reference, last4: doc.card.last4, amount: doc.amount, currency: doc.currency };
      if (inserted) {
        ctx.log.info({ ...log, status: doc.status, reason: doc.reason }, 'charge made');
        if (owesCallback) callbacks.schedule(doc);
        // The slow card: the charge is made (a GET or a repeated POST answers it at once), but
        // this answer comes late — unless the caller hangs up first.
        if ('slow' in decision) await sleep(timeoutCardDelayMs, undefined, { signal: ctx.signal }).catch(() => {});
      } else {
        ctx.log.info(log, 'charge answered again (same reference)');
      }
      return { status: 200, body: await currentCharge(repository, doc, now()) };
    },

    async getCharge({ path }) {
      const charge = await repository.charge(path.reference);
      if (!charge) return chargeNotFound(path.reference);
      return { status: 200, body: await currentCharge(repository, charge, now()) };
    },

    async refundCharge({ path, body }, ctx) {
      const answered = await repository.refund(body.reference);
      if (answered) return { status: 200, body: toApiRefund(answered) };
      let charge = await repository.charge(path.reference);
      if (!charge) return chargeNotFound(path.reference);
      const at = now();
      // A refund reference belongs to the first charge it was sent for.
      const chargeReference = await repository.claimRefund(body.reference, charge.reference, at);
      if (chargeReference !== charge.reference) charge = (await repository.charge(chargeReference))!;

      const state = await chargeState(repository, charge, at);
      let outcome: Outcome;
      let amount = body.amount;
      let createdAt = at.toISOString();
      if (state.status !== '0') {
        outcome = decideRefund({ status: state.status, amount: charge.amount }, 0, body.amount);
      } else {
        const chargeAmount = charge.amount;
        const result = await repository.appendRefund(charge.reference, body.reference, body.amount, at, (refunded) =>
          decideRefund({ status: '0', amount: chargeAmount }, refunded, body.amount).status === '0',
        );
        if ('entry' in result) {
          // This refund, or its twin from a request that got there first.
          outcome = { status: '0' };
          amount = result.entry.amount;
          createdAt = result.entry.at;
        } else {
          outcome = decideRefund({ status: '0', amount: chargeAmount }, result.refunded, body.amount);
        }
      }
      const refund = await repository.recordRefund({
        _id: repository.key(body.reference),
        bank,
        reference: body.reference,
        chargeReference: charge.reference,
        ...outcome,
        amount,
        createdAt,
      });
      ctx.log.info({ bank, reference: refund.reference, chargeReference: refund.chargeReference, amount: refund.amount, status: refund.status, reason: refund.reason }, 'refund answered');
      return { status: 200, body: toApiRefund(refund) };
    },
  };
}
