// The Billing API's `invoices` tag: the invoices billing runs issued. Operators see every one; a
// customer account the invoices of the contracts naming it; anything else answers 404.
import type { InvoicesDelegate, Schemas } from '../../generated/billing/delegate.js';
import { problem } from '../common/http/problem.js';
import { decodeCursor, toPage } from '../common/pagination.js';
import type { BillingRepository, StoredInvoice } from './billing-repository.js';
import { canSee } from './operations-delegate.js';

export interface InvoicesDelegateDeps {
  repository: BillingRepository;
}

/** The API view of a stored invoice. */
export function toApiInvoice(invoice: StoredInvoice): Schemas['Invoice'] {
  return {
    id: invoice._id,
    contractId: invoice.contractId,
    period: invoice.period,
    customer: invoice.customer,
    currency: invoice.currency,
    lines: invoice.lines,
    purchases: invoice.purchases,
    refunds: invoice.refunds,
    net: invoice.net,
    declined: invoice.declined,
    status: invoice.status,
    issuedAt: invoice.issuedAt,
    ...(invoice.sentAt !== undefined ? { sentAt: invoice.sentAt } : {}),
    ...(invoice.sentTo !== undefined ? { sentTo: invoice.sentTo } : {}),
  };
}

export function createInvoicesDelegate({ repository }: InvoicesDelegateDeps): InvoicesDelegate {
  const notFound = (id: string) => ({ status: 404 as const, body: problem(404, 'invoice-not-found', `No invoice ${id}.`) });

  return {
    async listInvoices({ query }, ctx) {
      const operator = ctx.principal.roles.includes('operator');
      if (!operator) {
        if (query.contractId === undefined) {
          return {
            status: 400,
            body: problem(400, 'contract-id-required', 'Name one of your contracts in contractId.', { errors: [{ pointer: '/query/contractId', message: 'is required' }] }),
          };
        }
        const held = await repository.contract(query.contractId);
        // Someone else's contract lists nothing, as an unknown one does.
        if (!held || !canSee(ctx, held)) return { status: 200, body: { data: [], hasMore: false } };
      }
      const limit = query.limit ?? 20;
      const after = decodeCursor<{ period: string; id: string }>(query.cursor, { period: 'string', id: 'string' });
      const rows = await repository.listInvoices({
        ...(query.contractId !== undefined ? { contractId: query.contractId } : {}),
        ...(query.period !== undefined ? { period: query.period } : {}),
        ...(after ? { after } : {}),
        limit,
      });
      return { status: 200, body: toPage(rows, limit, toApiInvoice, (row) => ({ period: row.period, id: row._id })) };
    },

    async getInvoice({ path }, ctx) {
      const invoice = await repository.invoice(path.invoiceId);
      if (!invoice) return notFound(path.invoiceId);
      if (!ctx.principal.roles.includes('operator')) {
        const held = await repository.contract(invoice.contractId);
        if (!held || !canSee(ctx, held)) return notFound(path.invoiceId);
      }
      return { status: 200, body: toApiInvoice(invoice) };
    },
  };
}
