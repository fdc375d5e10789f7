// The invoice mailer against a real SMTP server in-process (smtp-server; what arrives is read
// with mailparser), real RabbitMQ and FerretDB. billing.invoice-issued is published as billing
// would, through the EventBus; mail.invoice-sent is heard with an event probe. What it proves:
// the mail reaches the billing address with HTML (values from the event escaped), text and a PDF
// that parses and holds the invoice; mail.invoice-sent carries its Message-ID; a redelivery (same
// event, or another event for the same invoice) sends nothing more but announces again; an SMTP
// server that is down is retried until it is back; one that refuses the address gets the event
// parked after the retries, with each attempt in the log and nothing recorded as sent; the file
// transport writes one .eml per invoice; getSentInvoice answers operators only.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { expect } from 'chai';
import { simpleParser } from 'mailparser';
import { extractText } from 'unpdf';
import { createInvoiceMailerClient } from '../../generated/invoice-mailer/client.js';
import spec from '../../generated/invoice-mailer/spec.json' with { type: 'json' };
import { type OpenApiSpec, createContractCheckingMiddleware } from '../../tools/contract-testing/index.js';
import { type EventProbe, startEventProbe } from '../../tools/testing/event-probe.js';
import { AMQP_PREFIX, AMQP_URL, type TestService, deleteTopology, startTestService, withMongo } from '../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer } from '../../tools/testing/tokens.js';
import { eventually } from '../../tools/testing/wait.js';
import type { CloudEvent } from '../common/events/cloud-event.js';
import { newId } from '../common/ids.js';
import type { AttemptEntry } from './invoice-mailer-domain.js';
import { invoiceMailerService } from './main.js';
import { type MailSink, startMailSink } from './test-support/mail-sink.js';
import { issuedInvoice, startBillingPublisher } from './test-support/invoices.js';

