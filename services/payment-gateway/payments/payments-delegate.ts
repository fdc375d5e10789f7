// The payments operations of the Payment Gateway API (tag `payments` in
// specs/payment-gateway.yaml): merchants charge cards through their acquiring bank, read their
// payments and refund them; banks report settled charges. The rules are in payments-domain.ts,
// storage in payments-repository.ts, the banks in bank-client.ts, the card vault in
// card-vault.ts. Nothing here logs or returns a card number or a CVV.
import { Webhook } from 'standardwebhooks';
import type { PaymentsDelegate, Schemas } from '../../../generated/payment-gateway/delegate.js';
import type { IdempotentCommands } from '../../common/data/idempotency.js';
import type { AuthenticatedContext, RequestContext } from '../../common/http/context.js';
import { problem } from '../../common/http/problem.js';
import { decodeCursor, seqPage } from '../../common/pagination.js';
import type { Banks } from './bank-client.js';
import { type CardInput, cardSummary, paymentRequestProblems } from './card-rules.js';
import type { CardVault } from './card-vault.js';
import { type FailureReason, outcomeOfBankStatus, refundDecision } from './payments-domain.js';
import type { PaymentsRepository, StoredPayment, StoredRefund } from './payments-repository.js';

export interface PaymentsDelegateDeps {
  payments: PaymentsRepository;
  vault: CardVault;
  banks: Banks;
  commands: IdempotentCommands;
  /** The merchant's acquiring bank (its sign-up's `business.acquiringBank`). */
  bankOf(merchantId: string): Promise<string | undefined>;
  /** Largest amount of one payment, in minor units. */
  maxAmount: number;
  /** Per bank: the Standard Webhooks secret its callbacks are signed with. */
  webhookSecrets: Record<string, string>;
  onChange: () => void;
  now?: () => Date;
}

const notFound = (id: string) => ({ status: 404 as const, body: problem(404, 'payment-not-found', `No payment ${id}.`) });

export function toApiPayment(payment: StoredPayment, refundedAmount: number): Schemas['Payment'] {
  return {
    id: payment._id,
    status: payment.status,
    ...(payment.failureReason ? { failureReason: payment.failureReason } : {}),
    amount: payment.amount,
    currency: payment.currency,
    refundedAmount,
    card: payment.card,
    reference: payment.reference,
    ...(payment.description !== undefined ? { description: payment.description } : {}),
    createdAt: payment.createdAt,
    updatedAt: payment.updatedAt,
    statusHistory: payment.statusHistory.map((change) => ({ status: change.status, at: change.at, ...(change.reason ? { reason: change.reason } : {}) })),
  };
}

function toApiRefund(refund: StoredRefund): Schemas['Refund'] {
  return {
    id: refund._id,
    paymentId: refund.paymentId,
    status: refund.status,
    ...(refund.failureReason ? { failureReason: refund.failureReason } : {}),
    amount: refund.amount,
    currency: refund.currency,
    ...(refund.reason !== undefined ? { reason: refund.reason } : {}),
    createdAt: refund.createdAt,
  };
}

const normalizeTime = (value: string | undefined) => (value === undefined ? undefined : new Date(value).toISOString());

