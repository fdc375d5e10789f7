// The merchant's journey through the console, in Debian's chromium on a phone-sized screen,
// against the whole platform: sign up and in, a card refused with the reason next to the card
// number, a pending charge followed until the bank settles it, payments filtered and paged, one
// opened with its status history and partly refunded; tokens refreshed silently; sign-out.
import { expect } from 'chai';
import { createPaymentGatewayClient } from '../../generated/payment-gateway/client.js';
import { type ConsolePage, PHONE, openConsole } from '../../tools/testing/browser.js';
import { PASSWORD, accessTokenFor, uniqueContact, useJourney } from './test-support/journey.js';

/** The page's sessionStorage, as code evaluated in the page sees it (this file is compiled without the DOM's types). */
interface PageStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** Chromium logs every 4xx answer; the journey provokes some on purpose. */
const unexpected = (errors: string[]) => errors.filter((e) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(e));

describe('Console: the merchant journey (browser)', function () {
  this.timeout(120_000);
  const journey = useJourney();
  let console: ConsolePage;
  const violations: string[] = [];
  const merchant = uniqueContact('merchant');
  const capture = async (step: string) => violations.push(...(await console.capture(step)));

  before(async () => {
    console = await openConsole(journey.browser, journey.consoleUrl, 'merchant', PHONE);
  });
  afterEach(async function () {
    await console.afterFailure(this.currentTest);
  });
  after(async () => {
    await console?.close();
  });

  it('signs up, with the password rule shown next to the password', async () => {
    const { page } = console;
    await page.goto('/');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await capture('sign-in');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign up' }).click();
    await page.getByLabel('Account type').selectOption('merchant');
    await page.getByLabel('E-mail').fill(merchant.email);
    await page.getByLabel('Password').fill('too short');
    await page.getByLabel('First name').fill('Mia');
    await page.getByLabel('Last name').fill('Marchand');
    await page.getByLabel('Mobile phone').fill(merchant.phone);
    await page.getByLabel('Business name (merchants)').fill('Mia Tickets');
    await page.getByRole('button', { name: 'Create account' }).click();
    // The gateway's 400 names /body/password: its message sits under the password field.
    const password = page.getByLabel('Password');
    await page.locator('input[name="password"][aria-invalid="true"]').waitFor();
    const describedBy = (await password.getAttribute('aria-describedby'))!.split(' ');
    const message = await page.locator(`#${describedBy.at(-1)}`).textContent();
    expect(message).to.match(/12/);
    await capture('sign-up-refused');
    await password.fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText(`Account created for ${merchant.email}`).waitFor();
  });

  it('signs in (a wrong password is refused with the reason) and lands on the payments', async () => {
    const { page } = console;
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).to.match(/e-mail or the password/i);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Payments' }).waitFor();
    expect(await page.getByText('No payments match.').isVisible()).to.equal(true);
  });

  it('shows a card the gateway refuses with the reason next to the card number', async () => {
    const { page } = console;
    await page.getByRole('link', { name: 'Take a payment' }).click();
    await fillPayment('12.00', 'order-luhn', '4242 4242 4242 4241');
    await page.locator('input[name="card.number"][aria-invalid="true"]').waitFor();
    const describedBy = (await page.getByLabel('Card number').getAttribute('aria-describedby'))!;
    expect(await page.locator(`#${describedBy}`).textContent()).to.match(/card number/i);
    await capture('payment-refused');
  });

  it('takes a payment with a test card that stays pending, and follows it until the bank settles it', async () => {
    const { page } = console;
    await fillPayment('25.00', 'order-0001', '4000 0000 0000 9995');
    await page.getByRole('heading', { name: /^Payment pay_/ }).waitFor();
    await page.getByText('Waiting for the bank to settle this payment…').waitFor();
    await capture('payment-pending');
    // The page reads the payment again until the bank's callback settles it (an even amount succeeds).
    await page.locator('.facts [data-status="succeeded"]').waitFor({ timeout: 30_000 });
    const history = await page.getByRole('region', { name: 'Status history' }).locator('tbody tr [data-status]').allTextContents();
    expect(history).to.deep.equal(['pending', 'succeeded']);
    await capture('payment-settled');
  });

  it('lists payments with filters and cursor pages', async () => {
    const { page } = console;
    // Twenty-one more payments through the API (one declined): more than a page of twenty.
    const token = await accessTokenFor(journey.platform, merchant.email);
    const gateway = createPaymentGatewayClient({ baseUrl: journey.platform.url('payment-gateway'), token });
    for (let i = 0; i < 21; i++) {
      const number = i === 0 ? '4000000000000002' : '4242424242424242';
      const { error } = await gateway.POST('/payments', {
        params: { header: { 'Idempotency-Key': `${merchant.email}-${i}` } },
        body: { amount: 1000 + i, currency: 'EUR', reference: `bulk-${i}`, card: { number, expiryMonth: 12, expiryYear: 2035, cvv: '123', holderName: 'Ada Lovelace' } },
      });
      expect(error, `payment ${i}`).to.equal(undefined);
    }
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Payments' }).click();
    const rows = page.getByRole('region', { name: 'Payments' }).locator('tbody tr');
    await page.getByRole('link', { name: 'Next page' }).waitFor();
    expect(await rows.count()).to.equal(20);
    await capture('payments-page-1');
    await page.getByRole('link', { name: 'Next page' }).click();
    await console.settled();
    expect(await rows.count()).to.equal(2);
    expect(await page.getByRole('link', { name: 'Next page' }).count()).to.equal(0);
    // The oldest, on the last page: the pending-card payment of the journey.
    expect(await rows.last().textContent()).to.contain('order-0001');

    await page.getByLabel('Status', { exact: true }).selectOption('failed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=failed/);
    await console.settled();
    expect(await rows.count()).to.equal(1);
    expect(await rows.first().textContent()).to.contain('bulk-0');
    await capture('payments-failed');
  });

  it('opens a payment and refunds part of it; a refund above what is left is refused with the reason', async () => {
    const { page } = console;
    await page.getByLabel('Status', { exact: true }).selectOption('');
    await page.getByLabel('Reference').fill('order-0001');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/reference=order-0001/);
    await console.settled();
    expect(await page.getByRole('region', { name: 'Payments' }).locator('tbody tr').count()).to.equal(1);
    await page.getByRole('region', { name: 'Payments' }).getByRole('link', { name: /^pay_/ }).click();
    await page.getByRole('heading', { name: /^Payment pay_/ }).waitFor();
    await page.getByLabel('Amount to refund').fill('10.00');
    await page.getByLabel('Reason').fill('one ticket returned');
    await page.getByRole('button', { name: 'Refund' }).click();
    await page.getByText(/Refund of €10\.00: succeeded/).waitFor();
    expect(await page.locator('.facts').textContent()).to.contain('Refunded€10.00');
    await capture('payment-refunded');
    await page.getByLabel('Amount to refund').fill('20.00');
    await page.getByRole('button', { name: 'Refund' }).click();
    const problem = page.locator('.form-problem');
    await problem.waitFor();
    expect(await problem.textContent()).to.match(/15\.00|1500/);
  });

  it('refreshes an expiring access token silently, and sign-out ends the session for good', async () => {
    const { page } = console;
    const stored = () =>
      page.evaluate(() => {
        const storage = (globalThis as unknown as { sessionStorage: PageStorage }).sessionStorage;
        return JSON.parse(storage.getItem('payspec.session') ?? 'null') as { refreshToken: string; expiresAt: number } | null;
      });
    const before = (await stored())!;
    // As if ten minutes had gone by: the next request refreshes first.
    await page.evaluate(() => {
      const storage = (globalThis as unknown as { sessionStorage: PageStorage }).sessionStorage;
      const session = JSON.parse(storage.getItem('payspec.session')!) as { expiresAt: number };
      storage.setItem('payspec.session', JSON.stringify({ ...session, expiresAt: Date.now() }));
    });
    await page.getByRole('link', { name: 'All payments' }).click();
    await page.getByRole('heading', { name: 'Payments' }).waitFor();
    await page.getByRole('region', { name: 'Payments' }).waitFor();
    const after = (await stored())!;
    expect(after.refreshToken).to.not.equal(before.refreshToken);
    expect(after.expiresAt).to.be.greaterThan(Date.now() + 5 * 60_000);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await stored()).to.equal(null);
    // The refresh token was revoked at the gateway, not only forgotten.
    const gateway = createPaymentGatewayClient({ baseUrl: journey.platform.url('payment-gateway') });
    const { response } = await gateway.POST('/auth/refresh', { body: { refreshToken: after.refreshToken } });
    expect(response.status).to.equal(401);
    // A page for merchants now asks to sign in.
    await page.goto('/#/payments');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  it('had no serious accessibility violations and no script errors on any page', () => {
    expect(violations).to.deep.equal([]);
    expect(unexpected(console.errors)).to.deep.equal([]);
  });

  async function fillPayment(amount: string, reference: string, card: string): Promise<void> {
    const { page } = console;
    await page.getByLabel('Amount', { exact: true }).fill(amount);
    await page.getByLabel('Your reference').fill(reference);
    await page.getByLabel('Card number').fill(card);
    await page.getByLabel('CVV').fill('123');
    await page.getByLabel('Cardholder name').fill('Ada Lovelace');
    await page.getByRole('button', { name: 'Charge card' }).click();
  }
});
