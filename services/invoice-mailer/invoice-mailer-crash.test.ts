// The invoice mailer SIGKILLed mid-way (a child process, test-support/send-and-die.ts, running the
// production handler on the mailer's database), then restarted (the real service, in-process) and
// handed the same event again, as the broker redelivers an unacknowledged one. Real SMTP server
// in-process, RabbitMQ, FerretDB. What each test proves:
//
//  - killed after the sent-record: after the restart no second mail, and mail.invoice-sent is
//    still emitted (the child's outbox marker, relayed by the restarted service) with the mail's
//    Message-ID;
//  - killed between the SMTP server's accept and the sent-record (the window): the documented
//    rule — the restarted mailer cannot know whether the server took it, so it sends again with
//    the same Message-ID and records `possibleDuplicate: true` (attempt 2); mail.invoice-sent is
//    emitted once the record is there;
//  - the same with the file transport: the interrupted attempt's file is found, nothing is
//    written again (one .eml), recorded as attempt 1, no duplicate.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createInvoiceMailerClient } from '../../generated/invoice-mailer/client.js';
import { type EventProbe, startEventProbe } from '../../tools/testing/event-probe.js';
import { AMQP_PREFIX, MONGO_URL, type TestService, deleteTopology, dropDatabase, startTestService, testDatabaseName, withMongo } from '../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer } from '../../tools/testing/tokens.js';
import { eventually } from '../../tools/testing/wait.js';
import { type CloudEvent, cloudEvent } from '../common/events/cloud-event.js';
import { invoiceMailerService } from './main.js';
import { type MailSink, startMailSink } from './test-support/mail-sink.js';
import { type InvoiceIssued, issuedInvoice, startBillingPublisher } from './test-support/invoices.js';
import type { KillAt } from './test-support/send-and-die.js';

