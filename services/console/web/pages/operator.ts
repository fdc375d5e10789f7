// Operators: contracts (create, list, open with billing's figures, change the credit limit,
// suspend and reactivate, history), billing runs (start one, follow it), invoices (list, open
// with lines, totals and what the mailer sent) and parked events (list, replay). Every call goes
// through the generated clients of web/api.ts.
import type { components as BillingTypes } from '../../../../generated/billing/types';
import type { components as ConsoleTypes } from '../../../../generated/console/types';
import type { components as ContractTypes } from '../../../../generated/contract/types';
import type { components as MailerTypes } from '../../../../generated/invoice-mailer/types';
import { actionKey, billing, call, contracts, mailer, operations, optional } from '../api';
import { type Route, href, navigate } from '../router';
import { principal } from '../session';
import { type Child, amountField, badge, facts, form, h, money, notice, page, pager, pre, problemNotice, table, when, whileShown } from '../ui';
import { invoiceLines, invoiceTotals } from './invoice-parts';
import { actions, dateInDays, periodOf, recentPeriods } from './operator-parts';

type Contract = ContractTypes['schemas']['Contract'];
type ContractStatus = ContractTypes['schemas']['ContractStatus'];
type ContractChange = ContractTypes['schemas']['ContractChange'];
type ContractCreateRequest = ContractTypes['schemas']['ContractCreateRequest'];
type Outstanding = BillingTypes['schemas']['Outstanding'];
type BillingRun = BillingTypes['schemas']['BillingRun'];
type Invoice = BillingTypes['schemas']['Invoice'];
type SentInvoice = MailerTypes['schemas']['SentInvoice'];
type ParkedEvent = ConsoleTypes['schemas']['ParkedEvent'];
type ServiceName = ConsoleTypes['schemas']['ServiceName'];

const OPERATOR = ['operator'] as const;
const CURRENCIES = ['EUR', 'GBP', 'USD', 'CHF'].map((c) => ({ value: c, label: c }));
const CONTRACT_STATUSES: ContractStatus[] = ['active', 'suspended', 'cancelled'];
const SERVICES: ServiceName[] = ['billing', 'invoice-mailer', 'payment-gateway', 'voucher'];
/** How often a running billing run is read again while its page is shown. */
const RUN_POLL_MS = 1_000;
/** How often, and how many times, an invoice not mailed yet is looked at again while its page is shown. */
const MAIL_POLL_MS = 2_000;
const MAIL_POLL_TIMES = 60;
/** Billing runs shown on the billing runs page: this month and the months before. */
const RECENT_PERIODS = 6;

const any = (label = 'Any') => ({ value: '', label });
const text = (values: Record<string, string>, name: string) => (values[name] ?? '').trim();
const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const isoDay = (value: string) => h('time', { datetime: value }, value);

/** What the contract page says after an action sent it back to itself. */
const CONTRACT_DONE: Record<string, string> = {
  created: 'Contract created. Billing learns of it from its events, usually within a second.',
  'credit-limit': 'Credit limit changed.',
  suspended: 'Contract suspended: it takes no purchases or refunds until it is reactivated.',
  reactivated: 'Contract reactivated.',
};

const CHANGE_LABELS: Record<ContractChange['type'], string> = {
  subscribed: 'created',
  suspended: 'suspended',
  reactivated: 'reactivated',
  cancelled: 'cancelled',
  'mandate-changed': 'mandate changed',
  'credit-limit-changed': 'credit limit changed',
};

// ---- Contracts -------------------------------------------------------------------------------

