// The operator's journey through the console, in Debian's chromium on a desktop screen (and the
// contracts at phone size), against the whole platform: sign in as the platform's operator;
// create a contract for a customer (a validity period ending before it starts, then an IBAN whose
// check digits fail, each refused with the reason next to its field); find it by customer id;
// change its credit limit, suspend and reactivate it with reasons, and read the four changes in
// its history; start the period's billing run and follow it until it completes; open the invoice
// it issued, with its lines, totals and the mail the invoice mailer sent; replay an event billing
// parked as invalid, and see it parked again.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { type ConsolePage, DESKTOP, PHONE, openConsole } from '../../tools/testing/browser.js';
import { OPERATOR } from '../../tools/testing/platform.js';
import { eventually } from '../../tools/testing/wait.js';
import { accessTokenFor, signUpUser, uniqueContact, useJourney } from './test-support/journey.js';
import { operatorApis, publishInvalidEvent } from './test-support/operator.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Chromium logs every 4xx answer; the journey provokes some on purpose (and 404 means "none yet" to some pages). */
const unexpected = (errors: string[]) => errors.filter((e) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(e));
const DAY_MS = 86_400_000;
const day = (offset: number) => new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);
/** Passes its check digits; the bank simulator's direct debits on it succeed. */
const IBAN = 'FR76 3000 6000 0112 3456 7890 189';
/** The same with the last digit changed: the check digits fail. */
const BAD_IBAN = 'FR76 3000 6000 0112 3456 7890 188';

/** The document of the page, as code evaluated in the page sees it (this file is compiled without the DOM's types). */
interface PageDocument {
  documentElement: { scrollWidth: number; clientWidth: number };
}