const SEND_AND_DIE = fileURLToPath(new URL('./test-support/send-and-die.ts', import.meta.url));
const MAIL_FROM = 'Payspec Billing <billing@payspec.test>';

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('Invoice mailer: crashes (integration)', function () {
  this.timeout(60_000);
  let issuer: TokenIssuer;
  let sink: MailSink;
  let probe: EventProbe;
  let billing: Awaited<ReturnType<typeof startBillingPublisher>>;
  let mailer: TestService | undefined;
  let run = 0;

  before(async () => {
    issuer = await createTokenIssuer();
    sink = await startMailSink();
    probe = await startEventProbe('invoice-mailer-crash-probe', ['mail.invoice-sent']);
    billing = await startBillingPublisher();
  });

  afterEach(async () => {
    await mailer?.stop();
    if (mailer) await dropDatabase(mailer.dbName);
    mailer = undefined;
  });

  after(async () => {
    await billing?.close();
    await probe?.stop();
    await sink?.stop();
    await deleteTopology(AMQP_PREFIX, 'invoice-mailer');
    await deleteTopology(AMQP_PREFIX, 'billing');
  });

  /** The event as billing's outbox publishes it (one id per invoice): the child handles it, the broker redelivers it. */
  const eventOf = (invoice: InvoiceIssued): CloudEvent<'billing.invoice-issued'> =>
    cloudEvent('billing', 'billing.invoice-issued', invoice, { id: `billing.invoice-issued:${invoice.invoiceId}`, correlationId: `corr-${invoice.invoiceId}` });

  /** Handles the event in a child mailer that SIGKILLs itself at `killAt`, on the database the restarted mailer will use. */
  async function sendAndDie(killAt: KillAt, invoice: InvoiceIssued, settings: Record<string, string>): Promise<void> {
    const env = {
      ...process.env,
      MONGO_URL,
      ...settings,
      MAIL_FROM,
      KILL_AT: killAt,
      INVOICE_EVENT: JSON.stringify(eventOf(invoice)),
      // The attempt's lease ends at once: the restarted mailer may take over without waiting it out.
      EVENT_HANDLER_TIMEOUT_MS: '1',
    };
    const child = spawn(process.execPath, ['--import', 'tsx', SEND_AND_DIE], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const { signal } = await exited(child);
    expect(signal, `child ${killAt}: ${stderr}`).to.equal('SIGKILL');
  }

  /** Restarts the mailer on the child's database and redelivers the event; resolves once the redelivery is handled. */
  async function restartAndRedeliver(invoice: InvoiceIssued, settings: Record<string, string>): Promise<TestService> {
    mailer = await startTestService(invoiceMailerService, issuer, { ...settings, MAIL_FROM });
    await billing.publish(invoice);
    const service = mailer;
    await eventually(
      () => withMongo(async (c) => c.db(service.dbName).collection('inbox').findOne({ _id: eventOf(invoice).id as never })),
      (handled) => handled !== null,
      'the redelivered event handled',
    );
    return service;
  }

  const sentInvoice = async (service: TestService, invoiceId: string) =>
    (await createInvoiceMailerClient({ baseUrl: service.url, token: await issuer.sign('op', { roles: ['operator'] }) }).GET('/sent-invoices/{invoiceId}', { params: { path: { invoiceId } } })).data;
  const sentEvents = (invoiceId: string) => (event: CloudEvent) => (event.data as { invoiceId?: string }).invoiceId === invoiceId;
  const database = () => ({ MONGO_DB: `${testDatabaseName('invoice-mailer')}_crash${++run}` });

  it('killed after recording the mail: no second mail after the restart, and mail.invoice-sent is still emitted', async () => {
    const invoice = issuedInvoice();
    const settings = { ...database(), SMTP_URL: sink.url };
    await sendAndDie('after-record', invoice, settings);
    expect(sink.to(invoice.customer.billingEmail)).to.have.length(1);

    const service = await restartAndRedeliver(invoice, settings);
    const [sent] = await probe.waitFor(sentEvents(invoice.invoiceId), 1);
    expect(sent?.data).to.include({ invoiceId: invoice.invoiceId, messageId: `<${invoice.invoiceId}@payspec.test>`, to: invoice.customer.billingEmail });
    expect(sink.to(invoice.customer.billingEmail), 'mails after the restart').to.have.length(1);
    expect(await sentInvoice(service, invoice.invoiceId)).to.include({ attempt: 1, possibleDuplicate: false, transport: 'smtp' });
  });

  it('killed between the SMTP accept and the record: sent again with the same Message-ID and recorded as a possible duplicate (the documented rule)', async () => {
    const invoice = issuedInvoice();
    const settings = { ...database(), SMTP_URL: sink.url };
    await sendAndDie('after-accept', invoice, settings);
    expect(sink.to(invoice.customer.billingEmail)).to.have.length(1);

    const service = await restartAndRedeliver(invoice, settings);
    const [sent] = await probe.waitFor(sentEvents(invoice.invoiceId), 1);
    expect(sent?.data).to.include({ invoiceId: invoice.invoiceId, messageId: `<${invoice.invoiceId}@payspec.test>` });
    const copies = sink.to(invoice.customer.billingEmail);
    expect(copies.map((m) => m.messageId)).to.deep.equal([`<${invoice.invoiceId}@payspec.test>`, `<${invoice.invoiceId}@payspec.test>`]);
    expect(await sentInvoice(service, invoice.invoiceId)).to.include({ attempt: 2, possibleDuplicate: true });
  });

  it('file transport, killed between writing the file and the record: the file is found, none written again', async () => {
    const mailDir = await mkdtemp(join(tmpdir(), 'payspec-mail-crash-'));
    try {
      const invoice = issuedInvoice();
      const settings = { ...database(), MAIL_DIR: mailDir };
      await sendAndDie('after-accept', invoice, settings);
      expect(await readdir(mailDir)).to.deep.equal([`${invoice.invoiceId}.eml`]);

      const service = await restartAndRedeliver(invoice, settings);
      await probe.waitFor(sentEvents(invoice.invoiceId), 1);
      expect(await readdir(mailDir)).to.deep.equal([`${invoice.invoiceId}.eml`]);
      expect(await sentInvoice(service, invoice.invoiceId)).to.include({ attempt: 1, possibleDuplicate: false, transport: 'file' });
    } finally {
      await rm(mailDir, { recursive: true, force: true });
    }
  });
});
