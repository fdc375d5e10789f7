// The Billing API's `operations` tag: purchases and refunds against a contract, decided by
// billing alone from its read model of the contract events (billing-repository.ts), the
// outstanding amount kept on each contract's ledger.
import type { OperationsDelegate, Schemas } from '../../generated/billing/delegate.js';
import type { IdempotentCommands } from '../common/data/idempotency.js';
import type { AuthenticatedContext } from '../common/http/context.js';
import { problem } from '../common/http/problem.js';
import { decodeCursor, seqPage } from '../common/pagination.js';
import { type Refusal, amountOf, contractRefusal, periodOf, withinLimit } from './billing-domain.js';
import type { BillingRepository, HeldContract, StoredOperation } from './billing-repository.js';

export interface OperationsDelegateDeps {
  repository: BillingRepository;
  commands: IdempotentCommands;
  /** Called after a purchase was stored, so its payment request goes out now. */
  onChange?: () => void;
  clock?: () => Date;
}

/** Attempts at a purchase whose contract changed under it before answering with what it now says. */
const MAX_ATTEMPTS = 5;

const isOperator = (ctx: AuthenticatedContext) => ctx.principal.roles.includes('operator');
/** Operators see every contract; a customer account the contracts naming it (`customer.userId`). */
export const canSee = (ctx: AuthenticatedContext, held: HeldContract) => isOperator(ctx) || held.contract.customer.userId === ctx.principal.subject;

const contractNotFound = (id: string) => ({ status: 404 as const, body: problem(404, 'contract-not-found', `No contract ${id}.`) });
const operationNotFound = (id: string) => ({ status: 404 as const, body: problem(404, 'operation-not-found', `No operation ${id}.`) });
const refused = (code: Refusal | 'zero-amount', detail: string, pointer?: string) => ({
  status: 422 as const,
  body: problem(422, code, detail, pointer ? { errors: [{ pointer, message: detail }] } : {}),
});

export function toApiOperation(op: StoredOperation, refundedAmount?: number): Schemas['Operation'] {
  return {
    id: op._id,
    contractId: op.contractId,
    type: op.type,
    status: op.status,
    ...(op.declineReason !== undefined ? { declineReason: op.declineReason } : {}),
    currency: op.currency,
    amount: op.amount,
    orders: op.orders,
    ...(op.refundOf !== undefined ? { refundOf: op.refundOf } : {}),
    ...(refundedAmount !== undefined ? { refundedAmount } : {}),
    ...(op.description !== undefined ? { description: op.description } : {}),
    period: op.period,
    ...(op.invoiceId !== undefined ? { invoiceId: op.invoiceId } : {}),
    createdAt: op.createdAt,
    updatedAt: op.updatedAt,
    statusHistory: op.statusHistory.map((change) => ({ status: change.status, at: change.at, ...(change.reason !== undefined ? { reason: change.reason } : {}) })),
  };
}

