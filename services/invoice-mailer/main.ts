// The invoice mailer: mails each invoice billing issues (billing.invoice-issued) to the
// customer's billing address once, announces it (mail.invoice-sent), and serves
// specs/invoice-mailer.yaml (operators read what was sent) through createInvoiceMailerDelegate.
import { fileURLToPath } from 'node:url';
import spec from '../../generated/invoice-mailer/spec.json' with { type: 'json' };
import { createInvoiceMailerRouter } from '../../generated/invoice-mailer/router.js';
import { type ServiceDefinition, runMain } from '../common/bootstrap.js';
import { redactUrl } from '../common/config.js';
import { invoiceIssuedHandler } from './invoice-issued-handler.js';
import { createInvoiceMailerDelegate } from './invoice-mailer-delegate.js';
import { domainOf } from './invoice-mailer-domain.js';
import { InvoiceMailerRepository, invoiceMailerIndexes } from './invoice-mailer-repository.js';
import { fileTransport, smtpTransport } from './mail-transport.js';
import { loadMailerConfig } from './mailer-config.js';

export const invoiceMailerService: ServiceDefinition = {
  name: 'invoice-mailer',
  defaultPort: 8084,
  spec,
  indexes: invoiceMailerIndexes,
  createApi({ env, log, db, config, clock, routerOptions, bus, outbox, announce, onShutdown }) {
    const settings = loadMailerConfig(env);
    const transport = settings.SMTP_URL ? smtpTransport(settings.SMTP_URL, settings.SMTP_TIMEOUT_MS) : fileTransport(settings.MAIL_DIR);
    log.info({ transport: transport.kind, where: settings.SMTP_URL ? redactUrl(settings.SMTP_URL) : settings.MAIL_DIR }, 'invoices are mailed');
    onShutdown(async () => transport.close());
    const repository = new InvoiceMailerRepository(db, outbox);
    outbox.register(repository.outboxSources());
    const handle = invoiceIssuedHandler({
      repository,
      transport,
      from: settings.MAIL_FROM,
      messageIdDomain: domainOf(settings.MAIL_FROM),
      attemptLeaseMs: config.EVENT_HANDLER_TIMEOUT_MS,
      clock,
      announce,
    });
    bus.subscribe('billing.invoice-issued', (event, ctx) => handle(event, ctx.log));
    return createInvoiceMailerRouter(createInvoiceMailerDelegate({ repository }), routerOptions);
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(invoiceMailerService);
