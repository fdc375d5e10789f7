// Direct debits for billing operations end to end: the real gateway consuming
// billing.payment-requested from RabbitMQ, the real acquiring-bank simulator, FerretDB. The IBAN
// is sealed with the same development key the contract service uses; the gateway's log lines are
// captured (its logger replaced by one writing to memory, with the production redaction) so the
// test can look for the clear IBAN in them, in every event and in every gateway document.
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import type { EventPayloads } from '../../generated/events/types.js';
import type { ServiceDefinition } from '../common/bootstrap.js';
import { loadConfig } from '../common/config.js';
import type { CloudEvent } from '../common/events/cloud-event.js';
import { EventBus } from '../common/events/event-bus.js';
import { newId } from '../common/ids.js';
import { REDACTED_PATHS } from '../common/logger.js';
import { ValueSealer, mandateSealSpecs, mandateSealer } from '../common/sealed-values.js';
import { parseSecretKey } from '../common/secret-keys.js';
import { type EventProbe, startEventProbe } from '../../tools/testing/event-probe.js';
import { AMQP_PREFIX, AMQP_URL, type TestService, deleteTopology, startTestService, testDatabaseName, withMongo } from '../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer } from '../../tools/testing/tokens.js';
import { eventually, freePort } from '../../tools/testing/wait.js';
import { acquiringBankService } from '../simulators/acquiring-bank/main.js';
import { paymentGatewayService } from './main.js';

const IBAN = 'FR7630006000011234567890189';
const IBAN_AS_TYPED = 'FR76 3000 6000 0112 3456 7890 189';
const NO_FUNDS_IBAN = 'DE89370400440532013000';
const CLEAR_IBANS = [IBAN, IBAN_AS_TYPED, NO_FUNDS_IBAN];
const BANK_KEY = { 'x-api-key': 'dev-bank-key' };

type Request = EventPayloads['billing.payment-requested'];
type Answer = CloudEvent<'payment.authorized'> | CloudEvent<'payment.declined'>;

