// An invoice's lines and totals, as customers and operators both see them (customer.ts, operator.ts).
import type { components } from '../../../../generated/billing/types';
import { facts, h, money, table } from '../ui';

type Invoice = components['schemas']['Invoice'];
type InvoiceLine = components['schemas']['InvoiceLine'];

/** A credited amount: "−€12.50". */
const credited = (minor: number, currency: string) => `−${money(minor, currency)}`;

/** The lines, each with its operation; refunds are credited. */
export function invoiceLines(invoice: Invoice): HTMLElement {
  const { currency } = invoice;
  return table<InvoiceLine>(
    'Invoice lines',
    [
      { label: 'Item', cell: (l) => l.label },
      { label: 'Kind', cell: (l) => l.kind },
      { label: 'Unit price', numeric: true, cell: (l) => money(l.unitPrice, currency) },
      { label: 'Quantity', numeric: true, cell: (l) => l.quantity },
      { label: 'Amount', numeric: true, cell: (l) => (l.kind === 'refund' ? credited(l.amount, currency) : money(l.amount, currency)) },
      { label: 'Operation', cell: (l) => h('code', {}, l.operationId) },
    ],
    invoice.lines,
    'No lines: only declined purchases this period.',
  );
}

/** Purchases, refunds, the net charged, and the purchases declined (not invoiced). */
export function invoiceTotals(invoice: Invoice): HTMLElement {
  const { currency, declined } = invoice;
  const totals = facts([
    ['Purchases', money(invoice.purchases, currency)],
    ['Refunds', invoice.refunds ? credited(invoice.refunds, currency) : money(0, currency)],
    ['Net', h('strong', {}, money(invoice.net, currency))],
    ['Declined (not invoiced)', declined.count ? `${declined.count} purchase${declined.count === 1 ? '' : 's'}, ${money(declined.amount, currency)}` : 'None'],
  ]);
  totals.classList.add('totals');
  return totals;
}