const contractRoutes: Route[] = [
  {
    path: '/contracts/new',
    roles: OPERATOR,
    render() {
      // One key per contract the operator means to create (kept while an answer is unknown).
      const create = actionKey();
      return page(
        'New contract',
        h('p', {}, 'A deferred-payment contract for a corporate customer: it is active at once, within its dates and credit limit, and billed monthly by direct debit.'),
        form({
          label: 'New contract',
          submit: 'Create contract',
          fields: [
            { name: 'customer.id', label: 'Customer id', required: true, placeholder: 'cust-acme-001', hint: "The customer's reference in its own system; you can filter contracts by it." },
            { name: 'customer.name', label: 'Customer name', required: true, autocomplete: 'organization' },
            { name: 'customer.billingEmail', label: 'Billing e-mail', type: 'email', required: true, autocomplete: 'off', hint: 'Monthly invoices are sent to this address.' },
            {
              name: 'customer.userId',
              label: "Customer's account (user id)",
              required: true,
              placeholder: 'usr_…',
              autocomplete: 'off',
              hint: "The id of the customer's account on the payment gateway (sign-up answers it): the one account, besides operators, that sees this contract.",
            },
            { name: 'validFrom', label: 'Valid from', type: 'date', required: true, value: dateInDays() },
            { name: 'validTo', label: 'Valid to', type: 'date', required: true, value: dateInDays(364), hint: 'The last day it may be used; on or after the first.' },
            { name: 'currency', label: 'Currency', type: 'select', options: CURRENCIES, value: 'EUR' },
            { name: 'creditLimit', label: 'Credit limit', required: true, inputmode: 'decimal', placeholder: '5000.00', hint: 'What may be outstanding at most, in the currency above.' },
            { name: 'mandate.reference', label: 'Mandate reference', required: true, placeholder: 'ACME-2026-0001', hint: 'The unique mandate reference (UMR) of the direct-debit mandate.' },
            { name: 'mandate.iban', label: 'IBAN', required: true, autocomplete: 'off', placeholder: 'FR76 3000 6000 0112 3456 7890 189' },
            { name: 'mandate.bic', label: 'BIC (optional)', autocomplete: 'off', placeholder: 'AGRIFRPP' },
            { name: 'mandate.signedOn', label: 'Mandate signed on', type: 'date', required: true, value: dateInDays() },
            { name: 'mandate.expiresOn', label: 'Mandate expires on (optional)', type: 'date' },
          ],
          async onSubmit(values) {
            const currency = values.currency || 'EUR';
            const bic = text(values, 'mandate.bic').toUpperCase();
            const expiresOn = text(values, 'mandate.expiresOn');
            const body: ContractCreateRequest = {
              customer: {
                id: text(values, 'customer.id'),
                name: text(values, 'customer.name'),
                billingEmail: text(values, 'customer.billingEmail'),
                userId: text(values, 'customer.userId'),
              },
              validFrom: text(values, 'validFrom'),
              validTo: text(values, 'validTo'),
              currency,
              creditLimit: amountField(values, 'creditLimit', currency, { allowZero: true }),
              mandate: {
                reference: text(values, 'mandate.reference'),
                // IBANs are written in capitals (the API refuses lower case), spaces allowed.
                iban: text(values, 'mandate.iban').toUpperCase(),
                ...(bic ? { bic } : {}),
                signedOn: text(values, 'mandate.signedOn'),
                ...(expiresOn ? { expiresOn } : {}),
              },
            };
            const contract = await create((key) => call(contracts.POST('/contracts', { params: { header: { 'Idempotency-Key': key } }, body })));
            navigate(`/contracts/${contract.id}`, { done: 'created' });
          },
        }),
        h('p', {}, h('a', { href: href('/contracts') }, 'All contracts')),
      );
    },
  },
  {
    path: '/contracts',
    roles: OPERATOR,
    nav: 'Contracts',
    async render(_params, query) {
      const filters = { status: query.get('status') ?? undefined, customerId: query.get('customerId') ?? undefined };
      const cursor = query.get('cursor') ?? undefined;
      const filter = form({
        label: 'Filter contracts',
        submit: 'Filter',
        fields: [
          { name: 'status', label: 'Status', type: 'select', value: filters.status ?? '', options: [any(), ...CONTRACT_STATUSES.map((s) => ({ value: s, label: s }))] },
          { name: 'customerId', label: 'Customer id', value: filters.customerId },
        ],
        async onSubmit(values) {
          navigate('/contracts', { status: values.status, customerId: text(values, 'customerId') });
        },
      });
      filter.classList.add('filters');
      let listing: Child;
      try {
        const result = await call(
          contracts.GET('/contracts', {
            params: {
              query: {
                ...(filters.status ? { status: filters.status as ContractStatus } : {}),
                ...(filters.customerId ? { customerId: filters.customerId } : {}),
                limit: 20,
                ...(cursor ? { cursor } : {}),
              },
            },
          }),
        );
        listing = [
          table<Contract>(
            'Contracts',
            [
              { label: 'Contract', cell: (c) => h('a', { href: href(`/contracts/${c.id}`) }, c.id) },
              { label: 'Customer', cell: (c) => [c.customer.name, h('br'), h('span', { class: 'hint' }, c.customer.id)] },
              { label: 'Status', cell: (c) => badge(c.status) },
              { label: 'Valid', cell: (c) => [isoDay(c.validFrom), ' to ', isoDay(c.validTo)] },
              { label: 'Credit limit', numeric: true, cell: (c) => money(c.creditLimit, c.currency) },
              { label: 'Changed', cell: (c) => when(c.updatedAt) },
            ],
            result.data,
            'No contracts match.',
          ),
          pager({ label: 'Contract pages', path: '/contracts', query: filters, cursor, page: result }),
        ];
      } catch (err) {
        listing = problemNotice(err);
      }
      return page('Contracts', actions(h('a', { href: href('/contracts/new') }, 'New contract')), filter, listing);
    },
  },
  {
    path: '/contracts/:contractId',
    roles: OPERATOR,
    async render({ contractId = '' }, query) {
      const cursor = query.get('cursor') ?? undefined;
      const path = { contractId };
      const [contract, credit, history] = await Promise.all([
        call(contracts.GET('/contracts/{contractId}', { params: { path } })),
        // Billing's figures: a contract billing has not heard of yet is no error.
        optional(billing.GET('/contracts/{contractId}/outstanding', { params: { path } })).catch((err: unknown) => err as Error),
        call(contracts.GET('/contracts/{contractId}/history', { params: { path, query: { limit: 20, ...(cursor ? { cursor } : {}) } } })),
      ]);
      const done = CONTRACT_DONE[query.get('done') ?? ''];
      const me = principal()?.userId;
      const base = `/contracts/${contract.id}`;
      return page(
        `Contract ${contract.id}`,
        done ? notice(done) : null,
        facts([
          ['Status', badge(contract.status)],
          ...(contract.statusReason ? ([['Status reason', contract.statusReason]] as [string, Child][]) : []),
          ['Customer', `${contract.customer.name} (${contract.customer.id})`],
          ['Billing e-mail', contract.customer.billingEmail],
          ["Customer's account", contract.customer.userId],
          ['Valid', [isoDay(contract.validFrom), ' to ', isoDay(contract.validTo)]],
          ['Credit limit', money(contract.creditLimit, contract.currency)],
          ...creditFacts(credit),
          ['Mandate reference', contract.mandate.reference],
          ['IBAN', contract.mandate.ibanMasked],
          ['BIC', contract.mandate.bic ?? '—'],
          ['Mandate signed on', isoDay(contract.mandate.signedOn)],
          ['Mandate expires on', contract.mandate.expiresOn ? isoDay(contract.mandate.expiresOn) : 'never'],
          ['Version', String(contract.version)],
          ['Created', when(contract.createdAt)],
        ]),
        actions(h('a', { href: href('/invoices', { contractId: contract.id }) }, 'Invoices of this contract'), h('a', { href: href('/contracts') }, 'All contracts')),
        contract.status === 'cancelled' ? notice('This contract is cancelled: it cannot change any more.') : contractActions(contract),
        h('h2', { id: 'history' }, 'History'),
        table<ContractChange>(
          'History',
          [
            { label: 'Version', numeric: true, cell: (c) => c.version },
            { label: 'Change', cell: (c) => CHANGE_LABELS[c.type] ?? c.type },
            { label: 'Status', cell: (c) => badge(c.status) },
            { label: 'When', cell: (c) => when(c.at) },
            { label: 'Who', cell: (c) => (c.actor === me ? `you (${c.actor})` : c.actor) },
            { label: 'Reason', cell: (c) => c.reason ?? '' },
          ],
          history.data,
          'No changes.',
        ),
        pager({ label: 'History pages', path: base, cursor, page: history }),
      );
    },
  },
];

