// The Invoice Mailer API: the generated SentInvoicesDelegate, implemented. Security (operators
// only) and validation are done when a method runs.
import type { SentInvoicesDelegate } from '../../generated/invoice-mailer/delegate.js';
import { problem } from '../common/http/problem.js';
import type { InvoiceMailerRepository } from './invoice-mailer-repository.js';

export function createInvoiceMailerDelegate({ repository }: { repository: InvoiceMailerRepository }): SentInvoicesDelegate {
  return {
    async getSentInvoice({ path: { invoiceId } }) {
      const record = await repository.sentRecord(invoiceId);
      if (!record) return { status: 404, body: problem(404, 'sent-invoice-not-found', `Invoice ${invoiceId} has not been sent.`) };
      const { _id, contractId, to, messageId, sentAt, transport, attempt, possibleDuplicate } = record;
      return { status: 200, body: { invoiceId: _id, contractId, to, messageId, sentAt, transport, attempt, possibleDuplicate } };
    },
  };
}
