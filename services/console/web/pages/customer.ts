// Customers: the wallet (balance, top-ups, paying someone by e-mail, transactions), voucher codes
// (requested for the account's own phone number, followed until the provider delivers them) and
// the company's deferred-payment contracts that name the account (credit, operations, invoices).
// APIs: the gateway's wallet and profile, the voucher service, contracts and billing.
import type { components as Billing } from '../../../../generated/billing/types';
import type { components as Contracts } from '../../../../generated/contract/types';
import type { components as Gateway } from '../../../../generated/payment-gateway/types';
import type { components as Voucher } from '../../../../generated/voucher/types';
import { actionKey, billing, call, contracts, gateway, optional, vouchers } from '../api';
import { type Route, href, navigate } from '../router';
import { type Field, amountField, badge, date, dateTime, facts, form, h, money, notice, page, pager, table, whileShown } from '../ui';
import { flash, me, month, signed, takeFlash } from './customer-parts';
import { invoiceLines, invoiceTotals } from './invoice-parts';

type Transaction = Gateway['schemas']['Transaction'];
type TransactionType = Gateway['schemas']['TransactionType'];
type VoucherView = Voucher['schemas']['Voucher'];
type Contract = Contracts['schemas']['Contract'];
type Operation = Billing['schemas']['Operation'];
type Invoice = Billing['schemas']['Invoice'];

const CURRENCIES = ['EUR', 'GBP', 'USD'];
const PAGE_SIZE = 20;
/** How often a pending voucher is read again while its page is open. */
const VOUCHER_POLL_MS = 1_000;

const TRANSACTION_TYPES: Record<TransactionType, { label: string; filter: string; direction: 'in' | 'out' }> = {
  'top-up': { label: 'Top-up', filter: 'Top-ups', direction: 'in' },
  'transfer-in': { label: 'Received', filter: 'Payments received', direction: 'in' },
  'transfer-out': { label: 'Sent', filter: 'Payments sent', direction: 'out' },
};
const isTransactionType = (value: string | null): value is TransactionType => value !== null && value in TRANSACTION_TYPES;

/** The currencies a form offers: the wallet's own once it has one (another is refused), else the usual ones. */
const currencyField = (held: string | undefined, hint?: string): Field => ({
  name: 'currency',
  label: 'Currency',
  type: 'select',
  value: held ?? 'EUR',
  options: (held ? [held] : CURRENCIES).map((c) => ({ value: c, label: c })),
  hint,
});

const items = (operation: Operation) =>
  operation.orders.flatMap((order) => order.items.map((item) => `${item.label} × ${item.quantity}${order.reference ? ` (${order.reference})` : ''}`)).join('; ');