/** The gateway, its log lines going to `lines` (at debug, redacted as in production). */
function capturingLogs(lines: string[]): ServiceDefinition {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = pino({ level: 'debug', base: { service: 'payment-gateway' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink);
  return { ...paymentGatewayService, createApi: (deps) => paymentGatewayService.createApi({ ...deps, log, routerOptions: { ...deps.routerOptions, log } }) };
}

/** A Prometheus counter's total over the series whose labels include `labels`. */
async function counter(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/**
 * Direct debits the bank was asked to make, from its /metrics: the POSTs it answered (its routes
 * are labelled `unmatched`, so by method; the only POSTs the banks of this file get are direct debits).
 */
const debitCalls = (bankUrl: string) => counter(bankUrl, 'http_request_duration_seconds_count', { method: 'POST' });

describe('Direct debits for billing operations (integration)', function () {
  this.timeout(60_000);
  const { sealer } = mandateSealer(loadConfig(mandateSealSpecs(), {}), {});
  const strangerSealer = new ValueSealer(parseSecretKey(randomBytes(32).toString('base64url'), 'another service', 'msk'));
  const logLines: string[] = [];
  let issuer: TokenIssuer;
  let bank: TestService;
  let gateway: TestService;
  let billing: EventBus;
  let probe: EventProbe;

  async function paymentRequest(mandate: { iban?: string; signedOn?: string; expiresOn?: string; sealedWith?: ValueSealer } = {}): Promise<Request> {
    return {
      operationId: newId('op'),
      contractId: newId('ctr'),
      amount: 4_200,
      currency: 'EUR',
      description: 'March purchases',
      mandate: {
        reference: 'ACME-2026-0001',
        ibanSealed: await (mandate.sealedWith ?? sealer).seal(mandate.iban ?? IBAN_AS_TYPED, 'iban'),
        signedOn: mandate.signedOn ?? '2025-12-01',
        ...(mandate.expiresOn !== undefined ? { expiresOn: mandate.expiresOn } : {}),
      },
      requestedAt: new Date().toISOString(),
    };
  }
  const publish = (on: EventBus, request: Request, eventId = randomUUID()) =>
    on.publish('billing.payment-requested', request, { id: eventId, correlationId: `corr-${request.operationId}` });
  const answerTo = async (on: EventProbe, operationId: string): Promise<Answer> => {
    const [answer] = await on.waitFor((e) => (e.data as { operationId?: string }).operationId === operationId, 1);
    expect(answer, `an answer to ${operationId}`).to.not.equal(undefined);
    return answer as Answer;
  };
  /** Every document of the gateway's database, read whole (the bank-down test checks its own before dropping it). */
  const expectNoClearIban = (dbName: string) =>
    withMongo(async (client) => {
      const db = client.db(dbName);
      const collections = await db.listCollections({}, { nameOnly: true }).toArray();
      expect(collections.map((c) => c.name)).to.include('direct_debits');
      for (const { name } of collections) {
        const docs = JSON.stringify(await db.collection(name).find({}).toArray());
        for (const iban of CLEAR_IBANS) expect(docs, `${dbName}.${name}`).to.not.include(iban);
      }
    });
  const storedDebit = (dbName: string, operationId: string) => withMongo((client) => client.db(dbName).collection('direct_debits').findOne({ _id: operationId as never }));

  before(async () => {
    issuer = await createTokenIssuer();
    bank = await startTestService(acquiringBankService, issuer, { BANK_NAME: 'piggy-bank' });
    gateway = await startTestService(capturingLogs(logLines), issuer, {
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '1',
      ACQUIRING_BANKS: `piggy-bank=${bank.url},acme-acquiring=http://127.0.0.1:1`,
      DIRECT_DEBIT_BANK: 'piggy-bank',
      BANK_TIMEOUT_MS: '1000',
      // The reconciler keeps to its default age (30 s): here every debit is settled by its request.
    });
    probe = await startEventProbe('direct-debits-probe', ['payment.authorized', 'payment.declined']);
    billing = new EventBus({ url: AMQP_URL, prefix: AMQP_PREFIX, service: 'billing', log: pino({ level: 'silent' }) });
  });

  after(async () => {
    await billing?.close();
    await probe?.stop();
    for (const svc of [gateway, bank]) await svc?.stop();
    for (const svc of [gateway, bank]) await svc?.drop();
    await deleteTopology(AMQP_PREFIX, 'billing');
  });

  it('authorizes a debit the bank makes: payment.authorized with the bank reference, history pending → authorized', async () => {
    const request = await paymentRequest();
    const published = await publish(billing, request);
    const answer = await answerTo(probe, request.operationId);
    expect(answer.type).to.equal('payment.authorized');
    expect(answer.data).to.deep.equal({
      operationId: request.operationId,
      contractId: request.contractId,
      amount: 4_200,
      currency: 'EUR',
      bankReference: request.operationId,
      at: answer.data.at,
    });
    expect(answer.correlationid).to.equal(published.correlationid);
    expect(answer.causationid).to.equal(published.id);
    const atBank = await (await fetch(`${bank.url}/direct-debits/${request.operationId}`, { headers: BANK_KEY })).json();
    expect(atBank).to.include({ reference: request.operationId, status: '0', amount: 4_200, currency: 'EUR' });
    const stored = await storedDebit(gateway.dbName, request.operationId);
    expect(stored).to.include({ status: 'authorized', bank: 'piggy-bank', bankReference: request.operationId });
    expect(stored!.statusHistory.map((s: { status: string }) => s.status)).to.deep.equal(['pending', 'authorized']);
  });

  it('declines with the bank reason: insufficient-funds for the account that never has the funds, mandate-invalid for an expired mandate', async () => {
    const short = await paymentRequest({ iban: NO_FUNDS_IBAN });
    const expired = await paymentRequest({ signedOn: '2024-01-01', expiresOn: '2025-12-31' });
    await publish(billing, short);
    await publish(billing, expired);
    const shortAnswer = await answerTo(probe, short.operationId);
    const expiredAnswer = await answerTo(probe, expired.operationId);
    expect(shortAnswer.type).to.equal('payment.declined');
    expect(shortAnswer.data).to.include({ operationId: short.operationId, reason: 'insufficient-funds' });
    expect(shortAnswer.data).to.not.have.property('bankReference');
    expect(expiredAnswer.type).to.equal('payment.declined');
    expect(expiredAnswer.data).to.include({ operationId: expired.operationId, reason: 'mandate-invalid' });
    const stored = await storedDebit(gateway.dbName, short.operationId);
    expect(stored!.statusHistory.map((s: { status: string; reason?: string }) => [s.status, s.reason])).to.deep.equal([
      ['pending', undefined],
      ['declined', 'insufficient-funds'],
    ]);
  });

  it('declines as mandate-unreadable an IBAN sealed under a key the gateway does not hold, without asking the bank', async () => {
    const request = await paymentRequest({ sealedWith: strangerSealer });
    await publish(billing, request);
    const answer = await answerTo(probe, request.operationId);
    expect(answer.type).to.equal('payment.declined');
    expect(answer.data).to.include({ operationId: request.operationId, reason: 'mandate-unreadable' });
    expect((await fetch(`${bank.url}/direct-debits/${request.operationId}`, { headers: BANK_KEY })).status).to.equal(404);
  });

  it('declines as mandate-invalid an IBAN the bank would refuse as malformed, without asking the bank', async () => {
    const request = await paymentRequest({ iban: 'not an IBAN at all' });
    await publish(billing, request);
    const answer = await answerTo(probe, request.operationId);
    expect(answer.type).to.equal('payment.declined');
    expect(answer.data).to.include({ operationId: request.operationId, reason: 'mandate-invalid' });
    expect((await fetch(`${bank.url}/direct-debits/${request.operationId}`, { headers: BANK_KEY })).status).to.equal(404);
  });

  it('debits once and answers once when the request comes twice: the same event redelivered, and the same operation under another event', async () => {
    const handled = () => counter(gateway.url, 'events_consumed_total', { type: 'billing.payment-requested' });
    const callsBefore = await debitCalls(bank.url);
    const handledBefore = await handled();
    const publishedBefore = await counter(gateway.url, 'events_published_total', { type: 'payment.authorized' });
    const request = await paymentRequest();
    const eventId = randomUUID();
    await publish(billing, request, eventId);
    await publish(billing, request, eventId);
    await publish(billing, { ...request, requestedAt: new Date().toISOString() });
    await answerTo(probe, request.operationId);
    // All three deliveries went through the gateway (handled, or skipped as a duplicate) …
    await eventually(handled, (n) => n >= handledBefore + 3, 'deliveries of the payment request');
    // … and the last event's answer, if any, has left the outbox.
    await eventually(
      () => withMongo((client) => client.db(gateway.dbName).collection('outbox').countDocuments({})),
      (n) => n === 0,
      'outbox drained',
    );
    expect(await debitCalls(bank.url), 'direct debits asked of the bank').to.equal(callsBefore + 1);
    expect(await counter(gateway.url, 'events_published_total', { type: 'payment.authorized' }), 'payment.authorized published').to.equal(publishedBefore + 1);
    expect(probe.received.filter((e) => (e.data as { operationId?: string }).operationId === request.operationId)).to.have.length(1);
    const stored = await storedDebit(gateway.dbName, request.operationId);
    expect(stored!.statusHistory.map((s: { status: string }) => s.status)).to.deep.equal(['pending', 'authorized']);
  });

  it('leaves the debit pending while its bank answers garbage or is down, and authorizes it once when the bank is back', async () => {
    // A gateway, a bank, a probe and a queue of their own (own databases, own AMQP prefix), with
    // a reconciler that looks at anything pending every 100 ms.
    const own = (name: string) => `${testDatabaseName(name)}_bank_down`;
    const prefix = `${AMQP_PREFIX}_bank_down`;
    const bankPort = await freePort();
    const garbage = await startTestService(acquiringBankService, issuer, {
      AMQP_PREFIX: prefix,
      MONGO_DB: own('garbage_bank'),
      BANK_NAME: 'piggy-bank',
      PORT: String(bankPort),
      BANK_FAILURE_MODE: 'garbage',
      BANK_FAILURE_RATE: '1',
    });
    const other = await startTestService(capturingLogs(logLines), issuer, {
      AMQP_PREFIX: prefix,
      MONGO_DB: own('gateway'),
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '1',
      ACQUIRING_BANKS: `piggy-bank=http://127.0.0.1:${bankPort}`,
      BANK_TIMEOUT_MS: '500',
      RECONCILE_AFTER_MS: '0',
      RECONCILE_INTERVAL_MS: '100',
    });
    const otherProbe = await startEventProbe('direct-debits-probe-down', ['payment.authorized', 'payment.declined'], prefix);
    const otherBilling = new EventBus({ url: AMQP_URL, prefix, service: 'billing', log: pino({ level: 'silent' }) });
    let revived: TestService | undefined;
    let garbageStopped = false;
    try {
      const request = await paymentRequest({ iban: IBAN });
      await publish(otherBilling, request);
      // Handled (the request answered garbage), stored pending, nothing announced.
      await eventually(() => counter(other.url, 'events_consumed_total', { type: 'billing.payment-requested', outcome: 'handled' }), (n) => n === 1, 'request handled');
      expect(await storedDebit(other.dbName, request.operationId)).to.include({ status: 'pending' });
      // The bank goes down altogether, then comes back (with no record of a debit it never made).
      await garbage.stop();
      garbageStopped = true;
      revived = await startTestService(acquiringBankService, issuer, { AMQP_PREFIX: prefix, MONGO_DB: own('revived_bank'), BANK_NAME: 'piggy-bank', PORT: String(bankPort) });
      const answer = await answerTo(otherProbe, request.operationId);
      expect(answer.type).to.equal('payment.authorized');
      expect(answer.data).to.include({ operationId: request.operationId, bankReference: request.operationId });
      const stored = await storedDebit(other.dbName, request.operationId);
      expect(stored!.statusHistory.map((s: { status: string }) => s.status)).to.deep.equal(['pending', 'authorized']);
      expect(await debitCalls(revived.url), 'direct debits asked of the revived bank').to.equal(1);
      const debitsAtBank = await withMongo((client) => client.db(revived!.dbName).collection('direct_debits').countDocuments({ reference: request.operationId }));
      expect(debitsAtBank, 'direct debits at the bank').to.equal(1);
      await expectNoClearIban(other.dbName);
    } finally {
      await otherBilling.close();
      await otherProbe.stop();
      for (const svc of [other, garbageStopped ? undefined : garbage, revived]) await svc?.stop();
      for (const svc of [other, garbage, revived]) await svc?.drop();
      await deleteTopology(prefix, 'billing');
    }
  });

  it('never shows the clear IBAN: in no event, no captured log line, no gateway document (the bank-down gateway checked its own)', async () => {
    expect(logLines.some((line) => line.includes('direct debit settled')), 'the gateway log was captured').to.equal(true);
    const events = JSON.stringify(probe.received);
    expect(probe.received.length).to.be.greaterThan(3);
    const logs = logLines.join('\n');
    for (const iban of CLEAR_IBANS) {
      expect(events, 'events').to.not.include(iban);
      expect(logs, 'logs').to.not.include(iban);
    }
    await expectNoClearIban(gateway.dbName);
  });
});