function creditFacts(credit: Outstanding | Error | undefined): [string, Child][] {
  if (credit === undefined) return [['Outstanding', 'Billing has not received this contract yet; look again in a moment.']];
  if (credit instanceof Error) return [['Outstanding', `Billing did not answer: ${credit.message}`]];
  return [
    ['Outstanding', money(credit.outstanding, credit.currency)],
    ['Available', [money(credit.available, credit.currency), ' ', h('span', { class: 'hint' }, ['as of ', when(credit.asOf)])]],
  ];
}

/** The changes an operator may make to an active or suspended contract, each with its reason. */
function contractActions(contract: Contract): Child {
  const path = { contractId: contract.id };
  const back = (done: string) => navigate(`/contracts/${contract.id}`, { done });
  return [
    h('h2', {}, 'Change the credit limit'),
    form({
      label: 'Change the credit limit',
      submit: 'Change credit limit',
      fields: [
        { name: 'creditLimit', label: `New credit limit (${contract.currency})`, required: true, inputmode: 'decimal', hint: `Now ${money(contract.creditLimit, contract.currency)}.` },
        { name: 'reason', label: 'Reason for the new limit', required: true },
      ],
      async onSubmit(values) {
        await call(contracts.PUT('/contracts/{contractId}/credit-limit', { params: { path }, body: { creditLimit: amountField(values, 'creditLimit', contract.currency, { allowZero: true }), reason: text(values, 'reason') } }));
        back('credit-limit');
      },
    }),
    contract.status === 'active'
      ? [
          h('h2', {}, 'Suspend'),
          h('p', {}, 'A suspended contract takes no purchases or refunds until it is reactivated.'),
          form({
            label: 'Suspend the contract',
            submit: 'Suspend contract',
            fields: [{ name: 'reason', label: 'Reason for suspending', required: true }],
            async onSubmit(values) {
              await call(contracts.POST('/contracts/{contractId}/suspend', { params: { path }, body: { reason: text(values, 'reason') } }));
              back('suspended');
            },
          }),
        ]
      : null,
    contract.status === 'suspended'
      ? [
          h('h2', {}, 'Reactivate'),
          form({
            label: 'Reactivate the contract',
            submit: 'Reactivate contract',
            fields: [{ name: 'reason', label: 'Reason for reactivating', required: true }],
            async onSubmit(values) {
              await call(contracts.POST('/contracts/{contractId}/reactivate', { params: { path }, body: { reason: text(values, 'reason') } }));
              back('reactivated');
            },
          }),
        ]
      : null,
  ];
}