describe('Invoice mailer (integration)', function () {
  this.timeout(60_000);
  let issuer: TokenIssuer;
  let sink: MailSink;
  let mailer: TestService;
  let probe: EventProbe;
  let billing: Awaited<ReturnType<typeof startBillingPublisher>>;

  const client = (token?: string) =>
    createInvoiceMailerClient({ baseUrl: mailer.url, ...(token !== undefined ? { token } : {}), middleware: [createContractCheckingMiddleware({ api: 'invoice-mailer', spec: spec as OpenApiSpec })] });
  const operator = async () => client(await issuer.sign('op-mailer', { roles: ['operator'] }));
  const sentEvents = (invoiceId: string) => (event: CloudEvent) => event.type === 'mail.invoice-sent' && (event.data as { invoiceId: string }).invoiceId === invoiceId;
  const attemptsOf = (service: TestService, invoiceId: string) =>
    withMongo(async (c) => c.db(service.dbName).collection<AttemptEntry & { seq: number }>('mail_attempts').find({ owner: invoiceId }).sort({ seq: 1 }).toArray());
  const sentRecord = (service: TestService, invoiceId: string) => withMongo(async (c) => c.db(service.dbName).collection('sent_invoices').findOne({ _id: invoiceId as never }));

  /** mail.invoice-sent events the mailer published so far (its /metrics). */
  const publishedSent = async () => {
    const metrics = await (await fetch(`${mailer.url}/metrics`)).text();
    return Number(/^events_published_total\{[^}]*type="mail\.invoice-sent"[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
  };

  before(async () => {
    issuer = await createTokenIssuer();
    sink = await startMailSink();
    probe = await startEventProbe('invoice-mailer-probe', ['mail.invoice-sent']);
    mailer = await startTestService(invoiceMailerService, issuer, { SMTP_URL: sink.url, MAIL_FROM: 'Payspec Billing <billing@payspec.test>' });
    billing = await startBillingPublisher();
  });

  after(async () => {
    await billing?.close();
    await mailer?.stop();
    await mailer?.drop();
    await probe?.stop();
    await sink?.stop();
    await deleteTopology(AMQP_PREFIX, 'billing');
  });

  it('mails the invoice to the billing address (HTML escaped, text, a PDF holding it) and announces mail.invoice-sent with its Message-ID', async () => {
    const invoice = issuedInvoice();
    await billing.publish(invoice);
    const [mail] = await eventually(async () => sink.to(invoice.customer.billingEmail), (m) => m.length > 0, 'the mail');
    expect(mail!.messageId).to.equal(`<${invoice.invoiceId}@payspec.test>`);
    expect(mail!.from?.value[0]?.address).to.equal('billing@payspec.test');
    expect(mail!.subject).to.equal('Invoice 2026-11 for ACME <Works> & "Council"');
    // Values from the event are escaped in the HTML (no markup of theirs), plain in the text.
    const html = String(mail!.html);
    expect(html).to.include('ACME &lt;Works&gt; &amp; &quot;Council&quot;').and.to.include('Gift cards &lt;b&gt;x&lt;/b&gt;');
    expect(html).not.to.include('<Works>').and.not.to.include('<b>x</b>');
    expect(html).to.include('€100.00').and.to.include('-€12.34');
    expect(mail!.text).to.include('Dear ACME <Works> & "Council"').and.to.include('Net:       €100.00').and.to.include('1 purchase(s) for €5.00 were declined');
    expect(mail!.attachments).to.have.length(1);
    const pdf = mail!.attachments[0]!;
    expect(pdf.contentType).to.equal('application/pdf');
    expect(pdf.filename).to.equal(`invoice-2026-11-${invoice.invoiceId}.pdf`);
    expect(pdf.content.subarray(0, 5).toString('latin1')).to.equal('%PDF-');
    const { text } = await extractText(new Uint8Array(pdf.content), { mergePages: true });
    expect(text).to.include(invoice.invoiceId).and.to.include('Net: €100.00').and.to.include('ACME <Works> & "Council"');

    const [sent] = await probe.waitFor(sentEvents(invoice.invoiceId), 1);
    expect(sent?.data).to.deep.equal({ invoiceId: invoice.invoiceId, contractId: invoice.contractId, to: invoice.customer.billingEmail, messageId: mail!.messageId, sentAt: (sent!.data as { sentAt: string }).sentAt });
    expect(sent?.correlationid).to.equal(`corr-${invoice.invoiceId}`);
    expect(sent?.causationid).to.equal(`billing.invoice-issued:${invoice.invoiceId}`);

    const { response, data } = await (await operator()).GET('/sent-invoices/{invoiceId}', { params: { path: { invoiceId: invoice.invoiceId } } });
    expect(response.status).to.equal(200);
    expect(data).to.deep.equal({
      invoiceId: invoice.invoiceId,
      contractId: invoice.contractId,
      to: invoice.customer.billingEmail,
      messageId: mail!.messageId,
      sentAt: (sent!.data as { sentAt: string }).sentAt,
      transport: 'smtp',
      attempt: 1,
      possibleDuplicate: false,
    });
  });

  it('sends an invoice delivered twice (the same event, then another event for it) once, and announces it again', async () => {
    const invoice = issuedInvoice();
    const announcedBefore = await publishedSent();
    await billing.publish(invoice);
    await eventually(publishedSent, (n) => n === announcedBefore + 1, 'mail.invoice-sent published');
    await billing.publish(invoice); // the same event id: the inbox skips it
    await billing.publish(invoice, `another-event-${invoice.invoiceId}`); // a new event id: the sent-record stops it
    // It is announced again: the same event (same id), which consumers' inboxes skip (the probe's too), so count what the mailer published.
    await eventually(publishedSent, (n) => n === announcedBefore + 2, 'mail.invoice-sent published again');
    const [announced] = await probe.waitFor(sentEvents(invoice.invoiceId), 1);
    expect(announced!.id).to.equal(`mail.invoice-sent:${invoice.invoiceId}`);
    expect(sink.to(invoice.customer.billingEmail)).to.have.length(1);
    expect((await attemptsOf(mailer, invoice.invoiceId)).map((a) => a.kind)).to.deep.equal(['sending']);
  });

  it('retries while the SMTP server is down and sends once it is back', async () => {
    const invoice = issuedInvoice();
    await sink.stop();
    try {
      await billing.publish(invoice);
      const attempts = await eventually(() => attemptsOf(mailer, invoice.invoiceId), (a) => a.some((e) => e.kind === 'failed'), 'a failed attempt');
      expect(attempts[1]?.reason).to.match(/ECONNREFUSED/);
      expect(attempts[1]?.uncertain, 'a refused connection delivered nothing').to.equal(false);
    } finally {
      await sink.start();
    }
    const [mail] = await eventually(async () => sink.to(invoice.customer.billingEmail), (m) => m.length > 0, 'the mail after the server is back');
    expect(mail!.messageId).to.equal(`<${invoice.invoiceId}@payspec.test>`);
    await probe.waitFor(sentEvents(invoice.invoiceId), 1);
    const record = await sentRecord(mailer, invoice.invoiceId);
    expect(record?.attempt).to.be.greaterThan(1);
    expect(record?.possibleDuplicate).to.equal(false);
    expect(sink.to(invoice.customer.billingEmail)).to.have.length(1);
  });

  it('parks the event when the SMTP server keeps refusing the address: every attempt logged, nothing recorded as sent', async () => {
    const invoice = issuedInvoice({ customer: { id: 'cust-gone', name: 'Gone Ltd', billingEmail: `nobody-${newId('x').slice(2, 10)}@rejected.example` } });
    await billing.publish(invoice);
    const connection = await amqplib.connect(AMQP_URL);
    try {
      const channel = await connection.createChannel();
      const parking = `${AMQP_PREFIX}.invoice-mailer.parking`;
      const parked = await eventually(
        async () => {
          const message = await channel.get(parking, { noAck: false });
          if (!message) return undefined;
          channel.nack(message, false, true);
          return JSON.parse(message.content.toString()) as CloudEvent;
        },
        (m) => (m?.data as { invoiceId?: string } | undefined)?.invoiceId === invoice.invoiceId,
        'the parked event',
      );
      expect(parked?.id).to.equal(`billing.invoice-issued:${invoice.invoiceId}`);
      await channel.close();
    } finally {
      await connection.close();
    }
    const attempts = await attemptsOf(mailer, invoice.invoiceId);
    // The first delivery and each retry (TEST_RETRY_DELAYS_MS: 3): a `sending` then a `failed` entry each.
    expect(attempts.map((a) => `${a.kind}#${a.attempt}`)).to.deep.equal(['sending#1', 'failed#1', 'sending#2', 'failed#2', 'sending#3', 'failed#3', 'sending#4', 'failed#4']);
    expect(attempts[1]?.reason).to.match(/550/);
    expect(await sentRecord(mailer, invoice.invoiceId)).to.equal(null);
    expect(sink.to(invoice.customer.billingEmail)).to.deep.equal([]);
  });

  it('answers getSentInvoice to operators only: 404 for an invoice not sent, 401 without a token, 403 for other roles', async () => {
    const unknown = newId('inv');
    const notSent = await (await operator()).GET('/sent-invoices/{invoiceId}', { params: { path: { invoiceId: unknown } } });
    expect(notSent.response.status).to.equal(404);
    expect(notSent.error).to.include({ code: 'sent-invoice-not-found' });
    const anonymous = await client().GET('/sent-invoices/{invoiceId}', { params: { path: { invoiceId: unknown } } });
    expect(anonymous.response.status).to.equal(401);
    const customer = await client(await issuer.sign('usr-customer', { roles: ['customer'] })).GET('/sent-invoices/{invoiceId}', { params: { path: { invoiceId: unknown } } });
    expect(customer.response.status).to.equal(403);
    const badId = await (await operator()).GET('/sent-invoices/{invoiceId}', { params: { path: { invoiceId: 'not-an-invoice' } } });
    expect(badId.response.status).to.equal(400);
  });

  describe('without SMTP_URL: files', () => {
    let mailDir: string;
    let fileMailer: TestService;

    before(async () => {
      mailDir = await mkdtemp(join(tmpdir(), 'payspec-mail-'));
      // Its own database and queue prefix: it consumes invoices apart from the SMTP mailer above.
      fileMailer = await startTestService(invoiceMailerService, issuer, { MAIL_DIR: mailDir, MONGO_DB: `${mailer.dbName}_files`, AMQP_PREFIX: `${AMQP_PREFIX}_files` });
    });

    after(async () => {
      await fileMailer?.stop();
      await fileMailer?.drop();
      await rm(mailDir, { recursive: true, force: true });
    });

    it('writes one .eml per invoice, also when the invoice is delivered twice', async () => {
      const files = await startBillingPublisher(`${AMQP_PREFIX}_files`);
      try {
        const invoice = issuedInvoice();
        await files.publish(invoice);
        await eventually(() => sentRecord(fileMailer, invoice.invoiceId), (r) => r !== null, 'the sent-record');
        await files.publish(invoice, `another-event-${invoice.invoiceId}`);
        await eventually(
          () => withMongo(async (c) => c.db(fileMailer.dbName).collection('inbox').findOne({ _id: `another-event-${invoice.invoiceId}` as never })),
          (handled) => handled !== null,
          'the second delivery handled',
        );
        expect((await readdir(mailDir)).filter((f) => f.includes(invoice.invoiceId))).to.deep.equal([`${invoice.invoiceId}.eml`]);
        const mail = await simpleParser(await readFile(join(mailDir, `${invoice.invoiceId}.eml`)));
        expect(mail.to && !Array.isArray(mail.to) ? mail.to.value[0]?.address : undefined).to.equal(invoice.customer.billingEmail);
        expect(mail.messageId).to.equal(`<${invoice.invoiceId}@payspec.local>`);
        expect(mail.attachments[0]?.content.subarray(0, 5).toString('latin1')).to.equal('%PDF-');
        const { data } = await createInvoiceMailerClient({ baseUrl: fileMailer.url, token: await issuer.sign('op', { roles: ['operator'] }) }).GET('/sent-invoices/{invoiceId}', {
          params: { path: { invoiceId: invoice.invoiceId } },
        });
        expect(data?.transport).to.equal('file');
      } finally {
        await files.close();
        await deleteTopology(`${AMQP_PREFIX}_files`, 'billing');
      }
    });
  });
});
