// Billing's rules, free of HTTP and storage: whether a contract (as billing's read model holds
// it) accepts an operation, what an operation amounts to, which period a time falls in, and what
// a contract's invoice for a period says.
import type { Schemas } from '../../generated/billing/delegate.js';
import type { EventPayloads } from '../../generated/events/types.js';

export type OperationType = Schemas['OperationType'];
export type OperationStatus = Schemas['OperationStatus'];
export type ContractSnapshot = EventPayloads['contract.subscribed']['contract'];

/** Why an operation is refused (the 422's `code`). */
export type Refusal =
  | 'contract-not-active'
  | 'contract-expired'
  | 'mandate-invalid'
  | 'credit-limit-exceeded'
  | 'currency-mismatch'
  | 'refund-exceeds-purchase'
  | 'purchase-not-found'
  | 'purchase-not-authorized';

/** The day (UTC, `YYYY-MM-DD`) of an instant: contract and mandate dates are days. */
export const dayOf = (at: Date) => at.toISOString().slice(0, 10);
/** The billing period (a calendar month, UTC) of an instant. */
export const periodOf = (at: Date | string) => (typeof at === 'string' ? at : at.toISOString()).slice(0, 7);
/** The period before `period`. */
export function previousPeriod(period: string): string {
  const [year, month] = period.split('-').map(Number) as [number, number];
  return month === 1 ? `${year - 1}-12` : `${year}-${String(month - 1).padStart(2, '0')}`;
}

/** The period after `period`. */
export function nextPeriod(period: string): string {
  const [year, month] = period.split('-').map(Number) as [number, number];
  return month === 12 ? `${year + 1}-01` : `${year}-${String(month + 1).padStart(2, '0')}`;
}

/** The run of a period: one per period, so the period names it. */
export const runIdOf = (period: string) => `run_${period}`;

/**
 * Whether the contract accepts a new operation today, from its state alone (the credit limit
 * is decided on the ledger): undefined when it does, else the reason.
 */
export function contractRefusal(contract: ContractSnapshot, currency: string, now: Date): { code: Refusal; detail: string } | undefined {
  const today = dayOf(now);
  if (contract.status !== 'active') return { code: 'contract-not-active', detail: `The contract is ${contract.status}.` };
  if (today < contract.validFrom) return { code: 'contract-not-active', detail: `The contract starts on ${contract.validFrom}.` };
  if (today > contract.validTo) return { code: 'contract-expired', detail: `The contract ended on ${contract.validTo}.` };
  const { signedOn, expiresOn } = contract.mandate;
  if (signedOn > today) return { code: 'mandate-invalid', detail: `The direct-debit mandate is signed on ${signedOn}, after today.` };
  if (expiresOn !== undefined && expiresOn < today) return { code: 'mandate-invalid', detail: `The direct-debit mandate expired on ${expiresOn}.` };
  if (currency !== contract.currency) return { code: 'currency-mismatch', detail: `The contract is in ${contract.currency}, not ${currency}.` };
  return undefined;
}

/** An operation's amount: the sum of its items (unit price × quantity). */
export function amountOf(orders: Schemas['Order'][]): number {
  let total = 0;
  for (const order of orders) for (const item of order.items) total += item.unitPrice * item.quantity;
  return total;
}

/** Largest amount an operation may have (the API's Amount maximum). */
export const MAX_AMOUNT = 100_000_000_000_000;

/** Whether a purchase of `amount` fits under the limit given what is outstanding. */
export const withinLimit = (outstanding: number, amount: number, creditLimit: number) => outstanding + amount <= creditLimit;

/** What a refund may still take back from a purchase. */
export const refundable = (purchaseAmount: number, refundedSoFar: number) => Math.max(0, purchaseAmount - refundedSoFar);

export interface InvoiceableOperation {
  id: string;
  type: OperationType;
  status: OperationStatus;
  amount: number;
  orders: Schemas['Order'][];
}

export interface InvoiceFigures {
  lines: Schemas['InvoiceLine'][];
  purchases: number;
  refunds: number;
  net: number;
  declined: { count: number; amount: number };
  /** The operations on the lines (the declined ones are not). */
  operationIds: string[];
}

/**
 * A contract's invoice for a period from its operations there: one line per item of each
 * authorized operation (refunds credited), declined purchases counted apart; undefined when no
 * operation is invoiceable (no invoice is issued then).
 */
export function invoiceFigures(operations: Iterable<InvoiceableOperation>): InvoiceFigures | undefined {
  const figures: InvoiceFigures = { lines: [], purchases: 0, refunds: 0, net: 0, declined: { count: 0, amount: 0 }, operationIds: [] };
  for (const op of operations) {
    if (op.status === 'declined') {
      if (op.type === 'purchase') {
        figures.declined.count++;
        figures.declined.amount += op.amount;
      }
      continue;
    }
    if (op.status !== 'authorized') continue;
    figures.operationIds.push(op.id);
    for (const order of op.orders) {
      for (const item of order.items) {
        const amount = item.unitPrice * item.quantity;
        figures.lines.push({ operationId: op.id, kind: op.type, label: item.label, unitPrice: item.unitPrice, quantity: item.quantity, amount });
      }
    }
    if (op.type === 'purchase') figures.purchases += op.amount;
    else figures.refunds += op.amount;
  }
  if (figures.operationIds.length === 0) return undefined;
  figures.net = figures.purchases - figures.refunds;
  return figures;
}