// ---- Billing runs ----------------------------------------------------------------------------

/** A period's run id: one run per period, so the period names it (services/billing: runIdOf). */
const runIdOf = (period: string) => `run_${period}`;

function runFacts(run: BillingRun): HTMLElement {
  return facts([
    ['Status', badge(run.status)],
    ['Period', run.period],
    ['Started by', run.trigger === 'operator' ? 'an operator' : 'the monthly schedule'],
    ['Started', when(run.startedAt)],
    ['Completed', when(run.completedAt)],
    ['Contracts seen', String(run.contractsSeen)],
    ['Invoices issued', String(run.invoicesIssued)],
    ['Operations invoiced', String(run.operationsInvoiced)],
  ]);
}

const runSummary = (run: BillingRun) =>
  run.status === 'running'
    ? `Running: ${count(run.contractsSeen, 'contract')} seen, ${count(run.invoicesIssued, 'invoice')} issued so far. This page reads the run again every second.`
    : `Completed: ${count(run.invoicesIssued, 'invoice')} issued for ${count(run.operationsInvoiced, 'operation')} of ${count(run.contractsSeen, 'contract')}.`;

const billingRunRoutes: Route[] = [
  {
    path: '/billing-runs',
    roles: OPERATOR,
    nav: 'Billing runs',
    async render() {
      const periods = recentPeriods(RECENT_PERIODS);
      // No list of runs in the API: each period's run is read by its id (404: no run yet).
      const runs = await Promise.all(
        periods.map(async (period) => ({ period, run: await optional(billing.GET('/billing-runs/{runId}', { params: { path: { runId: runIdOf(period) } } })).catch((err: unknown) => err as Error) })),
      );
      const lastMonth = periods[1] ?? periodOf(new Date());
      return page(
        'Billing runs',
        h('h2', {}, 'Start a billing run'),
        h(
          'p',
          {},
          'A run issues one invoice per contract with authorized operations of the period not invoiced yet; the invoice mailer sends them. One run per period: starting it again shows the run that exists. ',
          'Operations that become invoiceable in a period after its run started are billed the month after.',
        ),
        form({
          label: 'Start a billing run',
          submit: 'Start billing run',
          fields: [{ name: 'period', label: 'Period', type: 'month', required: true, value: lastMonth, placeholder: 'YYYY-MM', hint: 'A calendar month (UTC), e.g. 2026-05; not one that has not started.' }],
          async onSubmit(values) {
            const answer = await billing.POST('/billing-runs', { body: { period: text(values, 'period') } });
            const run = await call(Promise.resolve(answer));
            navigate(`/billing-runs/${run.id}`, { started: answer.response.status === 202 ? 'new' : 'existing' });
          },
        }),
        h('h2', {}, 'Recent periods'),
        table<(typeof runs)[number]>(
          'Billing runs of recent periods',
          [
            { label: 'Period', cell: (r) => r.period },
            {
              label: 'Run',
              cell: (r) => (r.run instanceof Error ? `could not be read: ${r.run.message}` : r.run ? h('a', { href: href(`/billing-runs/${r.run.id}`) }, r.run.id) : 'not run'),
            },
            { label: 'Status', cell: (r) => (r.run && !(r.run instanceof Error) ? badge(r.run.status) : '—') },
            { label: 'Invoices issued', numeric: true, cell: (r) => (r.run && !(r.run instanceof Error) ? r.run.invoicesIssued : '—') },
            { label: 'Operations invoiced', numeric: true, cell: (r) => (r.run && !(r.run instanceof Error) ? r.run.operationsInvoiced : '—') },
            { label: 'Started', cell: (r) => (r.run && !(r.run instanceof Error) ? when(r.run.startedAt) : '—') },
          ],
          runs,
        ),
      );
    },
  },
  {
    path: '/billing-runs/:runId',
    roles: OPERATOR,
    async render({ runId = '' }, query) {
      const run = await call(billing.GET('/billing-runs/{runId}', { params: { path: { runId } } }));
      const started = query.get('started');
      const progress = h('div', {}, runFacts(run));
      // Read out as it changes (a polite live region), while the facts are replaced in place.
      const summary = h('p', { role: 'status' }, runSummary(run));
      const content = page(
        `Billing run ${run.period}`,
        started === 'new' ? notice(`Billing run for ${run.period} started.`) : null,
        started === 'existing' ? notice(`The run for ${run.period} had been started already; here it is.`) : null,
        summary,
        progress,
        actions(h('a', { href: href('/invoices', { period: run.period }) }, `Invoices of ${run.period}`), h('a', { href: href('/billing-runs') }, 'All billing runs')),
      );
      // Read it again until it completes, while this page is shown: in place, so focus stays where it is.
      if (run.status === 'running') {
        whileShown(content, RUN_POLL_MS, async () => {
          const now = await call(billing.GET('/billing-runs/{runId}', { params: { path: { runId } } }));
          progress.replaceChildren(runFacts(now));
          summary.textContent = runSummary(now);
          return now.status === 'running';
        });
      }
      return content;
    },
  },
];