describe('Console: the operator journey (browser)', function () {
  this.timeout(120_000);
  const journey = useJourney();
  let console: ConsolePage;
  const violations: string[] = [];
  const capture = async (step: string) => violations.push(...(await console.capture(step)));

  const id = randomUUID().slice(0, 8);
  const customer = { ref: `cust-journey-${id}`, name: `Journey Works ${id}`, billingEmail: `accounts-${id}@journey.example`, userId: '' };
  let apis: ReturnType<typeof operatorApis>;
  let contractId = '';
  let period = '';
  let invoiceId = '';
  let operationId = '';
  let parkedId = '';

  before(async function () {
    this.timeout(60_000);
    const { platform } = journey;
    console = await openConsole(journey.browser, journey.consoleUrl, 'operator', DESKTOP);
    apis = operatorApis(platform, await accessTokenFor(platform, OPERATOR.email, OPERATOR.password));
    // The customer's account on the gateway, which the contract names.
    const contact = uniqueContact('corporate');
    customer.userId = await signUpUser(platform, { role: 'customer', ...contact, firstName: 'Cora', lastName: 'Porate' });
    // A contract.subscribed no consumer can handle: billing parks it at once.
    parkedId = await publishInvalidEvent(platform.prefix, 'contract.subscribed', { contractId: 'not-a-contract' });
    await eventually(
      async () => (await apis.operations.GET('/parked-events', { params: { query: { service: 'billing' } } })).data?.data.find((e) => e.messageId === parkedId),
      Boolean,
      'billing parked the invalid event',
      20_000,
    );
  });
  afterEach(async function () {
    await console.afterFailure(this.currentTest);
  });
  after(async () => {
    await console?.close();
  });

  /** The message shown under a form field (the last id its aria-describedby names), once the field is marked invalid. */
  async function fieldError(label: string): Promise<string> {
    const input = console.page.getByLabel(label, { exact: true });
    await input.and(console.page.locator('[aria-invalid="true"]')).waitFor();
    const describedBy = (await input.getAttribute('aria-describedby'))!.split(' ');
    return (await console.page.locator(`#${describedBy.at(-1)}`).textContent()) ?? '';
  }

  it('signs the operator in, on the contracts, with the operator pages in the navigation', async () => {
    const { page } = console;
    await page.goto('/');
    await page.getByLabel('E-mail').fill(OPERATOR.email);
    await page.getByLabel('Password').fill(OPERATOR.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Contracts', level: 1 }).waitFor();
    const nav = await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents();
    expect(nav).to.deep.equal(['Contracts', 'Billing runs', 'Invoices', 'Parked events']);
    await capture('contracts');
  });

  it('creates a contract; a period ending before it starts and a bad IBAN are refused next to their fields', async () => {
    const { page } = console;
    await page.getByRole('link', { name: 'New contract' }).click();
    await page.getByRole('heading', { name: 'New contract' }).waitFor();
    await page.getByLabel('Customer id', { exact: true }).fill(customer.ref);
    await page.getByLabel('Customer name', { exact: true }).fill(customer.name);
    await page.getByLabel('Billing e-mail', { exact: true }).fill(customer.billingEmail);
    await page.getByLabel("Customer's account (user id)", { exact: true }).fill(customer.userId);
    await page.getByLabel('Valid to', { exact: true }).fill(day(-1));
    await page.getByLabel('Credit limit', { exact: true }).fill('5000.00');
    await page.getByLabel('Mandate reference', { exact: true }).fill(`JOURNEY-${id}`);
    await page.getByLabel('IBAN', { exact: true }).fill(BAD_IBAN);
    await page.getByRole('button', { name: 'Create contract' }).click();
    // The contract service checks the period first: 422, /body/validTo.
    expect(await fieldError('Valid to')).to.match(/before validFrom/);
    expect(await page.locator('.form-problem').textContent()).to.contain('validTo must be on or after validFrom');
    await capture('contract-period-refused');

    await page.getByLabel('Valid to', { exact: true }).fill(day(364));
    await page.getByRole('button', { name: 'Create contract' }).click();
    // Then the mandate: 422 invalid-iban, /body/mandate/iban; the period is no longer marked.
    expect(await fieldError('IBAN')).to.match(/check digits/);
    expect(await page.locator('[name="validTo"][aria-invalid="true"]').count()).to.equal(0);
    await capture('contract-iban-refused');

    await page.getByLabel('IBAN', { exact: true }).fill(IBAN);
    await page.getByRole('button', { name: 'Create contract' }).click();
    const heading = page.getByRole('heading', { name: /^Contract ctr_/ });
    await heading.waitFor();
    contractId = (await heading.textContent())!.replace('Contract ', '');
    await page.getByText('Contract created.').waitFor();
    const facts = await page.locator('.facts').first().textContent();
    expect(facts).to.contain('Statusactive');
    expect(facts).to.contain(`Customer${customer.name} (${customer.ref})`);
    expect(facts).to.contain('Credit limit€5,000.00');
    expect(facts).to.contain('IBANFR76 **** **** **** **** ***0 189');
    await capture('contract-created');
  });

  it('finds the contract in the list by customer id (and not among the suspended ones)', async () => {
    const { page } = console;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contracts' }).click();
    await page.getByRole('heading', { name: 'Contracts', level: 1 }).waitFor();
    await page.getByLabel('Customer id', { exact: true }).fill(customer.ref);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/customerId=/);
    await console.settled();
    const rows = page.getByRole('region', { name: 'Contracts' }).locator('tbody tr');
    expect(await rows.count()).to.equal(1);
    expect(await rows.first().textContent()).to.contain(contractId).and.to.contain(customer.name).and.to.contain('active');
    await capture('contracts-by-customer');

    await page.getByLabel('Status', { exact: true }).selectOption('suspended');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=suspended/);
    await console.settled();
    expect(await page.getByText('No contracts match.').isVisible()).to.equal(true);

    // A customer id the API refuses: its reason where the list would be, the filters kept.
    await page.getByLabel('Customer id', { exact: true }).fill('no spaces allowed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/customerId=no/);
    await console.settled();
    expect(await page.getByRole('alert').textContent()).to.match(/customerId: /);
    expect(await page.getByLabel('Customer id', { exact: true }).inputValue()).to.equal('no spaces allowed');
    await capture('contracts-filter-refused');
    await page.getByLabel('Customer id', { exact: true }).fill(customer.ref);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(new RegExp(`customerId=${customer.ref}`));
    await console.settled();
  });

  it('shows the contracts at phone size without sideways scrolling of the page', async () => {
    const phone = await openConsole(journey.browser, journey.consoleUrl, 'operator-phone', PHONE);
    try {
      const { page } = phone;
      await page.goto('/');
      await page.getByLabel('E-mail').fill(OPERATOR.email);
      await page.getByLabel('Password').fill(OPERATOR.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Contracts', level: 1 }).waitFor();
      await page.goto(`/#/contracts?customerId=${customer.ref}`);
      await page.getByRole('region', { name: 'Contracts' }).getByRole('link', { name: contractId }).waitFor();
      violations.push(...(await phone.capture('contracts')));
      const { scrollWidth, clientWidth } = await page.evaluate(() => {
        const { scrollWidth, clientWidth } = (globalThis as unknown as { document: PageDocument }).document.documentElement;
        return { scrollWidth, clientWidth };
      });
      expect(scrollWidth, 'the page is as wide as the phone').to.be.at.most(clientWidth);
      expect(unexpected(phone.errors)).to.deep.equal([]);
    } finally {
      await phone.close();
    }
  });

  it('changes the credit limit, then suspends and reactivates the contract with reasons', async () => {
    const { page } = console;
    await page.getByLabel('Status', { exact: true }).selectOption('');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL((url) => !url.hash.includes('status='));
    await console.settled();
    await page.getByRole('region', { name: 'Contracts' }).getByRole('link', { name: contractId }).click();
    await page.getByRole('heading', { name: `Contract ${contractId}` }).waitFor();

    await page.getByLabel('New credit limit (EUR)').fill('7500.00');
    await page.getByLabel('Reason for the new limit').fill('Annual credit review');
    await page.getByRole('button', { name: 'Change credit limit' }).click();
    await page.getByText('Credit limit changed.').waitFor();
    expect(await page.locator('.facts').first().textContent()).to.contain('Credit limit€7,500.00');

    // A suspension needs a reason: the API's 400 names /body/reason.
    await page.getByRole('button', { name: 'Suspend contract' }).click();
    expect(await fieldError('Reason for suspending')).to.not.equal('');
    await page.getByLabel('Reason for suspending').fill('Audit under way');
    await page.getByRole('button', { name: 'Suspend contract' }).click();
    await page.getByText('Contract suspended').waitFor();
    expect(await page.locator('.facts').first().locator('[data-status]').textContent()).to.equal('suspended');
    expect(await page.locator('.facts').first().textContent()).to.contain('Status reasonAudit under way');
    expect(await page.getByRole('button', { name: 'Suspend contract' }).count()).to.equal(0);
    await capture('contract-suspended');

    await page.getByLabel('Reason for reactivating').fill('Audit finished');
    await page.getByRole('button', { name: 'Reactivate contract' }).click();
    await page.getByText('Contract reactivated.').waitFor();
    expect(await page.locator('.facts').first().locator('[data-status]').textContent()).to.equal('active');
  });

  it("shows the four changes in the contract's history, in order, with who made them and why", async () => {
    const { page } = console;
    const rows = page.getByRole('region', { name: 'History' }).locator('tbody tr');
    const column = (n: number) => rows.locator(`td:nth-child(${n})`).allTextContents();
    expect(await column(2)).to.deep.equal(['created', 'credit limit changed', 'suspended', 'reactivated']);
    expect(await column(3)).to.deep.equal(['active', 'active', 'suspended', 'active']);
    expect(await column(6)).to.deep.equal(['', 'Annual credit review', 'Audit under way', 'Audit finished']);
    for (const who of await column(5)) expect(who).to.match(/^you \(usr_[0-9a-z]{26}\)$/);
    await capture('contract-history');
  });

  it("starts the period's billing run in the browser and follows it until it completes", async () => {
    const { page } = console;
    // One run per period and platform: a run of this month started before the purchase is
    // authorized would leave the purchase to next month's invoice.
    const thisMonth = new Date().toISOString().slice(0, 7);
    const earlier = await apis.billing.GET('/billing-runs/{runId}', { params: { path: { runId: `run_${thisMonth}` } } });
    if (earlier.response.status !== 404) throw new Error(`another test on this platform started the billing run of ${thisMonth} already: run this journey on a platform of its own`);
    // A purchase on the contract, through the billing API. Billing learns of the contract (and of
    // its reactivation) from the contract's events: until then it answers 404 or 422.
    const purchase = await eventually(
      () =>
        apis.billing.POST('/operations', {
          params: { header: { 'Idempotency-Key': randomUUID() } },
          body: { contractId, type: 'purchase', currency: 'EUR', orders: [{ reference: 'trip-42', items: [{ label: 'Paris–Lyon return', unitPrice: 8_900, quantity: 2 }] }] },
        }),
      (answer) => ![404, 422].includes(answer.response.status),
      'billing accepts a purchase on the contract',
      20_000,
      200,
    );
    expect(purchase.response.status, JSON.stringify(purchase.error)).to.equal(201);
    operationId = purchase.data!.id;
    const authorized = await eventually(
      async () => (await apis.billing.GET('/operations/{operationId}', { params: { path: { operationId } } })).data,
      (op) => op?.status !== 'pending-authorization',
      'the purchase authorized by direct debit',
      20_000,
    );
    expect(authorized?.status).to.equal('authorized');
    period = authorized!.period;

    // The contract page shows billing's figures.
    await page.goto(`/#/contracts/${contractId}`);
    await console.settled();
    expect(await page.locator('.facts').first().textContent()).to.contain('Outstanding€178.00').and.to.contain('Available€7,322.00');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Billing runs' }).click();
    await page.getByRole('heading', { name: 'Billing runs', level: 1 }).waitFor();
    const recent = page.getByRole('region', { name: 'Billing runs of recent periods' }).locator('tbody tr', { hasText: period });
    expect(await recent.textContent()).to.contain('not run');
    await page.getByLabel('Period', { exact: true }).fill(period);
    await page.getByRole('button', { name: 'Start billing run' }).click();
    await page.getByRole('heading', { name: `Billing run ${period}` }).waitFor();
    await page.getByText(`Billing run for ${period} started.`).waitFor();
    // The page reads the run again every second until it completes.
    await page.locator('.facts [data-status="completed"]').waitFor({ timeout: 30_000 });
    const facts = await page.locator('.facts').textContent();
    expect(facts).to.contain(`Period${period}`).and.to.contain('Started byan operator');
    expect(facts).to.match(/Invoices issued[1-9]/).and.to.match(/Operations invoiced[1-9]/);
    expect(await page.getByRole('status').filter({ hasText: /^Completed: / }).textContent()).to.match(/^Completed: 1 invoice issued for 1 operation of 1 contract\.$/);
    await capture('billing-run-completed');

    await page.getByRole('link', { name: 'All billing runs' }).click();
    await page.getByRole('heading', { name: 'Billing runs', level: 1 }).waitFor();
    await console.settled();
    expect(await recent.textContent()).to.contain(`run_${period}`).and.to.contain('completed');
    await capture('billing-runs');
  });

  it('shows the invoice in the list, and its page with lines, totals and the mail sent', async () => {
    const { page } = console;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Invoices' }).click();
    await page.getByRole('heading', { name: 'Invoices', level: 1 }).waitFor();
    await page.getByLabel('Contract id', { exact: true }).fill(contractId);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/contractId=/);
    await console.settled();
    const rows = page.getByRole('region', { name: 'Invoices' }).locator('tbody tr');
    expect(await rows.count()).to.equal(1);
    expect(await rows.first().textContent()).to.contain(period).and.to.contain(customer.name).and.to.contain('€178.00');
    await capture('invoices');

    await rows.first().getByRole('link', { name: /^inv_/ }).click();
    const heading = page.getByRole('heading', { name: /^Invoice inv_/ });
    await heading.waitFor();
    invoiceId = (await heading.textContent())!.replace('Invoice ', '');
    const lines = page.getByRole('region', { name: 'Invoice lines' }).locator('tbody tr td');
    expect(await lines.allTextContents()).to.deep.equal(['Paris–Lyon return', 'purchase', '€89.00', '2', '€178.00', operationId]);
    const totals = await page.locator('.totals').textContent();
    expect(totals).to.contain('Purchases€178.00').and.to.contain('Net€178.00').and.to.contain('Declined (not invoiced)None');

    // The page looks again until the mailer has sent it and billing marked it sent.
    const mail = page.getByRole('region', { name: 'Mail' });
    await mail.getByText('Sent to').waitFor({ timeout: 30_000 });
    await page.locator('.facts [data-status="sent"]').waitFor({ timeout: 30_000 });
    const sent = await mail.textContent();
    expect(sent).to.contain(`Sent to${customer.billingEmail}`).and.to.contain(`<${invoiceId}@`).and.to.contain('Transportfile (.eml)').and.to.contain('Possible duplicateno');
    // …as an .eml file where the platform's mailer writes them.
    const eml = await readFile(resolve(root, '.data', journey.platform.prefix, 'mail', `${invoiceId}.eml`), 'utf8');
    expect(eml).to.contain(customer.billingEmail);
    await capture('invoice');
  });

  it('lists the event billing parked with its reason, replays it, and sees it parked again', async () => {
    const { page } = console;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Parked events' }).click();
    await page.getByRole('heading', { name: 'Parked events', level: 1 }).waitFor();
    await console.settled();
    const event = page.locator('article', { hasText: parkedId });
    expect(await event.getByRole('heading').textContent()).to.equal('contract.subscribed for billing');
    const facts = await event.locator('.facts').textContent();
    expect(facts).to.contain('Servicebilling').and.to.contain('Attempts1');
    expect(facts).to.match(/Reasoninvalid contract\.subscribed payload: data must have required property/);
    const parkedAt = (await event.locator('time').getAttribute('datetime'))!;
    await event.getByText('The event as published').click();
    expect(await event.locator('pre').textContent()).to.contain('"contractId": "not-a-contract"').and.to.contain('payspec/operator-journey');
    await capture('parked-events');

    await event.getByRole('button', { name: 'Replay' }).click();
    await page.getByText(`Event ${parkedId} was sent back to billing at`).waitFor();
    await console.settled();
    // Still invalid: billing parks it again at once, with a new parked time and a fresh count.
    const again = await eventually(
      async () => (await apis.operations.GET('/parked-events', { params: { query: { service: 'billing' } } })).data?.data.find((e) => e.messageId === parkedId),
      (e) => e !== undefined && e.parkedAt !== parkedAt,
      'billing parked the replayed event again',
      20_000,
      200,
    );
    await page.getByRole('button', { name: 'Read the list again' }).click();
    await page.waitForURL((url) => !url.hash.includes('replayed='));
    await console.settled();
    expect(await page.getByText(`Event ${parkedId} was sent back`).count()).to.equal(0);
    expect(await event.locator('time').getAttribute('datetime')).to.equal(again!.parkedAt).and.not.equal(parkedAt);
    expect(await event.locator('.facts').textContent()).to.contain('Attempts1').and.to.contain('invalid contract.subscribed payload');
    await capture('parked-event-replayed');
  });

  it('had no serious accessibility violations and no script errors on any page', () => {
    expect(violations).to.deep.equal([]);
    expect(unexpected(console.errors)).to.deep.equal([]);
  });
});

