// Direct debits against a SEPA mandate: the generated DirectDebitsDelegate, implemented.
// Decided when made (acquiring-bank-domain.ts: decideDirectDebit) and idempotent on the caller's
// reference: the direct debit made first under it is the answer.
import type { DirectDebitsDelegate, Schemas } from '../../../generated/acquiring-bank/delegate.js';
import { problem } from '../../common/http/problem.js';
import { decideDirectDebit } from './acquiring-bank-domain.js';
import type { AcquiringBankRepository, StoredDirectDebit } from './acquiring-bank-repository.js';

export interface DirectDebitsDelegateDeps {
  repository: AcquiringBankRepository;
  now?: () => Date;
}

function toApiDirectDebit(debit: StoredDirectDebit): Schemas['DirectDebit'] {
  return {
    reference: debit.reference,
    status: debit.status,
    ...(debit.reason !== undefined ? { reason: debit.reason } : {}),
    amount: debit.amount,
    currency: debit.currency,
    createdAt: debit.createdAt,
  };
}

export function createDirectDebitsDelegate({ repository, now = () => new Date() }: DirectDebitsDelegateDeps): DirectDebitsDelegate {
  const bank = repository.bank;
  return {
    async createDirectDebit({ body }, ctx) {
      const at = now();
      const { mandate } = body;
      const outcome = decideDirectDebit(mandate, at);
      const { inserted, doc } = await repository.insertDirectDebit({
        _id: repository.key(body.reference),
        bank,
        reference: body.reference,
        ...outcome,
        amount: body.amount,
        currency: body.currency,
        ...(body.description !== undefined ? { description: body.description } : {}),
        mandate: {
          reference: mandate.reference,
          ibanLast4: mandate.iban.slice(-4),
          signedOn: mandate.signedOn,
          ...(mandate.expiresOn !== undefined ? { expiresOn: mandate.expiresOn } : {}),
        },
        createdAt: at.toISOString(),
      });
      const log = { bank, reference: doc.reference, amount: doc.amount, currency: doc.currency, status: doc.status, reason: doc.reason };
      ctx.log.info(log, inserted ? 'direct debit made' : 'direct debit answered again (same reference)');
      return { status: 200, body: toApiDirectDebit(doc) };
    },

    async getDirectDebit({ path }) {
      const debit = await repository.directDebit(path.reference);
      if (!debit) return { status: 404, body: problem(404, 'direct-debit-not-found', `No direct debit with reference ${path.reference}.`) };
      return { status: 200, body: toApiDirectDebit(debit) };
    },
  };
}
