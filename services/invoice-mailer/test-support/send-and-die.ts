// Child process for invoice-mailer-crash.test.ts: an invoice mailer that dies, SIGKILLed (no
// shutdown, nothing flushed), at one chosen point of handling billing.invoice-issued. It builds
// what main.ts builds, on the same database — the InvoiceMailerRepository with its Outbox, the
// transport from SMTP_URL / MAIL_DIR — and runs the production handler (invoiceIssuedHandler) on
// the event in INVOICE_EVENT (a CloudEvent as the bus delivers it). Only the edge where it must
// die is wrapped here:
//
//   KILL_AT=after-accept   the transport accepted the message (SMTP 250, or the file linked in
//                          place), then the process dies: no outbox marker, no sent-record.
//   KILL_AT=after-record   the outbox marker and the sent-record are written, then the process
//                          dies: the event was never acknowledged, mail.invoice-sent not relayed.
//
//   env: the mailer's (MONGO_URL, MONGO_DB, SMTP_URL or MAIL_DIR, MAIL_FROM,
//        EVENT_HANDLER_TIMEOUT_MS: the attempt's lease), KILL_AT, INVOICE_EVENT.
// stderr says why when it could not reach its kill point (then it exits 1).
import { pino } from 'pino';
import type { CloudEvent } from '../../common/events/cloud-event.js';
import { Outbox } from '../../common/events/outbox.js';
import { connectMongo } from '../../common/mongo.js';
import { invoiceIssuedHandler } from '../invoice-issued-handler.js';
import { domainOf } from '../invoice-mailer-domain.js';
import { InvoiceMailerRepository, type SentInvoiceRecord } from '../invoice-mailer-repository.js';
import { type MailTransport, fileTransport, smtpTransport } from '../mail-transport.js';
import { loadMailerConfig } from '../mailer-config.js';

export type KillAt = 'after-accept' | 'after-record';

const die = (): never => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('still alive after SIGKILL');
};
const giveUp = (why: string): never => {
  process.stderr.write(`send-and-die (${process.env.KILL_AT}): ${why}\n`);
  process.exit(1);
};

const killAt = process.env.KILL_AT as KillAt | undefined;
if (killAt !== 'after-accept' && killAt !== 'after-record') giveUp(`KILL_AT must be after-accept or after-record, not ${killAt}`);

class DyingRepository extends InvoiceMailerRepository {
  override async recordSent(record: SentInvoiceRecord): Promise<SentInvoiceRecord> {
    await super.recordSent(record);
    return die();
  }
}

const settings = loadMailerConfig(process.env);
const database = await connectMongo(process.env.MONGO_URL!, process.env.MONGO_DB!);
const outbox = new Outbox(database.db);
const repository = killAt === 'after-record' ? new DyingRepository(database.db, outbox) : new InvoiceMailerRepository(database.db, outbox);
outbox.register(repository.outboxSources());
const real = settings.SMTP_URL ? smtpTransport(settings.SMTP_URL, settings.SMTP_TIMEOUT_MS) : fileTransport(settings.MAIL_DIR);
const transport: MailTransport =
  killAt === 'after-accept'
    ? {
        ...real,
        kind: real.kind,
        async send(invoiceId, message) {
          await real.send(invoiceId, message);
          die();
        },
      }
    : real;

const handle = invoiceIssuedHandler({
  repository,
  transport,
  from: settings.MAIL_FROM,
  messageIdDomain: domainOf(settings.MAIL_FROM),
  attemptLeaseMs: Number(process.env.EVENT_HANDLER_TIMEOUT_MS ?? 30_000),
  clock: () => new Date(),
  announce: () => {},
});
const event = JSON.parse(process.env.INVOICE_EVENT ?? giveUp('INVOICE_EVENT is not set')) as CloudEvent<'billing.invoice-issued'>;
await handle(event, pino({ level: 'error' }, process.stderr));
giveUp(`handling ${event.data.invoiceId} ended without reaching ${killAt}`);
