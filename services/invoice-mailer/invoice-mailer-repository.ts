// The invoice mailer's storage, correct on FerretDB and MongoDB (no transactions; a unique `_id`
// is the only atomic guard; every read and write filters `_id` alone — docs/architecture.md):
//
//   mail_attempts   `<invoice id>:<seq>`  the invoice's attempt log (services/common/data/
//                                         sequenced-log.ts): `sending` before the transport is
//                                         handed the message, `failed` when it refused it; two
//                                         deliveries of one invoice collide on the next seq
//   sent_invoices   `<invoice id>`        the sent-record, written as soon as the transport
//                                         accepted the message: its presence means "sent"
//   outbox          `invoice.sent/<id>`   mail.invoice-sent owed: written just before the record,
//                                         and again whenever a redelivery finds the record
import type { Collection, Db } from 'mongodb';
import { insertOnce } from '../common/data/insert-or-get.js';
import { type LogEntry, SequencedLog } from '../common/data/sequenced-log.js';
import type { Outbox, OutboxSource } from '../common/events/outbox.js';
import type { IndexPlan } from '../common/mongo.js';
import type { AttemptEntry, TransportKind } from './invoice-mailer-domain.js';

export interface SentInvoiceRecord {
  /** The invoice id. */
  _id: string;
  contractId: string;
  to: string;
  messageId: string;
  sentAt: string;
  transport: TransportKind;
  attempt: number;
  possibleDuplicate: boolean;
  /** The invoice-issued event's correlation id and id: carried on to mail.invoice-sent. */
  correlationId: string;
  causationId: string;
}

type StoredAttempt = AttemptEntry & LogEntry;

export const invoiceMailerIndexes: IndexPlan = {};

const OUTBOX_SOURCE = 'invoice.sent';

export class InvoiceMailerRepository {
  private readonly sent: Collection<SentInvoiceRecord>;
  private readonly attempts: SequencedLog<StoredAttempt>;

  constructor(
    db: Db,
    private readonly outbox: Outbox,
  ) {
    this.sent = db.collection('sent_invoices');
    this.attempts = new SequencedLog<StoredAttempt>(db, 'mail_attempts');
  }

  /** mail.invoice-sent, built from the sent-record; its id is derived from the invoice, so a re-announcement is the same event. */
  outboxSources(): Record<string, OutboxSource> {
    return {
      [OUTBOX_SOURCE]: async (invoiceId) => {
        const record = await this.sentRecord(invoiceId);
        if (!record) return 'missing';
        return {
          type: 'mail.invoice-sent',
          data: { invoiceId: record._id, contractId: record.contractId, to: record.to, messageId: record.messageId, sentAt: record.sentAt },
          meta: { id: `mail.invoice-sent:${record._id}`, correlationId: record.correlationId, causationId: record.causationId, time: record.sentAt },
        };
      },
    };
  }

  async sentRecord(invoiceId: string): Promise<SentInvoiceRecord | undefined> {
    return (await this.sent.findOne({ _id: invoiceId })) ?? undefined;
  }

  /** The invoice's latest attempt entry (authoritative: read past the head copy by `_id`). */
  async latestAttempt(invoiceId: string): Promise<(AttemptEntry & { seq: number }) | undefined> {
    return this.attempts.head(invoiceId);
  }

  /** Writes the entry at `seq`; false when another delivery of the invoice wrote that seq first. */
  async appendAttempt(invoiceId: string, seq: number, entry: AttemptEntry): Promise<boolean> {
    return (await this.attempts.insertAt(invoiceId, seq, entry)).appended;
  }

  /** Records the invoice as sent and owes mail.invoice-sent (the marker first, then the record it is built from). */
  async recordSent(record: SentInvoiceRecord): Promise<SentInvoiceRecord> {
    await this.outbox.add(OUTBOX_SOURCE, record._id);
    if (await insertOnce(this.sent, record)) return record;
    // Recorded already (another delivery got there first): that record stands.
    return (await this.sentRecord(record._id)) ?? record;
  }

  /** Owes mail.invoice-sent again for a recorded invoice (a redelivery found it sent). */
  async announceAgain(invoiceId: string): Promise<void> {
    await this.outbox.add(OUTBOX_SOURCE, invoiceId);
  }
}
