// Merchants: take a card payment, follow it until the bank settles it, page through payments
// with filters, open one with its status history, refund part of it (gateway's payments API).
import type { components } from '../../../../generated/payment-gateway/types';
import { actionKey, call, gateway } from '../api';
import { type Route, href, navigate } from '../router';
import { amountField, badge, dateTime, facts, form, h, money, notice, page, pager, table, whileShown } from '../ui';

type Payment = components['schemas']['Payment'];
type PaymentStatus = components['schemas']['PaymentStatus'];

const CURRENCIES = ['EUR', 'GBP', 'USD'].map((c) => ({ value: c, label: c }));
const STATUSES: PaymentStatus[] = ['pending', 'succeeded', 'failed', 'refunded'];
/** How often a pending payment is read again while its page is open. */
const SETTLE_POLL_MS = 1_000;

const TEST_CARDS = h(
  'details',
  { class: 'test-cards' },
  h('summary', {}, 'Test cards'),
  table(
    'Test cards',
    [
      { label: 'Number', cell: (r: [string, string]) => h('code', {}, r[0]) },
      { label: 'Answer', cell: (r: [string, string]) => r[1] },
    ],
    [
      ['4242 4242 4242 4242', 'succeeds'],
      ['4000 0000 0000 9995', 'pending, then settles: succeeds for an even amount in minor units, fails for an odd one'],
      ['4000 0000 0000 0002', 'declined: insufficient funds'],
      ['4000 0000 0000 0127', 'declined: do not honour'],
    ],
  ),
);

