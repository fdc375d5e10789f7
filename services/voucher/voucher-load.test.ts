// Vouchers under load (issue 11): 500 requests sent at once by six customers (phone numbers ending
// 0–5: fast answers and slow ones delivered by callback), each with a callbackUrl. All of them
// complete, and each is delivered exactly once: one verified webhook per voucher (one webhook-id,
// received once) and one SMS per voucher.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { withMongo } from '../../tools/testing/service-harness.js';
import { eventually } from '../../tools/testing/wait.js';
import { type Customer, type VoucherPlatform, startVoucherPlatform } from './test-support/voucher-platform.js';

const REQUESTS = 500;

describe('Vouchers: 500 concurrent requests (integration)', function () {
  this.timeout(120_000);
  let platform: VoucherPlatform;

  before(async () => {
    platform = await startVoucherPlatform({ VOUCHER_DEADLINE_MS: '60000' }, { checked: false });
  });
  after(async () => {
    await platform?.stop();
  });

  it('completes every request and delivers each exactly once (webhook and SMS)', async () => {
    const customers: (Customer & { path: string })[] = [];
    for (const digit of [0, 1, 2, 3, 4, 5]) {
      const customer = await platform.customer(digit);
      const secret = (await customer.api.POST('/webhook-secrets', {})).data!.secret;
      const path = `/load/${customer.id}`;
      platform.receiver.trust(path, secret);
      customers.push({ ...customer, path });
    }
    const answers = await Promise.all(
      Array.from({ length: REQUESTS }, (_, i) => {
        const customer = customers[i % customers.length]!;
        return customer.api.POST('/vouchers', {
          params: { header: { 'Idempotency-Key': randomUUID() } },
          body: { phoneNumber: customer.phone, callbackUrl: `${platform.receiver.origin}${customer.path}` },
        });
      }),
    );
    expect(answers.map((a) => a.response.status).filter((s) => s !== 202)).to.deep.equal([]);
    const ids = new Set(answers.map((a) => a.data!.id));
    expect(ids.size).to.equal(REQUESTS);

    // Every voucher issued (its outcome stored) and its webhook delivered.
    const loadHooks = () => platform.receiver.received.filter((m) => m.path.startsWith('/load/'));
    await eventually(async () => new Set(loadHooks().map((m) => m.webhookId)).size, (n) => n === REQUESTS, 'webhooks delivered', 90_000, 250);
    const outcomes = await withMongo((client) => client.db(platform.voucher.dbName).collection<{ _id: string; status: string }>('voucher_outcomes').find({}).toArray());
    expect(outcomes.filter((o) => ids.has(o._id) && o.status === 'ISSUED')).to.have.length(REQUESTS);
    await eventually(
      () => withMongo((client) => client.db(platform.voucher.dbName).collection('webhook_deliveries').countDocuments({ status: 'DELIVERED' })),
      (n) => n === REQUESTS,
      'deliveries recorded',
      30_000,
      250,
    );

    const hooks = loadHooks();
    expect(hooks.every((m) => m.verified), 'every webhook verified').to.equal(true);
    expect(hooks, 'one POST per voucher').to.have.length(REQUESTS);
    expect(new Set(hooks.map((m) => m.payload!.data.voucherId as string))).to.deep.equal(ids);
    const sms = (await platform.sms()).filter((m) => ids.has(m.reference));
    expect(sms, 'one SMS per voucher').to.have.length(REQUESTS);
    expect(new Set(sms.map((m) => m.reference)).size).to.equal(REQUESTS);
  });
});