export const customerRoutes: Route[] = [
  {
    path: '/wallet',
    roles: ['customer'],
    nav: 'Wallet',
    async render(_params, query) {
      const type = isTransactionType(query.get('type')) ? (query.get('type') as TransactionType) : undefined;
      const cursor = query.get('cursor') ?? undefined;
      const [wallet, transactions] = await Promise.all([
        call(gateway.GET('/wallet')),
        call(gateway.GET('/wallet/transactions', { params: { query: { ...(type ? { type } : {}), limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } } })),
      ]);
      const done = takeFlash();
      const held = wallet.currency;

      const topUp = actionKey();
      const topUpForm = form({
        label: 'Top up',
        submit: 'Top up',
        fields: [
          { name: 'amount', label: 'Amount', required: true, inputmode: 'decimal', placeholder: '50.00' },
          currencyField(held, held ? undefined : "Your first top-up sets your wallet's currency."),
        ],
        async onSubmit(values) {
          const currency = values.currency ?? 'EUR';
          const amount = amountField(values, 'amount', currency);
          const added = await topUp((key) => call(gateway.POST('/wallet/top-ups', { params: { header: { 'Idempotency-Key': key } }, body: { amount, currency } })));
          flash(`Topped up ${money(added.amount, added.currency)}. Your balance is ${money(added.balanceAfter, added.currency)}.`);
          navigate('/wallet');
        },
      });

      const transfer = actionKey();
      const transferForm = form({
        label: 'Pay someone by e-mail',
        submit: 'Pay',
        fields: [
          { name: 'toEmail', label: 'Their e-mail', type: 'email', required: true, autocomplete: 'off', hint: 'The e-mail they signed up with.' },
          { name: 'amount', label: 'Amount', required: true, inputmode: 'decimal', placeholder: '12.50' },
          currencyField(held),
          { name: 'note', label: 'Note (optional)', hint: 'They see it with the payment.' },
        ],
        async onSubmit(values) {
          const currency = values.currency ?? 'EUR';
          const amount = amountField(values, 'amount', currency);
          const note = values.note?.trim();
          const paid = await transfer((key) =>
            call(
              gateway.POST('/wallet/transfers', {
                params: { header: { 'Idempotency-Key': key } },
                body: { toEmail: values.toEmail?.trim() ?? '', amount, currency, ...(note ? { note } : {}) },
              }),
            ),
          );
          const to = paid.counterparty ? `${paid.counterparty.name} (${paid.counterparty.email})` : (values.toEmail ?? '');
          flash(`Paid ${money(paid.amount, paid.currency)} to ${to}. Your balance is ${money(paid.balanceAfter, paid.currency)}.`);
          navigate('/wallet');
        },
      });

      const filter = form({
        label: 'Filter transactions',
        submit: 'Filter',
        fields: [
          {
            name: 'type',
            label: 'Type',
            type: 'select',
            value: type ?? '',
            options: [{ value: '', label: 'All' }, ...Object.entries(TRANSACTION_TYPES).map(([value, t]) => ({ value, label: t.filter }))],
          },
        ],
        async onSubmit(values) {
          navigate('/wallet', { type: values.type });
        },
      });
      filter.classList.add('filters');

      return page(
        'Wallet',
        done ? notice(done.text, done.kind) : null,
        facts([
          ['Balance', h('strong', { class: 'balance' }, held ? money(wallet.balance, held) : 'Nothing yet')],
          ['Currency', held ?? 'Set by your first top-up'],
          ['Last change', dateTime(wallet.updatedAt)],
        ]),
        h('h2', {}, 'Top up'),
        topUpForm,
        h('h2', {}, 'Pay someone'),
        h('p', {}, 'Pay another Payspec customer or merchant from your balance, by their e-mail.'),
        transferForm,
        h('h2', {}, 'Transactions'),
        filter,
        table<Transaction>(
          'Transactions',
          [
            { label: 'Date', cell: (t) => dateTime(t.createdAt) },
            { label: 'Type', cell: (t) => TRANSACTION_TYPES[t.type].label },
            { label: 'With', cell: (t) => (t.counterparty ? [t.counterparty.name, h('br'), h('small', {}, t.counterparty.email)] : '—') },
            { label: 'Note', cell: (t) => t.note ?? '' },
            { label: 'Amount', numeric: true, cell: (t) => signed(t.amount, t.currency, TRANSACTION_TYPES[t.type].direction) },
            { label: 'Balance after', numeric: true, cell: (t) => money(t.balanceAfter, t.currency) },
          ],
          transactions.data,
          type || cursor ? 'No transactions match.' : 'No transactions yet: top up to start.',
        ),
        pager({ label: 'Transaction pages', path: '/wallet', query: { type }, cursor, page: transactions }),
      );
    },
  },
  {
    path: '/vouchers',
    roles: ['customer'],
    nav: 'Vouchers',
    async render(_params, query) {
      const cursor = query.get('cursor') ?? undefined;
      const user = await me();
      const list = await call(vouchers.GET('/vouchers', { params: { query: { phoneNumber: user.phone, limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } } }));
      const request = actionKey();
      return page(
        'Vouchers',
        h('h2', {}, 'Request a voucher'),
        h('p', {}, 'The code comes from our voucher provider, usually within seconds and always within 30, and is sent by SMS to ', h('strong', {}, user.phone), ', your account’s number.'),
        form({
          label: 'Request a voucher',
          submit: 'Request a voucher',
          fields: [],
          async onSubmit() {
            const accepted = await request((key) => call(vouchers.POST('/vouchers', { params: { header: { 'Idempotency-Key': key } }, body: { phoneNumber: user.phone } })));
            flash(accepted.message);
            navigate(`/vouchers/${accepted.id}`);
          },
        }),
        h('h2', {}, 'Your vouchers'),
        table<VoucherView>(
          'Your vouchers',
          [
            { label: 'Voucher', cell: (v) => h('a', { href: href(`/vouchers/${v.id}`) }, v.id) },
            { label: 'Status', cell: (v) => badge(v.status) },
            { label: 'Code', cell: (v) => (v.voucherCode ? h('code', {}, v.voucherCode) : '—') },
            { label: 'Requested', cell: (v) => dateTime(v.createdAt) },
            { label: 'Issued', cell: (v) => dateTime(v.issuedAt) },
          ],
          list.data,
          cursor ? 'No more vouchers.' : 'No vouchers yet.',
        ),
        pager({ label: 'Voucher pages', path: '/vouchers', cursor, page: list }),
      );
    },
  },
  {
    path: '/vouchers/:voucherId',
    roles: ['customer'],
    async render({ voucherId = '' }) {
      const voucher = await call(vouchers.GET('/vouchers/{voucherId}', { params: { path: { voucherId } } }));
      const accepted = takeFlash();
      const content = page(
        `Voucher ${voucher.id}`,
        accepted ? notice(accepted.text, accepted.kind) : null,
        voucher.status === 'PENDING' ? notice('Waiting for the provider to deliver the code… This page updates by itself.') : null,
        voucher.status === 'FAILED' ? notice('The provider did not deliver a code in time. Nothing was charged; request a new voucher.', 'error') : null,
        facts([
          ['Status', badge(voucher.status)],
          ['Code', voucher.voucherCode ? h('code', { class: 'voucher-code' }, voucher.voucherCode) : '—'],
          ['Phone number', voucher.phoneNumber],
          ['Requested', dateTime(voucher.createdAt)],
          ...(voucher.issuedAt ? ([['Issued', dateTime(voucher.issuedAt)]] as [string, string][]) : []),
          ...(voucher.failedAt ? ([['Failed', `${dateTime(voucher.failedAt)}${voucher.failureReason ? ` (${voucher.failureReason})` : ''}`]] as [string, string][]) : []),
        ]),
        h('h2', {}, 'Status history'),
        table(
          'Status history',
          [
            { label: 'Status', cell: (c: VoucherView['statusHistory'][number]) => badge(c.status) },
            { label: 'At', cell: (c) => dateTime(c.at) },
            { label: 'Reason', cell: (c) => c.reason ?? '' },
          ],
          voucher.statusHistory,
        ),
        h('p', {}, h('a', { href: href('/vouchers') }, 'All vouchers')),
      );
      // Read it again until the code comes (or the request fails), while this page is shown.
      if (voucher.status === 'PENDING') {
        whileShown(content, VOUCHER_POLL_MS, async () => {
          navigate(`/vouchers/${voucherId}`);
          return false;
        });
      }
      return content;
    },
  },
  {
    path: '/company',
    roles: ['customer'],
    nav: 'Company',
    async render(_params, query) {
      const cursor = query.get('cursor') ?? undefined;
      const list = await call(contracts.GET('/contracts', { params: { query: { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } } }));
      return page(
        'Company',
        h('p', {}, 'Deferred-payment contracts that name your account: your company buys on credit up to a limit and pays each month’s invoice by direct debit.'),
        table<Contract>(
          'Contracts',
          [
            { label: 'Contract', cell: (c) => h('a', { href: href(`/company/contracts/${c.id}`) }, c.id) },
            { label: 'Company', cell: (c) => c.customer.name },
            { label: 'Status', cell: (c) => badge(c.status) },
            { label: 'Credit limit', numeric: true, cell: (c) => money(c.creditLimit, c.currency) },
            { label: 'Valid', cell: (c) => `${date(c.validFrom)} – ${date(c.validTo)}` },
          ],
          list.data,
          cursor ? 'No more contracts.' : 'No contract names your account. Your company’s contract is set up by a Payspec operator.',
        ),
        pager({ label: 'Contract pages', path: '/company', cursor, page: list }),
      );
    },
  },
  {
    path: '/company/contracts/:contractId',
    roles: ['customer'],
    async render({ contractId = '' }, query) {
      const cursor = query.get('cursor') ?? undefined;
      const invoicesCursor = query.get('invoices') ?? undefined;
      const path = { contractId };
      const [contract, outstanding, operations, invoices] = await Promise.all([
        call(contracts.GET('/contracts/{contractId}', { params: { path } })),
        // Billing learns contracts from their events: a new one may not have reached it yet.
        optional(billing.GET('/contracts/{contractId}/outstanding', { params: { path } })),
        optional(billing.GET('/contracts/{contractId}/operations', { params: { path, query: { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } } })),
        optional(billing.GET('/invoices', { params: { query: { contractId, limit: PAGE_SIZE, ...(invoicesCursor ? { cursor: invoicesCursor } : {}) } } })),
      ]);
      const here = `/company/contracts/${contractId}`;
      const { mandate } = contract;
      return page(
        `Contract ${contract.id}`,
        facts([
          ['Company', contract.customer.name],
          ['Customer reference', contract.customer.id],
          ['Invoices sent to', contract.customer.billingEmail],
          ['Status', [badge(contract.status), contract.statusReason ? ` ${contract.statusReason}` : null]],
          ['Valid', `${date(contract.validFrom)} – ${date(contract.validTo)}`],
          ['Credit limit', money(contract.creditLimit, contract.currency)],
        ]),
        h('h2', {}, 'Credit'),
        outstanding
          ? facts([
              ['Outstanding', h('strong', { class: 'outstanding' }, money(outstanding.outstanding, outstanding.currency))],
              ['Available', h('strong', { class: 'available' }, money(outstanding.available, outstanding.currency))],
              ['As of', dateTime(outstanding.asOf)],
            ])
          : notice('Billing has not taken this contract in yet: its credit, operations and invoices show here in a moment.'),
        h('h2', {}, 'Direct-debit mandate'),
        facts([
          ['Mandate reference', mandate.reference],
          ['Account', h('code', {}, mandate.ibanMasked)],
          ...(mandate.bic ? ([['BIC', mandate.bic]] as [string, string][]) : []),
          ['Signed on', date(mandate.signedOn)],
          ['Expires on', mandate.expiresOn ? date(mandate.expiresOn) : 'No end date'],
        ]),
        h('h2', {}, 'Operations'),
        operations
          ? [
              table<Operation>(
                'Operations',
                [
                  { label: 'Date', cell: (o) => dateTime(o.createdAt) },
                  { label: 'Items', cell: (o) => items(o) },
                  { label: 'Type', cell: (o) => o.type },
                  { label: 'Status', cell: (o) => [badge(o.status), o.declineReason ? ` ${o.declineReason}` : null] },
                  { label: 'Amount', numeric: true, cell: (o) => (o.type === 'refund' ? signed(o.amount, o.currency, 'out') : money(o.amount, o.currency)) },
                  // The period's invoice, once the operation is on it.
                  { label: 'Billed', cell: (o) => (o.invoiceId ? h('a', { href: href(`/company/invoices/${o.invoiceId}`) }, `Invoice, ${month(o.period)}`) : month(o.period)) },
                  { label: 'Operation', cell: (o) => h('code', {}, o.id) },
                ],
                operations.data,
                cursor ? 'No more operations.' : 'No operations yet.',
              ),
              pager({ label: 'Operation pages', path: here, query: { invoices: invoicesCursor }, cursor, page: operations }),
            ]
          : null,
        h('h2', {}, 'Invoices'),
        invoices
          ? [
              table<Invoice>(
                'Invoices',
                [
                  { label: 'Invoice', cell: (i) => h('a', { href: href(`/company/invoices/${i.id}`) }, i.id) },
                  { label: 'Period', cell: (i) => month(i.period) },
                  { label: 'Status', cell: (i) => badge(i.status) },
                  { label: 'Purchases', numeric: true, cell: (i) => money(i.purchases, i.currency) },
                  { label: 'Refunds', numeric: true, cell: (i) => money(i.refunds, i.currency) },
                  { label: 'Net', numeric: true, cell: (i) => money(i.net, i.currency) },
                  { label: 'Issued', cell: (i) => dateTime(i.issuedAt) },
                ],
                invoices.data,
                invoicesCursor ? 'No more invoices.' : 'No invoices yet: each month’s operations are invoiced early the next month.',
              ),
              pager({ label: 'Invoice pages', path: here, query: { cursor }, cursor: invoicesCursor, page: invoices, param: 'invoices', next: 'Older invoices', first: 'Newest invoices' }),
            ]
          : null,
        h('p', {}, h('a', { href: href('/company') }, 'All contracts')),
      );
    },
  },
  {
    path: '/company/invoices/:invoiceId',
    roles: ['customer'],
    async render({ invoiceId = '' }) {
      const invoice = await call(billing.GET('/invoices/{invoiceId}', { params: { path: { invoiceId } } }));
      return page(
        `Invoice ${invoice.id}`,
        facts([
          ['Period', month(invoice.period)],
          ['Status', badge(invoice.status)],
          ['Company', invoice.customer.name],
          ['Issued', dateTime(invoice.issuedAt)],
          ['Sent', invoice.sentAt ? `${dateTime(invoice.sentAt)}${invoice.sentTo ? ` to ${invoice.sentTo}` : ''}` : `Not yet (to ${invoice.customer.billingEmail})`],
          ['Contract', h('a', { href: href(`/company/contracts/${invoice.contractId}`) }, invoice.contractId)],
        ]),
        h('h2', {}, 'Lines'),
        invoiceLines(invoice),
        h('h2', {}, 'Totals'),
        invoiceTotals(invoice),
        h('p', {}, h('a', { href: href(`/company/contracts/${invoice.contractId}`) }, 'Back to the contract')),
      );
    },
  },
];