// ---- Invoices --------------------------------------------------------------------------------

function mailFacts(sent: SentInvoice | undefined | Error): Child {
  if (sent instanceof Error) return notice(`The invoice mailer did not answer: ${sent.message}`, 'error');
  if (!sent) return h('p', { class: 'mail-pending' }, 'Not sent yet: the invoice mailer has not sent this invoice (it is on its way, or being retried).');
  return facts([
    ['Sent to', sent.to],
    ['Sent', when(sent.sentAt)],
    ['Message-ID', h('code', {}, sent.messageId)],
    ['Transport', sent.transport === 'file' ? 'file (.eml)' : 'SMTP'],
    ['Attempt', String(sent.attempt)],
    ['Possible duplicate', sent.possibleDuplicate ? 'yes: an earlier attempt may have reached the customer too' : 'no'],
  ]);
}

const invoiceRoutes: Route[] = [
  {
    path: '/invoices',
    roles: OPERATOR,
    nav: 'Invoices',
    async render(_params, query) {
      const filters = { contractId: query.get('contractId') ?? undefined, period: query.get('period') ?? undefined };
      const cursor = query.get('cursor') ?? undefined;
      const filter = form({
        label: 'Filter invoices',
        submit: 'Filter',
        fields: [
          { name: 'contractId', label: 'Contract id', value: filters.contractId, placeholder: 'ctr_…' },
          { name: 'period', label: 'Period', type: 'month', value: filters.period, placeholder: 'YYYY-MM' },
        ],
        async onSubmit(values) {
          navigate('/invoices', { contractId: text(values, 'contractId'), period: text(values, 'period') });
        },
      });
      filter.classList.add('filters');
      let listing: Child;
      try {
        const result = await call(
          billing.GET('/invoices', {
            params: {
              query: {
                ...(filters.contractId ? { contractId: filters.contractId } : {}),
                ...(filters.period ? { period: filters.period } : {}),
                limit: 20,
                ...(cursor ? { cursor } : {}),
              },
            },
          }),
        );
        listing = [
          table<Invoice>(
            'Invoices',
            [
              { label: 'Invoice', cell: (i) => h('a', { href: href(`/invoices/${i.id}`) }, i.id) },
              { label: 'Period', cell: (i) => i.period },
              { label: 'Customer', cell: (i) => i.customer.name },
              { label: 'Contract', cell: (i) => h('a', { href: href(`/contracts/${i.contractId}`) }, i.contractId) },
              { label: 'Net', numeric: true, cell: (i) => money(i.net, i.currency) },
              { label: 'Status', cell: (i) => badge(i.status) },
              { label: 'Issued', cell: (i) => when(i.issuedAt) },
            ],
            result.data,
            'No invoices match.',
          ),
          pager({ label: 'Invoice pages', path: '/invoices', query: filters, cursor, page: result }),
        ];
      } catch (err) {
        listing = problemNotice(err);
      }
      return page('Invoices', filter, listing);
    },
  },
  {
    path: '/invoices/:invoiceId',
    roles: OPERATOR,
    async render({ invoiceId = '' }) {
      const path = { invoiceId };
      const readSent = () => optional(mailer.GET('/sent-invoices/{invoiceId}', { params: { path } })).catch((err: unknown) => err as Error);
      const [invoice, sent] = await Promise.all([call(billing.GET('/invoices/{invoiceId}', { params: { path } })), readSent()]);
      const content = page(
        `Invoice ${invoice.id}`,
        facts([
          ['Status', badge(invoice.status)],
          ['Period', invoice.period],
          ['Customer', `${invoice.customer.name} (${invoice.customer.id})`],
          ['Billing e-mail', invoice.customer.billingEmail],
          ['Contract', h('a', { href: href(`/contracts/${invoice.contractId}`) }, invoice.contractId)],
          ['Issued', when(invoice.issuedAt)],
          ...(invoice.sentAt ? ([['Sent', when(invoice.sentAt)]] as [string, Child][]) : []),
        ]),
        h('h2', {}, 'Lines'),
        invoiceLines(invoice),
        h('h2', {}, 'Totals'),
        invoiceTotals(invoice),
        h(
          'section',
          { 'aria-labelledby': 'invoice-mail' },
          h('h2', { id: 'invoice-mail' }, 'Mail'),
          mailFacts(sent),
          sent === undefined ? actions(h('button', { type: 'button', class: 'secondary', onclick: () => navigate(`/invoices/${invoice.id}`) }, 'Check again')) : null,
        ),
        actions(h('a', { href: href('/invoices', { contractId: invoice.contractId }) }, 'Invoices of this contract'), h('a', { href: href('/invoices') }, 'All invoices')),
      );
      // Until it is mailed and billing has marked it sent, look again now and then while this page
      // is shown; show it anew once either changed.
      const shown = `${invoice.status}|${sent === undefined ? 'unsent' : 'sent'}`;
      if (shown !== 'sent|sent') {
        let times = 0;
        whileShown(content, MAIL_POLL_MS, async () => {
          if (++times > MAIL_POLL_TIMES) return false;
          const [now, mail] = await Promise.all([call(billing.GET('/invoices/{invoiceId}', { params: { path } })), readSent()]);
          if (`${now.status}|${mail === undefined ? 'unsent' : 'sent'}` !== shown) {
            navigate(`/invoices/${invoice.id}`);
            return false;
          }
          return true;
        });
      }
      return content;
    },
  },
];

