// The customer's journey through the console, in Debian's chromium on a desktop screen, against
// the whole platform: sign up and in; the wallet — a top-up, paying another customer by e-mail
// (both sides see it), a payment above the balance refused with the reason and then corrected,
// transactions paged and filtered; a voucher requested and followed until its code arrives; the
// company's contract an operator set up — credit, operations, and the invoice with its lines.
import { expect } from 'chai';
import type { Locator } from 'playwright-core';
import { createPaymentGatewayClient } from '../../generated/payment-gateway/client.js';
import { type ConsolePage, DESKTOP, PHONE, openConsole } from '../../tools/testing/browser.js';
import { type Company, setUpCompany, userIdOf } from './test-support/customer.js';
import { PASSWORD, accessTokenFor, signUpUser, uniqueContact, useJourney } from './test-support/journey.js';

/** Chromium logs every 4xx answer; the journey provokes some on purpose. */
const unexpected = (errors: string[]) => errors.filter((e) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(e));

/** A number ending in 0: the voucher provider answers it with the code at once (README, "Voucher-provider simulator"). */
const fastVoucherPhone = (phone: string) => `${phone.slice(0, -1)}0`;

describe('Console: the customer journey (browser)', function () {
  this.timeout(120_000);
  const journey = useJourney();
  let console: ConsolePage;
  const violations: string[] = [];
  const customer = { ...uniqueContact('customer'), firstName: 'Cleo', lastName: 'Customer' };
  customer.phone = fastVoucherPhone(customer.phone);
  const payee = { ...uniqueContact('payee'), firstName: 'Pam', lastName: 'Payee' };
  const capture = async (step: string) => violations.push(...(await console.capture(step)));

  before(async () => {
    console = await openConsole(journey.browser, journey.consoleUrl, 'customer', DESKTOP);
    await signUpUser(journey.platform, { role: 'customer', ...payee });
  });
  afterEach(async function () {
    await console.afterFailure(this.currentTest);
  });
  after(async () => {
    await console?.close();
  });

  const balance = () => console.page.locator('.facts .balance').textContent();
  const transactions = () => console.page.getByRole('region', { name: 'Transactions' }).locator('tbody tr');
  const walletOf = async (email: string) => {
    const gateway = createPaymentGatewayClient({ baseUrl: journey.platform.url('payment-gateway'), token: await accessTokenFor(journey.platform, email) });
    const [wallet, page] = await Promise.all([gateway.GET('/wallet'), gateway.GET('/wallet/transactions')]);
    return { wallet: wallet.data!, transactions: page.data!.data, gateway };
  };

  it('signs up as a customer and signs in, landing on an empty wallet', async () => {
    const { page } = console;
    await page.goto('/');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign up' }).click();
    await page.getByLabel('Account type').selectOption('customer');
    await page.getByLabel('E-mail').fill(customer.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('First name').fill(customer.firstName);
    await page.getByLabel('Last name').fill(customer.lastName);
    await page.getByLabel('Mobile phone').fill(customer.phone);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText(`Account created for ${customer.email}`).waitFor();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Wallet' }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').allTextContents()).to.deep.equal(['Wallet', 'Vouchers', 'Company']);
    expect(await balance()).to.equal('Nothing yet');
    expect(await page.getByText('No transactions yet: top up to start.').isVisible()).to.equal(true);
    await capture('wallet-empty');
  });

  it('tops up, and the new balance and the top-up show', async () => {
    const { page } = console;
    const topUp = page.getByRole('form', { name: 'Top up' });
    await topUp.getByLabel('Amount').fill('50.00');
    await topUp.getByLabel('Currency').selectOption('EUR');
    await topUp.getByRole('button', { name: 'Top up' }).click();
    await page.getByRole('status').filter({ hasText: 'Topped up €50.00. Your balance is €50.00.' }).waitFor();
    await console.settled();
    expect(await balance()).to.equal('€50.00');
    expect(await transactions().count()).to.equal(1);
    expect(await cells(0)).to.include.members(['Top-up', '+€50.00', '€50.00']);
    await capture('wallet-topped-up');
  });

  it('pays another customer by e-mail: the notice, the new balance, both transactions; the payee has it', async () => {
    const { page } = console;
    const pay = page.getByRole('form', { name: 'Pay someone by e-mail' });
    await pay.getByLabel('Their e-mail').fill(payee.email);
    await pay.getByLabel('Amount').fill('12.50');
    await pay.getByLabel('Note (optional)').fill('lunch');
    await pay.getByRole('button', { name: 'Pay' }).click();
    await page.getByRole('status').filter({ hasText: `Paid €12.50 to Pam Payee (${payee.email}). Your balance is €37.50.` }).waitFor();
    await console.settled();
    expect(await balance()).to.equal('€37.50');
    expect(await transactions().count()).to.equal(2);
    // Newest first: the payment, then the top-up.
    expect(await cells(0)).to.include.members(['Sent', 'lunch', '−€12.50', '€37.50']);
    expect(await transactions().nth(0).textContent()).to.contain(payee.email);
    expect(await cells(1)).to.include.members(['Top-up', '+€50.00', '€50.00']);
    await capture('wallet-paid');

    const received = await walletOf(payee.email);
    expect(received.wallet).to.include({ balance: 1250, currency: 'EUR' });
    expect(received.transactions).to.have.length(1);
    expect(received.transactions[0]).to.deep.include({ type: 'transfer-in', amount: 1250, note: 'lunch', counterparty: { email: customer.email, name: 'Cleo Customer' } });
  });

  it('refuses a payment above the balance with the reason next to the amount, and takes the corrected one', async () => {
    const { page } = console;
    const pay = page.getByRole('form', { name: 'Pay someone by e-mail' });
    await pay.getByLabel('Their e-mail').fill(payee.email);
    await pay.getByLabel('Amount').fill('100.00');
    await pay.getByRole('button', { name: 'Pay' }).click();
    const problem = pay.locator('.form-problem');
    await problem.waitFor();
    expect(await problem.textContent()).to.contain('The wallet balance is lower than the amount.');
    const amount = pay.getByLabel('Amount');
    expect(await amount.getAttribute('aria-invalid')).to.equal('true');
    const describedBy = (await amount.getAttribute('aria-describedby'))!;
    expect(await page.locator(`#${describedBy}`).textContent()).to.contain('balance is lower');
    // Nothing moved.
    expect(await balance()).to.equal('€37.50');
    expect(await transactions().count()).to.equal(2);
    await capture('transfer-refused');

    // The corrected payment is a new action (a new Idempotency-Key): it goes through.
    await amount.fill('7.50');
    await pay.getByRole('button', { name: 'Pay' }).click();
    await page.getByRole('status').filter({ hasText: 'Paid €7.50 to Pam Payee' }).waitFor();
    await console.settled();
    expect(await balance()).to.equal('€30.00');
    expect(await cells(0)).to.include.members(['Sent', '−€7.50', '€30.00']);
    expect((await walletOf(payee.email)).wallet.balance).to.equal(2000);
  });

  it('pages through the transactions and filters them by type', async () => {
    const { page } = console;
    // Nineteen more top-ups of €1.00 through the API: 22 transactions, more than a page of 20.
    const { gateway } = await walletOf(customer.email);
    for (let i = 0; i < 19; i++) {
      const { error } = await gateway.POST('/wallet/top-ups', { params: { header: { 'Idempotency-Key': `${customer.email}-${i}` } }, body: { amount: 100, currency: 'EUR' } });
      expect(error, `top-up ${i}`).to.equal(undefined);
    }
    // Made elsewhere: they show when the wallet is read again.
    await page.reload();
    await page.getByRole('link', { name: 'Next page' }).waitFor();
    await console.settled();
    expect(await balance()).to.equal('€49.00');
    expect(await transactions().count()).to.equal(20);
    expect(await cells(0)).to.include.members(['Top-up', '+€1.00', '€49.00']);
    await page.getByRole('link', { name: 'Next page' }).click();
    await page.waitForURL(/cursor=/);
    await console.settled();
    // The oldest two: the first payment and the first top-up.
    expect(await transactions().count()).to.equal(2);
    expect(await cells(0)).to.include.members(['Sent', '−€12.50']);
    expect(await cells(1)).to.include.members(['Top-up', '+€50.00']);
    expect(await page.getByRole('link', { name: 'Next page' }).count()).to.equal(0);
    await capture('transactions-page-2');
    await page.getByRole('link', { name: 'First page' }).click();
    await page.waitForURL((url) => !url.hash.includes('cursor='));
    await console.settled();
    expect(await transactions().count()).to.equal(20);

    await page.getByLabel('Type').selectOption('transfer-out');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/type=transfer-out/);
    await console.settled();
    expect(await transactions().count()).to.equal(2);
    expect((await transactions().allTextContents()).map((row) => /−€[\d.]+/.exec(row)?.[0])).to.deep.equal(['−€7.50', '−€12.50']);
    expect(await page.getByRole('link', { name: 'Next page' }).count()).to.equal(0);
    await capture('transactions-sent');
  });

  it('fits the wallet on a phone', async () => {
    const { page } = console;
    await page.setViewportSize(PHONE);
    try {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Wallet' }).click();
      await page.waitForURL((url) => url.hash === '#/wallet');
      await console.settled();
      // Nothing wider than the screen but the tables, which scroll inside their own box.
      const overflow = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
      expect(overflow).to.be.at.most(PHONE.width);
      await capture('wallet-phone');
    } finally {
      await page.setViewportSize(DESKTOP);
    }
  });

  it('requests a voucher for its own number and sees the code arrive', async () => {
    const { page } = console;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Vouchers' }).click();
    await page.getByRole('heading', { name: 'Vouchers', exact: true }).waitFor();
    await console.settled();
    expect(await page.getByText(customer.phone).isVisible()).to.equal(true);
    expect(await page.getByText('No vouchers yet.').isVisible()).to.equal(true);
    await capture('vouchers-empty');
    await page.getByRole('button', { name: 'Request a voucher' }).click();
    await page.getByRole('heading', { name: /^Voucher vch_/ }).waitFor();
    // The page reads the voucher again until the provider's code is stored.
    await page.locator('.facts [data-status="ISSUED"]').waitFor({ timeout: 30_000 });
    await console.settled();
    const code = (await page.locator('.facts .voucher-code').textContent())!;
    expect(code).to.match(/^VC-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    expect(await page.getByText('Waiting for the provider').count()).to.equal(0);
    const history = await page.getByRole('region', { name: 'Status history' }).locator('tbody tr [data-status]').allTextContents();
    expect(history).to.deep.equal(['PENDING', 'ISSUED']);
    await capture('voucher-issued');

    await page.getByRole('link', { name: 'All vouchers' }).click();
    await page.getByRole('heading', { name: 'Vouchers', exact: true }).waitFor();
    await console.settled();
    const rows = page.getByRole('region', { name: 'Your vouchers' }).locator('tbody tr');
    expect(await rows.count()).to.equal(1);
    expect(await rows.first().locator('[data-status]').textContent()).to.equal('ISSUED');
    expect(await rows.first().locator('code').textContent()).to.equal(code);
    await capture('vouchers-list');
  });

  describe('the company', () => {
    let company: Company;

    before(async function () {
      this.timeout(120_000);
      company = await setUpCompany(journey.platform, await userIdOf(journey.platform, customer.email), {
        invoiced: [
          { reference: 'trip-42', items: [{ label: 'Paris–Lyon return', unitPrice: 8_900, quantity: 2 }] },
          { reference: 'trip-43', items: [{ label: 'Hotel night, Lyon', unitPrice: 12_000, quantity: 1 }] },
        ],
        outstanding: [{ items: [{ label: 'Taxi to the station', unitPrice: 4_000, quantity: 1 }] }],
      });
    });

    it('lists the contract that names the customer, and shows its facts, credit and operations', async () => {
      const { page } = console;
      const { contract } = company;
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Company' }).click();
      await page.getByRole('heading', { name: 'Company' }).waitFor();
      await console.settled();
      const contracts = page.getByRole('region', { name: 'Contracts' }).locator('tbody tr');
      expect(await contracts.count()).to.equal(1);
      expect(await cellsOf(contracts.first())).to.include.members([contract.id, 'Lumen Works Council', 'active', '€5,000.00']);
      await capture('company');

      await contracts.first().getByRole('link', { name: contract.id }).click();
      await page.getByRole('heading', { name: `Contract ${contract.id}` }).waitFor();
      await console.settled();
      const facts = await factsOf();
      expect(facts).to.include({ Company: 'Lumen Works Council', Status: 'active', 'Credit limit': '€5,000.00', Outstanding: '€40.00', Available: '€4,960.00' });
      expect(facts.Account).to.equal(contract.mandate.ibanMasked).and.to.match(/^FR76 .*\*.* 189$/);
      expect(facts['Mandate reference']).to.equal(contract.mandate.reference);

      // Newest first: the purchase still outstanding, then the invoiced one.
      const operations = page.getByRole('region', { name: 'Operations' }).locator('tbody tr');
      expect(await operations.count()).to.equal(2);
      expect(await cellsOf(operations.nth(0))).to.include.members([company.outstanding.id, 'Taxi to the station × 1', 'purchase', 'authorized', '€40.00']);
      expect(await operations.nth(0).getByRole('link').count(), 'not on an invoice yet').to.equal(0);
      expect(await cellsOf(operations.nth(1))).to.include.members([company.invoiced.id, 'purchase', 'invoiced', '€298.00']);
      expect(await operations.nth(1).textContent()).to.contain('Paris–Lyon return × 2 (trip-42)').and.to.contain('Hotel night, Lyon × 1 (trip-43)');
      expect(await operations.nth(1).getByRole('link', { name: /^Invoice, / }).getAttribute('href')).to.equal(`#/company/invoices/${company.invoice.id}`);

      const invoices = page.getByRole('region', { name: 'Invoices' }).locator('tbody tr');
      expect(await invoices.count()).to.equal(1);
      expect(await cellsOf(invoices.first())).to.include.members([company.invoice.id, 'sent', '€298.00', '€0.00']);
      await capture('contract');
    });

    it('opens the invoice, with its lines and totals', async () => {
      const { page } = console;
      await page.getByRole('region', { name: 'Invoices' }).getByRole('link', { name: company.invoice.id }).click();
      await page.getByRole('heading', { name: `Invoice ${company.invoice.id}` }).waitFor();
      await console.settled();
      const lines = page.getByRole('region', { name: 'Invoice lines' }).locator('tbody tr');
      const rows = await Promise.all((await lines.all()).map((row) => cellsOf(row)));
      expect(rows.map((cells) => cells.slice(0, 5))).to.have.deep.members([
        ['Paris–Lyon return', 'purchase', '€89.00', '2', '€178.00'],
        ['Hotel night, Lyon', 'purchase', '€120.00', '1', '€120.00'],
      ]);
      expect(rows.every((cells) => cells[5] === company.invoiced.id)).to.equal(true);
      const facts = await factsOf();
      expect(facts).to.include({ Status: 'sent', Company: 'Lumen Works Council', Purchases: '€298.00', Refunds: '€0.00', Net: '€298.00', 'Declined (not invoiced)': 'None' });
      expect(facts.Sent).to.contain(`to ${company.contract.customer.billingEmail}`);
      await capture('invoice');

      await page.getByRole('link', { name: 'Back to the contract' }).click();
      await page.getByRole('heading', { name: `Contract ${company.contract.id}` }).waitFor();
    });
  });

  // In a suite of its own: mocha runs a suite's own tests before its nested suites.
  describe('the whole journey', () => {
    it('had no serious accessibility violations and no script errors on any page', () => {
      expect(violations).to.deep.equal([]);
      expect(unexpected(console.errors)).to.deep.equal([]);
    });
  });

  /** The cells of a transaction row, as text. */
  async function cells(row: number): Promise<string[]> {
    return cellsOf(transactions().nth(row));
  }

  async function cellsOf(row: Locator): Promise<string[]> {
    return (await row.locator('td').allTextContents()).map((text) => text.trim());
  }

  /** Every label → value of the page's fact lists. */
  async function factsOf(): Promise<Record<string, string>> {
    const terms = await console.page.locator('.facts dt').allTextContents();
    const values = await console.page.locator('.facts dd').allTextContents();
    return Object.fromEntries(terms.map((term, i) => [term, values[i]!.trim()]));
  }
});