export function createOperationsDelegate({ repository, commands, onChange = () => {}, clock = () => new Date() }: OperationsDelegateDeps): OperationsDelegate {
  const view = async (op: StoredOperation) => toApiOperation(op, op.type === 'purchase' ? await repository.refundedAmount(op._id) : undefined);
  /** A purchase this call stored has no refunds yet: no need to read its refund log. */
  const created = async (op: StoredOperation, fresh: boolean) => ({
    status: 201 as const,
    headers: { location: `/operations/${op._id}` },
    body: fresh ? toApiOperation(op, op.type === 'purchase' ? 0 : undefined) : await view(op),
  });

  /** The contract as the read model holds it, when the caller may see it. */
  async function visibleContract(contractId: string, ctx: AuthenticatedContext) {
    const held = await repository.contract(contractId);
    return held && canSee(ctx, held) ? held : undefined;
  }

  function baseOperation(id: string, body: Schemas['OperationRequest'], amount: number, ctx: AuthenticatedContext, now: Date, period: string): Omit<StoredOperation, 'status' | 'statusHistory' | 'ledgerSeq'> {
    const at = now.toISOString();
    return {
      _id: id,
      contractId: body.contractId,
      type: body.type,
      currency: body.currency,
      amount,
      orders: body.orders,
      ...(body.refundOf !== undefined ? { refundOf: body.refundOf } : {}),
      ...(body.description !== undefined ? { description: body.description } : {}),
      period,
      createdAt: at,
      updatedAt: at,
      requestId: ctx.requestId,
      correlationId: ctx.correlationId,
    };
  }

  async function purchase(id: string, body: Schemas['OperationRequest'], amount: number, first: HeldContract, ctx: AuthenticatedContext) {
    let held = first;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const now = clock();
      const refusal = contractRefusal(held.contract, body.currency, now);
      if (refusal) {
        if (attempt > 1) await repository.endAcceptance(id); // a draft from the attempt before
        return refused(refusal.code, refusal.detail, refusal.code === 'currency-mismatch' ? '/body/currency' : undefined);
      }
      // Decided on the ledger's authoritative head: within the limit, and on a contract version
      // no older than the ledger has seen (a suspension handled since this request read the
      // contract sends it back to read it again).
      const { mandate } = held.contract;
      const operation: Omit<StoredOperation, 'ledgerSeq'> = {
        // A purchase's period is settled again when it is authorized (billing-events.ts).
        ...baseOperation(id, body, amount, ctx, now, periodOf(now)),
        status: 'pending-authorization',
        statusHistory: [{ status: 'pending-authorization', at: now.toISOString() }],
        mandate: {
          reference: mandate.reference,
          ibanSealed: held.mandateIbanSealed,
          signedOn: mandate.signedOn,
          ...(mandate.expiresOn !== undefined ? { expiresOn: mandate.expiresOn } : {}),
        },
      };
      // The draft first: a crash between the ledger and the operation is finished by the reconciler.
      await repository.beginAcceptance({ _id: id, operation, movement: { kind: 'purchase', amount, contractVersion: held.version } });
      const result = await repository.post(
        body.contractId,
        { kind: 'purchase', ref: id, amount, contractVersion: held.version, at: now.toISOString() },
        (previous) => {
          if ((previous?.contractVersion ?? 0) > held.version) return 'stale-contract';
          if (!withinLimit(previous?.outstandingAfter ?? 0, amount, held.contract.creditLimit)) return 'credit-limit-exceeded';
          return undefined;
        },
      );
      if (result.posted) {
        const op = await repository.saveOperation({ ...operation, ledgerSeq: result.entry.seq });
        await repository.endAcceptance(id);
        onChange();
        ctx.log.info({ operationId: id, contractId: body.contractId, amount, outstanding: result.entry.outstandingAfter, again: result.again }, 'purchase accepted');
        return created(op, !result.again);
      }
      if (result.refusal === 'credit-limit-exceeded') {
        await repository.endAcceptance(id);
        const outstanding = result.head?.outstandingAfter ?? 0;
        return refused(
          'credit-limit-exceeded',
          `Outstanding ${outstanding} + ${amount} would exceed the credit limit of ${held.contract.creditLimit} (${held.contract.currency} minor units).`,
        );
      }
      const fresh = await repository.contract(body.contractId);
      if (!fresh) {
        await repository.endAcceptance(id);
        return contractNotFound(body.contractId);
      }
      held = fresh;
    }
    await repository.endAcceptance(id);
    return { status: 409 as const, body: problem(409, 'concurrent-modification', 'The contract kept changing while the purchase was decided; try again.') };
  }

  async function refund(id: string, body: Schemas['OperationRequest'], amount: number, held: HeldContract, ctx: AuthenticatedContext) {
    const now = clock();
    const refusal = contractRefusal(held.contract, body.currency, now);
    if (refusal) return refused(refusal.code, refusal.detail, refusal.code === 'currency-mismatch' ? '/body/currency' : undefined);
    const purchaseId = body.refundOf!;
    const purchased = await repository.operation(purchaseId);
    if (!purchased || purchased.contractId !== body.contractId || purchased.type !== 'purchase') {
      return refused('purchase-not-found', `No purchase ${purchaseId} on contract ${body.contractId}.`, '/body/refundOf');
    }
    if (purchased.status !== 'authorized' && purchased.status !== 'invoiced') {
      return refused('purchase-not-authorized', `Purchase ${purchaseId} is ${purchased.status}: only an authorized purchase can be refunded.`, '/body/refundOf');
    }
    const operation: Omit<StoredOperation, 'ledgerSeq'> = {
      // Invoiceable at once: on the next invoice not yet run.
      ...baseOperation(id, body, amount, ctx, now, await repository.invoicePeriodFrom(periodOf(now))),
      status: 'authorized',
      statusHistory: [{ status: 'authorized', at: now.toISOString(), reason: 'refund' }],
    };
    // The draft first: a refund whose amount was reserved is finished by the reconciler after a crash.
    await repository.beginAcceptance({ _id: id, operation, movement: { kind: 'refund', amount: -amount, contractVersion: held.version } });
    // Reserved on the purchase's own log first: concurrent refunds never add up beyond it.
    if (!(await repository.reserveRefund(purchased, id, amount, now.toISOString()))) {
      await repository.endAcceptance(id);
      const refunded = await repository.refundedAmount(purchaseId);
      return refused('refund-exceeds-purchase', `Purchase ${purchaseId} of ${purchased.amount} has ${Math.max(0, purchased.amount - refunded)} left to refund, less than ${amount}.`, '/body/orders');
    }
    // A refund lowers what is owed: no limit to check, and it needs no authorization.
    const result = await repository.post(body.contractId, { kind: 'refund', ref: id, amount: -amount, contractVersion: held.version, at: now.toISOString() });
    if (!result.posted) throw new Error(`refund ${id} could not be posted: ${result.refusal}`);
    const op = await repository.saveOperation({ ...operation, ledgerSeq: result.entry.seq });
    await repository.endAcceptance(id);
    ctx.log.info({ operationId: id, contractId: body.contractId, refundOf: purchaseId, amount }, 'refund accepted');
    return created(op, true);
  }

  return {
    async createOperation({ headers, body }, ctx) {
      if (body.type === 'refund' && body.refundOf === undefined) {
        return { status: 400, body: problem(400, 'validation-failed', 'A refund names the purchase it refunds.', { errors: [{ pointer: '/body/refundOf', message: 'is required for a refund' }] }) };
      }
      if (body.type === 'purchase' && body.refundOf !== undefined) {
        return { status: 400, body: problem(400, 'validation-failed', 'A purchase refunds nothing.', { errors: [{ pointer: '/body/refundOf', message: 'is only for a refund' }] }) };
      }
      const amount = amountOf(body.orders);
      if (amount < 1) return refused('zero-amount', 'The operation amounts to nothing: at least one item must have a price.', '/body/orders');

      return commands.run('op', { operation: 'createOperation', principal: ctx.principal.subject, key: headers['idempotency-key'], body }, async (id) => {
        const held = await visibleContract(body.contractId, ctx);
        if (!held) return contractNotFound(body.contractId);
        return body.type === 'purchase' ? purchase(id, body, amount, held, ctx) : refund(id, body, amount, held, ctx);
      });
    },

    async getOperation({ path }, ctx) {
      const op = await repository.operation(path.operationId);
      if (!op || !(await visibleContract(op.contractId, ctx))) return operationNotFound(path.operationId);
      return { status: 200, body: await view(op) };
    },

    async listContractOperations({ path, query }, ctx) {
      if (!(await visibleContract(path.contractId, ctx))) return contractNotFound(path.contractId);
      const limit = query.limit ?? 20;
      const before = decodeCursor<{ seq: number }>(query.cursor, { seq: 'number' });
      const page = await repository.contractOperations(path.contractId, before?.seq, limit);
      return { status: 200, body: seqPage(await Promise.all(page.operations.map(view)), page.nextBeforeSeq) };
    },

    async getOutstanding({ path }, ctx) {
      const held = await visibleContract(path.contractId, ctx);
      if (!held) return contractNotFound(path.contractId);
      const outstanding = (await repository.ledgerHead(path.contractId))?.outstandingAfter ?? 0;
      return {
        status: 200,
        body: {
          contractId: path.contractId,
          currency: held.contract.currency,
          outstanding,
          creditLimit: held.contract.creditLimit,
          available: held.contract.creditLimit - outstanding,
          asOf: clock().toISOString(),
        },
      };
    },
  };
}