// ---- Parked events ---------------------------------------------------------------------------

function parkedEvent(event: ParkedEvent, index: number, filter: string | undefined): HTMLElement {
  const headingId = `parked-${index}`;
  const outcome = h('div', {});
  const replay = h('button', { type: 'button', 'aria-describedby': headingId }, 'Replay');
  replay.addEventListener('click', () => {
    replay.disabled = true;
    outcome.replaceChildren();
    call(operations.POST('/parked-events/{service}/{messageId}/replay', { params: { path: { service: event.service, messageId: event.messageId } } }))
      .then((done) => navigate('/parked-events', { service: filter, replayed: done.messageId, to: done.service, at: done.replayedAt }))
      .catch((err: unknown) => {
        replay.disabled = false;
        outcome.replaceChildren(problemNotice(err));
      });
  });
  return h(
    'article',
    { class: 'parked-event', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, `${event.type} `, h('span', { class: 'hint' }, `for ${event.service}`)),
    facts([
      ['Service', event.service],
      ['Type', event.type],
      ['Message id', h('code', {}, event.messageId)],
      ['Parked', when(event.parkedAt)],
      ['Attempts', String(event.attempts)],
      ['Reason', event.reason],
    ]),
    h('details', {}, h('summary', {}, 'The event as published'), pre(event.event)),
    outcome,
    actions(replay),
  );
}

