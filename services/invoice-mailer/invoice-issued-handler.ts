// billing.invoice-issued → the invoice mailed to the customer's billing address, once, and
// mail.invoice-sent announced (through the outbox, built from the sent-record).
//
//   1. sent-record there?     → do not send; owe mail.invoice-sent again (a redelivery, a restart)
//   2. latest attempt entry   → the rule in nextStep (invoice-mailer-domain.ts): send, busy (another
//                               delivery is sending it: throw, retried later), or check the file an
//                               interrupted file attempt may have written
//   3. render (HTML, text, PDF) — before the attempt entry, so the window below stays short
//   4. `sending` entry        → a collision means another delivery took this attempt: busy
//   5. hand to the transport  → refused: a `failed` entry, then throw (the bus retries with backoff,
//                               then parks the event: never dropped silently)
//   6. outbox marker, then the sent-record (repository.recordSent); announce
//
// The window between the transport's accept (5) and the record (6) is two small writes wide. A
// crash inside it leaves a `sending` entry without a record; once its lease (the handler's
// time-out) is over, the next delivery sends again with the same Message-ID and marks the
// record `possibleDuplicate` (SMTP), or finds the file and records it (file transport).
import type { Logger } from 'pino';
import type { CloudEvent } from '../common/events/cloud-event.js';
import { type AttemptEntry, type IssuedInvoice, messageIdFor, nextStep } from './invoice-mailer-domain.js';
import type { InvoiceMailerRepository, SentInvoiceRecord } from './invoice-mailer-repository.js';
import { renderInvoice } from './invoice-rendering.js';
import { type MailTransport, TransportFailed } from './mail-transport.js';

export interface InvoiceIssuedHandlerDeps {
  repository: InvoiceMailerRepository;
  transport: MailTransport;
  /** The From header (MAIL_FROM). */
  from: string;
  /** The right-hand side of Message-IDs (MAIL_FROM's domain). */
  messageIdDomain: string;
  /** How long an attempt belongs to its handler (EVENT_HANDLER_TIMEOUT_MS: the inbox's lease). */
  attemptLeaseMs: number;
  clock: () => Date;
  /** Called once mail.invoice-sent is owed, so the relay publishes it now. */
  announce: () => void;
}

export class InvoiceBusy extends Error {
  override readonly name = 'InvoiceBusy';
}

export function invoiceIssuedHandler(deps: InvoiceIssuedHandlerDeps) {
  const { repository, transport, clock } = deps;

  return async (event: CloudEvent<'billing.invoice-issued'>, log: Logger): Promise<void> => {
    const invoice = event.data;
    const id = invoice.invoiceId;
    if (await repository.sentRecord(id)) {
      log.info({ invoiceId: id }, 'invoice already sent; announcing it again');
      await repository.announceAgain(id);
      deps.announce();
      return;
    }
    const latest = await repository.latestAttempt(id);
    const seq = (latest?.seq ?? 0) + 1;
    const next = nextStep(latest, clock());
    if (next.step === 'busy') throw new InvoiceBusy(`invoice ${id} is being sent by another delivery (until ${next.until})`);
    const messageId = messageIdFor(id, deps.messageIdDomain);
    const record = (attempt: number, transportKind: MailTransport['kind'], possibleDuplicate: boolean): SentInvoiceRecord => ({
      _id: id,
      contractId: invoice.contractId,
      to: invoice.customer.billingEmail,
      messageId,
      sentAt: clock().toISOString(),
      transport: transportKind,
      attempt,
      possibleDuplicate,
      correlationId: event.correlationid,
      causationId: event.id,
    });

    if (next.step === 'check-file') {
      if (transport.written && (await transport.written(id))) {
        log.warn({ invoiceId: id, attempt: next.interrupted }, 'an interrupted attempt had written the invoice file; recording it as sent');
        await repository.recordSent(record(next.interrupted, 'file', next.possibleDuplicate));
        deps.announce();
        return;
      }
    } else if (next.possibleDuplicate) {
      log.warn({ invoiceId: id, attempt: next.attempt }, 'an earlier attempt may have been accepted by the SMTP server; sending again with the same Message-ID');
    }

    const rendered = await renderInvoice(invoice);
    const now = clock();
    const sending: AttemptEntry = {
      kind: 'sending',
      attempt: next.attempt,
      transport: transport.kind,
      at: now.toISOString(),
      leaseUntil: new Date(now.getTime() + deps.attemptLeaseMs).toISOString(),
      possibleDuplicate: next.possibleDuplicate,
    };
    if (!(await repository.appendAttempt(id, seq, sending))) throw new InvoiceBusy(`invoice ${id}: attempt ${next.attempt} was taken by another delivery`);

    try {
      await transport.send(id, mailOf(invoice, rendered, deps.from, messageId));
    } catch (err) {
      const failed = err instanceof TransportFailed ? err : new TransportFailed(String(err), true, { cause: err });
      const ended: AttemptEntry = { ...sending, kind: 'failed', at: clock().toISOString(), reason: failed.message.slice(0, 500), uncertain: failed.uncertain };
      delete ended.leaseUntil;
      await repository.appendAttempt(id, seq + 1, ended);
      throw failed;
    }
    await repository.recordSent(record(next.attempt, transport.kind, next.possibleDuplicate));
    deps.announce();
    log.info({ invoiceId: id, attempt: next.attempt, transport: transport.kind }, 'invoice sent');
  };
}

function mailOf(invoice: IssuedInvoice, rendered: Awaited<ReturnType<typeof renderInvoice>>, from: string, messageId: string) {
  return {
    from,
    to: invoice.customer.billingEmail,
    subject: rendered.subject,
    messageId,
    text: rendered.text,
    html: rendered.html,
    attachments: [{ filename: rendered.pdfName, content: rendered.pdf, contentType: 'application/pdf' }],
  };
}
