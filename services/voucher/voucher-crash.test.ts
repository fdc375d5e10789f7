// Vouchers under crashes (issue 11): the voucher service as a child process
// (test-support/voucher-and-die.ts) SIGKILLed at a chosen point, then started again on the same
// database and queues. Nothing is lost, nothing is delivered twice:
//
//  - killed between receiving the code and storing it — from the provider's answer (fast path:
//    the unacknowledged voucher.requested comes back once its inbox lease lapses, the provider is
//    asked again and, idempotent on our reference, answers the same code) and from the provider's
//    callback (the provider's retries find nobody; the reconciler asks the provider again and gets
//    the code it made). Stored once: the provider's own code, one SMS, one webhook.
//  - killed between storing the code and delivering it: voucher.issued was published and not
//    acknowledged; after the restart it is handled once: one SMS, one webhook (one webhook-id).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { type TestService, startTestService, withMongo } from '../../tools/testing/service-harness.js';
import { eventually } from '../../tools/testing/wait.js';
import { voucherService } from './main.js';
import { type VoucherPlatform, startVoucherPlatform } from './test-support/voucher-platform.js';

const VOUCHER_AND_DIE = fileURLToPath(new URL('./test-support/voucher-and-die.ts', import.meta.url));

/** Starts the dying voucher service; resolves once it listens, with a promise of its end. */
async function startDying(env: Record<string, string>, killAt: string): Promise<{ child: ChildProcess; ended: Promise<NodeJS.Signals | null>; stderr: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', VOUCHER_AND_DIE], { env: { ...process.env, ...env, KILL_AT: killAt }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const ended = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => line === 'ready' && resolve());
    void ended.then(() => reject(new Error(`the dying voucher service ended before it was ready: ${stderr.join('\n')}`)));
  });
  return { child, ended, stderr };
}

describe('Vouchers: crashes (integration)', function () {
  this.timeout(90_000);
  let platform: VoucherPlatform;
  let current: TestService | undefined;
  // A short inbox lease: an event whose handler died is taken over a second and a half later.
  const env = () => ({ ...platform.voucherEnv, EVENT_HANDLER_TIMEOUT_MS: '1500' });

  before(async () => {
    platform = await startVoucherPlatform();
    // The crash tests run their own voucher service (one at a time: they share its queue).
    await platform.voucher.stop();
  });
  after(async () => {
    await current?.stop();
    await platform?.stop();
  });

  const providerCode = (reference: string) =>
    withMongo(async (client) => (await client.db(platform.provider.dbName).collection<{ _id: string; voucherCode: string }>('provider_requests').findOne({ _id: reference }))?.voucherCode);

  async function crashAndRecover(lastDigit: number, killAt: 'code-received' | 'code-stored') {
    const customer = await platform.customer(lastDigit);
    const dying = await startDying(env(), killAt);
    const api = platform.client(customer.token, platform.voucher.url);
    const secret = (await api.POST('/webhook-secrets', {})).data!.secret;
    const path = `/hooks/${customer.id}`;
    platform.receiver.trust(path, secret);
    const accepted = await api.POST('/vouchers', { params: { header: { 'Idempotency-Key': randomUUID() } }, body: { phoneNumber: customer.phone, callbackUrl: `${platform.receiver.origin}${path}` } });
    expect(accepted.response.status).to.equal(202);
    const id = accepted.data!.id;
    expect(await dying.ended, dying.stderr.join('\n')).to.equal('SIGKILL');

    const before = await withMongo(async (client) => {
      const db = client.db(platform.voucher.dbName);
      return { outcome: await db.collection('voucher_outcomes').findOne({ _id: id as never }), sms: await db.collection('sms_messages').findOne({ _id: id as never }) };
    });
    if (killAt === 'code-received') expect(before.outcome, 'no code stored before the restart').to.equal(null);
    else expect(before.outcome, 'the code stored before the crash').to.not.equal(null);
    expect(before.sms, 'no SMS before the restart').to.equal(null);
    expect(platform.receiver.received.filter((m) => m.path === path)).to.deep.equal([]);

    current = await startTestService(voucherService, platform.issuer, env());
    const voucher = await eventually(async () => (await api.GET('/vouchers/{voucherId}', { params: { path: { voucherId: id } } })).data!, (v) => v.status !== 'PENDING', 'the voucher settles after the restart', 20_000);
    expect(voucher.status).to.equal('ISSUED');
    expect(voucher.voucherCode, 'the code the provider made').to.equal(await providerCode(id));
    const webhooks = await eventually(async () => platform.receiver.received.filter((m) => m.path === path), (w) => w.length >= 1, 'the webhook', 20_000);
    const sms = await eventually(async () => (await platform.sms()).filter((m) => m.reference === id), (s) => s.length >= 1, 'the SMS', 20_000);
    // Let the restarted service finish everything it owes (its delivery recorded), then count.
    await eventually(async () => (await api.GET('/vouchers/{voucherId}', { params: { path: { voucherId: id } } })).data!.delivery?.status, (s) => s === 'DELIVERED', 'delivery recorded');
    expect(webhooks.map((w) => [w.webhookId, w.verified, w.payload?.data.voucherCode])).to.deep.equal([[`msg_${id}_issued`, true, voucher.voucherCode]]);
    expect(sms.map((m) => m.text)).to.deep.equal([`Your voucher code: ${voucher.voucherCode}`]);
    await current.stop();
    current = undefined;
    return { id, voucher };
  }

  it('killed between receiving the code in the provider\'s answer and storing it: the same code stored once after the restart, delivered once', async () => {
    await crashAndRecover(1, 'code-received');
  });

  it('killed between receiving the code by callback and storing it: the code is not lost', async () => {
    const { voucher } = await crashAndRecover(4, 'code-received');
    expect(voucher.providerStatus).to.equal('SUCCESS');
  });

  it('killed between storing the code and delivering it: delivered once after the restart', async () => {
    await crashAndRecover(2, 'code-stored');
  });
});