export const merchantRoutes: Route[] = [
  {
    path: '/payments/new',
    roles: ['merchant'],
    nav: 'Take a payment',
    render() {
      // One key per payment the merchant means to make: a retried click answers the same payment.
      const charge = actionKey();
      const year = new Date().getUTCFullYear();
      return page(
        'Take a payment',
        form({
          label: 'Card payment',
          submit: 'Charge card',
          fields: [
            { name: 'amount', label: 'Amount', required: true, inputmode: 'decimal', placeholder: '25.00' },
            { name: 'currency', label: 'Currency', type: 'select', options: CURRENCIES, value: 'EUR' },
            { name: 'reference', label: 'Your reference', required: true, placeholder: 'order-0001', hint: 'Your own order number; you can filter payments by it.' },
            { name: 'description', label: 'Description' },
            { name: 'card.number', label: 'Card number', required: true, inputmode: 'numeric', autocomplete: 'off' },
            { name: 'card.expiryMonth', label: 'Expiry month', type: 'number', required: true, value: '12' },
            { name: 'card.expiryYear', label: 'Expiry year', type: 'number', required: true, value: String(year + 2) },
            { name: 'card.cvv', label: 'CVV', required: true, inputmode: 'numeric', autocomplete: 'off' },
            { name: 'card.holderName', label: 'Cardholder name', required: true, autocomplete: 'off' },
          ],
          async onSubmit(values) {
            const currency = values.currency ?? 'EUR';
            const payment = await charge((key) =>
              call(
                gateway.POST('/payments', {
                  params: { header: { 'Idempotency-Key': key } },
                body: {
                  amount: amountField(values, 'amount', currency),
                  currency,
                  reference: values.reference ?? '',
                  ...(values.description ? { description: values.description } : {}),
                  card: {
                    number: values['card.number'] ?? '',
                    expiryMonth: Number(values['card.expiryMonth']),
                    expiryYear: Number(values['card.expiryYear']),
                    cvv: values['card.cvv'] ?? '',
                    holderName: values['card.holderName'] ?? '',
                  },
                },
                }),
              ),
            );
            navigate(`/payments/${payment.id}`);
          },
        }),
        TEST_CARDS.cloneNode(true),
      );
    },
  },
  {
    path: '/payments',
    roles: ['merchant'],
    nav: 'Payments',
    async render(_params, query) {
      const filters = { status: query.get('status') ?? undefined, currency: query.get('currency') ?? undefined, reference: query.get('reference') ?? undefined };
      const cursor = query.get('cursor') ?? undefined;
      const result = await call(
        gateway.GET('/payments', {
          params: { query: { ...filters, status: filters.status as PaymentStatus | undefined, limit: 20, ...(cursor ? { cursor } : {}) } },
        }),
      );
      const filter = form({
        label: 'Filter payments',
        submit: 'Filter',
        fields: [
          { name: 'status', label: 'Status', type: 'select', value: filters.status ?? '', options: [{ value: '', label: 'Any' }, ...STATUSES.map((s) => ({ value: s, label: s }))] },
          { name: 'currency', label: 'Currency', type: 'select', value: filters.currency ?? '', options: [{ value: '', label: 'Any' }, ...CURRENCIES] },
          { name: 'reference', label: 'Reference', value: filters.reference },
        ],
        async onSubmit(values) {
          navigate('/payments', { status: values.status, currency: values.currency, reference: values.reference });
        },
      });
      filter.classList.add('filters');
      return page(
        'Payments',
        filter,
        table<Payment>(
          'Payments',
          [
            { label: 'Payment', cell: (p) => h('a', { href: href(`/payments/${p.id}`) }, p.id) },
            { label: 'Status', cell: (p) => badge(p.status) },
            { label: 'Amount', numeric: true, cell: (p) => money(p.amount, p.currency) },
            { label: 'Refunded', numeric: true, cell: (p) => (p.refundedAmount ? money(p.refundedAmount, p.currency) : '—') },
            { label: 'Reference', cell: (p) => p.reference },
            { label: 'Card', cell: (p) => `${p.card.brand} •••• ${p.card.last4}` },
            { label: 'Created', cell: (p) => dateTime(p.createdAt) },
          ],
          result.data,
          'No payments match.',
        ),
        pager({ label: 'Payment pages', path: '/payments', query: filters, cursor, page: result }),
      );
    },
  },
  {
    path: '/payments/:paymentId',
    roles: ['merchant'],
    async render({ paymentId = '' }, query) {
      const refunded = /^(succeeded|failed|pending):(\d+)$/.exec(query.get('refunded') ?? '');
      const payment = await call(gateway.GET('/payments/{paymentId}', { params: { path: { paymentId } } }));
      const refundable = payment.amount - payment.refundedAmount;
      const refund = actionKey();
      const content = page(
        `Payment ${payment.id}`,
        payment.status === 'pending' ? notice('Waiting for the bank to settle this payment…') : null,
        refunded ? notice(`Refund of ${money(Number(refunded[2]), payment.currency)}: ${refunded[1]}.`, refunded[1] === 'failed' ? 'error' : 'info') : null,
        facts([
          ['Status', badge(payment.status)],
          ...(payment.failureReason ? ([['Failure reason', payment.failureReason]] as [string, string][]) : []),
          ['Amount', money(payment.amount, payment.currency)],
          ['Refunded', money(payment.refundedAmount, payment.currency)],
          ['Reference', payment.reference],
          ['Description', payment.description ?? '—'],
          ['Card', `${payment.card.brand} •••• ${payment.card.last4}, expires ${String(payment.card.expiryMonth).padStart(2, '0')}/${payment.card.expiryYear}`],
          ['Created', dateTime(payment.createdAt)],
        ]),
        h('h2', {}, 'Status history'),
        table(
          'Status history',
          [
            { label: 'Status', cell: (c: Payment['statusHistory'][number]) => badge(c.status) },
            { label: 'At', cell: (c) => dateTime(c.at) },
            { label: 'Reason', cell: (c) => c.reason ?? '' },
          ],
          payment.statusHistory,
        ),
        payment.status === 'succeeded' && refundable > 0
          ? [
              h('h2', {}, 'Refund'),
              h('p', {}, `Up to ${money(refundable, payment.currency)} can be refunded.`),
              form({
                label: 'Refund',
                submit: 'Refund',
                fields: [
                  { name: 'amount', label: 'Amount to refund', required: true, inputmode: 'decimal' },
                  { name: 'reason', label: 'Reason' },
                ],
                async onSubmit(values) {
                  const made = await refund((key) =>
                    call(
                      gateway.POST('/payments/{paymentId}/refunds', {
                        params: { path: { paymentId }, header: { 'Idempotency-Key': key } },
                        body: { amount: amountField(values, 'amount', payment.currency), ...(values.reason ? { reason: values.reason } : {}) },
                      }),
                    ),
                  );
                  navigate(`/payments/${paymentId}`, { refunded: `${made.status}:${made.amount}` });
                },
              }),
            ]
          : null,
        h('p', {}, h('a', { href: href('/payments') }, 'All payments')),
      );
      // Read it again until the bank settles it, while this page is shown.
      if (payment.status === 'pending') {
        whileShown(content, SETTLE_POLL_MS, async () => {
          navigate(`/payments/${paymentId}`);
          return false;
        });
      }
      return content;
    },
  },
];
