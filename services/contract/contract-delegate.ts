// The Contract API: the generated ContractsDelegate, implemented. HTTP, validation and security
// are already done when a method runs; it applies the contract's rules and answers.
import type { ContractsDelegate, Schemas } from '../../generated/contract/delegate.js';
import type { AuthenticatedContext } from '../common/http/context.js';
import { problem } from '../common/http/problem.js';
import type { IdempotentCommands } from '../common/data/idempotency.js';
import { isKnownCurrency } from '../common/money.js';
import { decodeCursor, toPage } from '../common/pagination.js';
import {
  type ContractChangeType,
  type StatusAction,
  type StoredContract,
  allowedFrom,
  ibanProblem,
  maskIban,
  normalizeIban,
  toApiContract,
  transition,
} from './contract-domain.js';
import type { ContractRepository } from './contract-repository.js';

export interface ContractDelegateDeps {
  repository: ContractRepository;
  /** Creations with an Idempotency-Key: one contract per key, the first answer replayed. */
  commands: IdempotentCommands;
  /** Called after every stored change, so its event is relayed at once. */
  onChange?: () => void;
  now?: () => Date;
}

/** Attempts at a change before answering 409 to a caller that keeps losing to concurrent writers. */
const MAX_ATTEMPTS = 5;

const isOperator = (ctx: AuthenticatedContext) => ctx.principal.roles.includes('operator');
/** A customer account sees the contracts that name it (`customer.userId`); operators see all. */
const canSee = (ctx: AuthenticatedContext, contract: StoredContract) => isOperator(ctx) || contract.customer.userId === ctx.principal.subject;
const notFound = (id: string) => ({ status: 404 as const, body: problem(404, 'contract-not-found', `No contract ${id}.`) });

function storedMandate(input: Schemas['MandateInput']) {
  return {
    reference: input.reference,
    iban: normalizeIban(input.iban),
    ibanMasked: maskIban(input.iban),
    ...(input.bic !== undefined ? { bic: input.bic } : {}),
    signedOn: input.signedOn,
    ...(input.expiresOn !== undefined ? { expiresOn: input.expiresOn } : {}),
  };
}

/** Business-rule checks on a mandate: 422 reasons, or undefined when it is acceptable. */
function mandateProblem(input: Schemas['MandateInput']) {
  const iban = ibanProblem(input.iban);
  if (iban) return problem(422, 'invalid-iban', `The IBAN is not valid: ${iban}.`, { errors: [{ pointer: '/body/mandate/iban', message: iban }] });
  if (input.expiresOn !== undefined && input.expiresOn <= input.signedOn) {
    return problem(422, 'invalid-mandate-dates', 'A mandate must expire after the day it was signed.', {
      errors: [{ pointer: '/body/mandate/expiresOn', message: 'must be after signedOn' }],
    });
  }
  return undefined;
}