const parkedEventRoutes: Route[] = [
  {
    path: '/parked-events',
    roles: OPERATOR,
    nav: 'Parked events',
    async render(_params, query) {
      const service = SERVICES.find((s) => s === query.get('service'));
      const replayed = query.get('replayed');
      const filter = form({
        label: 'Filter parked events',
        submit: 'Filter',
        fields: [{ name: 'service', label: 'Service', type: 'select', value: service ?? '', options: [any('Every service'), ...SERVICES.map((s) => ({ value: s, label: s }))] }],
        async onSubmit(values) {
          navigate('/parked-events', { service: values.service });
        },
      });
      filter.classList.add('filters');
      let listing: Child;
      try {
        const result = await call(operations.GET('/parked-events', { params: { query: service ? { service } : {} } }));
        listing = [
          result.hasMore ? notice('More events are parked than shown here (at most 50 per service, oldest first).') : null,
          result.data.length === 0 ? h('p', { class: 'empty' }, 'No parked events.') : h('div', { class: 'parked-events' }, result.data.map((e, i) => parkedEvent(e, i, service))),
        ];
      } catch (err) {
        listing = problemNotice(err);
      }
      return page(
        'Parked events',
        replayed
          ? notice(
              `Event ${replayed} was sent back to ${query.get('to') ?? 'its service'} at ${new Date(query.get('at') ?? Date.now()).toLocaleTimeString()}. ` +
                'If the service cannot handle it this time either, it is parked again and listed below (read the list again to see it).',
            )
          : null,
        h('p', {}, 'Events a service could not handle (invalid, or failing after every retry) wait here until they are replayed once the cause is fixed. Listing removes nothing.'),
        filter,
        actions(h('button', { type: 'button', class: 'secondary', onclick: () => navigate('/parked-events', { service }) }, 'Read the list again')),
        listing,
      );
    },
  },
];

export const operatorRoutes: Route[] = [...contractRoutes, ...billingRunRoutes, ...invoiceRoutes, ...parkedEventRoutes];