export function createPaymentsDelegate(deps: PaymentsDelegateDeps): PaymentsDelegate {
  const { payments, vault, banks, commands, onChange, now = () => new Date() } = deps;
  const at = () => now().toISOString();
  /** Payments being created in this process: concurrent calls with one key share one bank call. */
  const creating = new Map<string, Promise<StoredPayment>>();

  async function withRefunds(payment: StoredPayment) {
    return toApiPayment(payment, (await payments.refundTotals(payment)).refunded);
  }

  /** Stores the payment, calls the bank once, records its answer: the payment as it then stands. */
  async function createAndCharge(paymentId: string, merchantId: string, bank: string, body: Schemas['PaymentRequest'], card: CardInput, ctx: RequestContext): Promise<StoredPayment> {
    const vaulted = await vault.store({ number: card.number, expiryMonth: card.expiryMonth, expiryYear: card.expiryYear, holderName: card.holderName });
    const createdAt = at();
    const { created, payment } = await payments.insertPending({
      _id: paymentId,
      merchantId,
      bank,
      status: 'pending',
      amount: body.amount,
      currency: body.currency,
      reference: body.reference,
      ...(body.description !== undefined ? { description: body.description } : {}),
      card: cardSummary(card),
      cardId: vaulted.cardId,
      createdAt,
      updatedAt: createdAt,
      statusHistory: [{ status: 'pending', at: createdAt }],
      requestId: ctx.requestId,
      correlationId: ctx.correlationId,
    });
    // Another process inserted it first (a concurrent retry): that process calls the bank.
    if (!created) return payment;
    const answer = await banks.charge(bank, { paymentId, merchantId, card, amount: body.amount, currency: body.currency, ...(body.description !== undefined ? { description: body.description } : {}) });
    if (answer.status === 'unknown' || answer.status === 'pending') {
      // Settled later by the bank's callback or the reconciler; the charge is never sent twice.
      ctx.log.warn({ paymentId, bank, why: answer.status === 'unknown' ? answer.why : 'pending at the bank' }, 'payment left pending');
      return payment;
    }
    const settled = await payments.settleByRequest(payment, {
      status: answer.status,
      ...(answer.status === 'failed' ? { reason: answer.reason } : {}),
      ...(answer.bankChargeId ? { bankChargeId: answer.bankChargeId } : {}),
      at: at(),
    });
    onChange();
    ctx.log.info({ paymentId, bank, status: settled.status }, 'payment charged');
    return settled;
  }

  return {
    async createPayment({ headers, body }, ctx: AuthenticatedContext) {
      const card: CardInput = { ...body.card, number: body.card.number.replace(/[\s-]/g, '') };
      const problems = paymentRequestProblems({ card, amount: body.amount, currency: body.currency }, { now: now(), maxAmount: deps.maxAmount });
      if (problems.length > 0) {
        const first = problems[0]!;
        return { status: 422, body: problem(422, first.code, first.message, { errors: problems.map((p) => ({ pointer: p.pointer, message: p.message })) }) };
      }
      const merchantId = ctx.principal.subject;
      const bank = await deps.bankOf(merchantId);
      if (!bank || !banks.has(bank)) {
        return { status: 403, body: problem(403, 'no-acquiring-bank', 'This account has no acquiring bank to charge cards through: only merchants whose bank is configured do.') };
      }
      // What the idempotency record hashes: the card by its keyed fingerprint, never the PAN (an
      // unkeyed hash of a PAN can be reversed by trying every number of a BIN) and never the CVV.
      const { cvv: _cvv, number: _number, ...cardRest } = card;
      const hashed = { ...body, card: { ...cardRest, fingerprint: vault.fingerprint(card.number) } };
      return commands.run('pay', { operation: 'createPayment', principal: merchantId, key: headers['idempotency-key'], body: hashed }, async (paymentId) => {
        let running = creating.get(paymentId);
        if (!running) {
          running = createAndCharge(paymentId, merchantId, bank, body, card, ctx).finally(() => creating.delete(paymentId));
          creating.set(paymentId, running);
        }
        const payment = await running;
        return { status: 201 as const, headers: { location: `/payments/${payment._id}` }, body: await withRefunds(payment) };
      });
    },

    async getPayment({ path }, ctx) {
      const payment = await payments.get(path.paymentId);
      // Another merchant's payment is not found, never shown.
      if (!payment || payment.merchantId !== ctx.principal.subject) return notFound(path.paymentId);
      return { status: 200, body: await withRefunds(payment) };
    },

    async listPayments({ query }, ctx) {
      const limit = query.limit ?? 20;
      const after = decodeCursor<{ seq: number }>(query.cursor, { seq: 'number' });
      const from = normalizeTime(query.from);
      const to = normalizeTime(query.to);
      const page = await payments.list({
        merchantId: ctx.principal.subject,
        ...(query.status !== undefined ? { status: query.status } : {}),
        ...(query.currency !== undefined ? { currency: query.currency } : {}),
        ...(query.reference !== undefined ? { reference: query.reference } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(after ? { beforeSeq: after.seq } : {}),
        limit,
      });
      return { status: 200, body: seqPage(await Promise.all(page.payments.map(withRefunds)), page.nextBeforeSeq) };
    },

    async refundPayment({ path, headers, body }, ctx) {
      const payment = await payments.get(path.paymentId);
      if (!payment || payment.merchantId !== ctx.principal.subject) return notFound(path.paymentId);
      return commands.run('ref', { operation: 'refundPayment', principal: ctx.principal.subject, key: headers['idempotency-key'], body: { paymentId: path.paymentId, ...body } }, async (refundId) => {
        const done = await payments.getRefund(refundId);
        if (done) return { status: 201 as const, body: toApiRefund(done) };
        const decision = refundDecision(payment, (await payments.refundTotals(payment)).reserved, body.amount);
        if (!decision.allowed) {
          // Only too large an amount is the request's field at fault; a payment not refundable is not.
          const fields = decision.code === 'refund-exceeds-payment' ? { errors: [{ pointer: '/body/amount', message: decision.detail }] } : {};
          return { status: 422 as const, body: problem(422, decision.code, decision.detail, fields) };
        }
        await payments.flagRefunds(payment);
        const reservation = await payments.reserveRefund(payment._id, refundId, body.amount, payment.amount, at());
        if (!reservation.reserved) {
          const detail = `At most ${reservation.available} (minor units) remains to refund on this payment.`;
          return { status: 422 as const, body: problem(422, 'refund-exceeds-payment', detail, { errors: [{ pointer: '/body/amount', message: detail }] }) };
        }
        const answer = await banks.refund(payment.bank, payment._id, refundId, body.amount);
        const base = {
          _id: refundId,
          paymentId: payment._id,
          merchantId: payment.merchantId,
          amount: body.amount,
          currency: payment.currency,
          ...(body.reason !== undefined ? { reason: body.reason } : {}),
          createdAt: at(),
          requestId: ctx.requestId,
          correlationId: ctx.correlationId,
        };
        if (answer.status === 'unknown') {
          // The amount stays reserved: the refund may have happened at the bank. A retry with
          // the same key asks again (the bank is idempotent on the refund id).
          ctx.log.warn({ refundId, why: answer.why }, 'refund outcome unknown; reserved until retried');
          return { status: 503 as const, body: problem(503, 'bank-unavailable', 'The bank did not answer; send the same request again (same Idempotency-Key) to learn the outcome.') };
        }
        const kind = answer.status === 'succeeded' ? 'confirm' : 'release';
        const totals = await payments.finishRefund(payment._id, refundId, body.amount, kind, at());
        const refund = await payments.saveRefund({
          ...base,
          status: answer.status,
          ...(answer.status === 'failed' ? { failureReason: answer.reason } : {}),
          refundedTotal: totals.refunded,
        });
        if (kind === 'confirm' && totals.refunded >= payment.amount) await payments.markRefunded(payment._id, at());
        onChange();
        ctx.log.info({ refundId, paymentId: payment._id, status: refund.status }, 'refund answered');
        return { status: 201 as const, body: toApiRefund(refund) };
      });
    },

    async receiveBankCallback({ path, headers, body }, ctx) {
      const secret = deps.webhookSecrets[path.bank];
      if (!secret || ctx.rawBody === undefined) return { status: 401, body: problem(401, 'invalid-signature', 'This callback is not signed by a bank the gateway knows.') };
      try {
        // Standard Webhooks: HMAC-SHA256 over id, timestamp and the body as received; stale timestamps refused.
        new Webhook(secret).verify(ctx.rawBody.toString('utf8'), {
          'webhook-id': headers['webhook-id'],
          'webhook-timestamp': headers['webhook-timestamp'],
          'webhook-signature': headers['webhook-signature'],
        });
      } catch {
        return { status: 401, body: problem(401, 'invalid-signature', 'The callback signature does not verify (or its timestamp is too old).') };
      }
      const payment = await payments.get(body.reference);
      if (!payment || payment.bank !== path.bank) return { status: 404, body: problem(404, 'payment-not-found', `No payment ${body.reference} at ${path.bank}.`) };
      const outcome = outcomeOfBankStatus(body.status, body.reason, body.bankChargeId);
      if (outcome.status !== 'pending') {
        await payments.settle(payment._id, { status: outcome.status, ...(outcome.status === 'failed' ? { reason: outcome.reason as FailureReason } : {}), bankChargeId: body.bankChargeId, at: at() }, `callback:${path.bank}`);
        onChange();
      }
      return { status: 204 };
    },
  };
}