export function createContractDelegate({ repository, commands, onChange = () => {}, now = () => new Date() }: ContractDelegateDeps): ContractsDelegate {
  /**
   * Applies `change` to the latest version of a contract, retrying on a version collision.
   * `change` answers a problem to refuse, or the new state and change type.
   */
  async function changeContract(
    id: string,
    ctx: AuthenticatedContext,
    reason: string,
    change: (current: StoredContract) => { problem: ReturnType<typeof problem<409>> } | { next: Partial<StoredContract>; type: ContractChangeType },
  ) {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const current = await repository.latest(id);
      if (!current) return notFound(id);
      const decision = change(current);
      if ('problem' in decision) return { status: 409 as const, body: decision.problem };
      const at = now().toISOString();
      const contract: StoredContract = { ...current, ...decision.next, version: current.version + 1, updatedAt: at };
      const result = await repository.append({
        contractId: id,
        version: contract.version,
        type: decision.type,
        status: contract.status,
        at,
        reason,
        actor: ctx.principal.subject,
        requestId: ctx.requestId,
        correlationId: ctx.correlationId,
        contract,
      });
      if (result.appended) {
        onChange();
        ctx.log.info({ contractId: id, version: contract.version, change: decision.type }, 'contract changed');
        return { status: 200 as const, body: toApiContract(contract) };
      }
    }
    return { status: 409 as const, body: problem(409, 'concurrent-modification', 'The contract is being changed concurrently; read it again and retry.') };
  }

  function statusChange(action: StatusAction) {
    return (id: string, ctx: AuthenticatedContext, reason: string) =>
      changeContract(id, ctx, reason, (current) => {
        const next = transition(action, current.status);
        if (!next) {
          return {
            problem: problem(409, 'transition-not-allowed', `A ${current.status} contract cannot be ${action === 'cancel' ? 'cancelled' : `${action}ed`}; only ${allowedFrom(action).join(' or ')} ones can.`),
          };
        }
        return { next: { status: next.to, statusReason: reason }, type: next.change };
      });
  }
  const notCancelled = (current: StoredContract) =>
    current.status === 'cancelled' ? { problem: problem(409, 'contract-cancelled', 'A cancelled contract cannot be changed.') } : undefined;

  return {
    async createContract({ headers, body }, ctx) {
      if (body.validTo < body.validFrom) {
        return {
          status: 422,
          body: problem(422, 'invalid-validity-period', 'validTo must be on or after validFrom.', { errors: [{ pointer: '/body/validTo', message: 'is before validFrom' }] }),
        };
      }
      if (!isKnownCurrency(body.currency)) {
        return {
          status: 422,
          body: problem(422, 'unknown-currency', `${body.currency} is not an ISO 4217 currency.`, { errors: [{ pointer: '/body/currency', message: 'is not an ISO 4217 code' }] }),
        };
      }
      const refused = mandateProblem(body.mandate);
      if (refused) return { status: 422, body: refused };

      return commands.run('ctr', { operation: 'createContract', principal: ctx.principal.subject, key: headers['idempotency-key'], body }, async (id) => {
        const at = now().toISOString();
        const contract: StoredContract = {
          id,
          customer: body.customer,
          status: 'active',
          validFrom: body.validFrom,
          validTo: body.validTo,
          currency: body.currency,
          creditLimit: body.creditLimit,
          mandate: storedMandate(body.mandate),
          version: 1,
          createdAt: at,
          updatedAt: at,
        };
        const result = await repository.append({
          contractId: id,
          version: 1,
          type: 'subscribed',
          status: 'active',
          at,
          actor: ctx.principal.subject,
          requestId: ctx.requestId,
          correlationId: ctx.correlationId,
          contract,
        });
        if (result.appended) onChange();
        // A concurrent call with the same key created it first: the same answer.
        const created = result.appended ? contract : result.existing.contract;
        ctx.log.info({ contractId: id, concurrentRetry: !result.appended }, 'contract created');
        return { status: 201 as const, headers: { location: `/contracts/${id}` }, body: toApiContract(created) };
      });
    },

    async getContract({ path }, ctx) {
      const contract = await repository.get(path.contractId);
      if (!contract || !canSee(ctx, contract)) return notFound(path.contractId);
      return { status: 200, body: toApiContract(contract) };
    },

    async listContracts({ query }, ctx) {
      const customerId = query.customerId;
      // A customer account lists what names it, and nothing else.
      const userId = isOperator(ctx) ? undefined : ctx.principal.subject;
      const limit = query.limit ?? 20;
      const after = decodeCursor<{ createdAt: string; id: string }>(query.cursor, { createdAt: 'string', id: 'string' });
      const rows = await repository.list({
        ...(customerId !== undefined ? { customerId } : {}),
        ...(userId !== undefined ? { userId } : {}),
        ...(query.status !== undefined ? { status: query.status } : {}),
        ...(after ? { after } : {}),
        limit,
      });
      return { status: 200, body: toPage(rows, limit, toApiContract, (c) => ({ createdAt: c.createdAt, id: c.id })) };
    },

    suspendContract: ({ path, body }, ctx) => statusChange('suspend')(path.contractId, ctx, body.reason),
    reactivateContract: ({ path, body }, ctx) => statusChange('reactivate')(path.contractId, ctx, body.reason),
    cancelContract: ({ path, body }, ctx) => statusChange('cancel')(path.contractId, ctx, body.reason),

    async changeMandate({ path, body }, ctx) {
      const refused = mandateProblem(body.mandate);
      if (refused) return { status: 422, body: refused };
      return changeContract(path.contractId, ctx, body.reason, (current) =>
        notCancelled(current) ?? { next: { mandate: storedMandate(body.mandate) }, type: 'mandate-changed' },
      );
    },

    async changeCreditLimit({ path, body }, ctx) {
      return changeContract(path.contractId, ctx, body.reason, (current) =>
        notCancelled(current) ?? { next: { creditLimit: body.creditLimit }, type: 'credit-limit-changed' },
      );
    },

    async listContractHistory({ path, query }, ctx) {
      const contract = await repository.get(path.contractId);
      if (!contract || !canSee(ctx, contract)) return notFound(path.contractId);
      const limit = query.limit ?? 20;
      const after = decodeCursor<{ version: number }>(query.cursor, { version: 'number' });
      const rows = await repository.history(path.contractId, after?.version ?? 0, limit);
      return {
        status: 200,
        body: toPage(
          rows,
          limit,
          (change) => ({
            version: change.version,
            type: change.type,
            status: change.status,
            at: change.at,
            ...(change.reason !== undefined ? { reason: change.reason } : {}),
            actor: change.actor,
            ...(change.requestId !== undefined ? { requestId: change.requestId } : {}),
            contract: toApiContract(change.contract),
          }),
          (change) => ({ version: change.version }),
        ),
      };
    },
  };
}

