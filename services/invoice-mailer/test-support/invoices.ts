// Test support: billing.invoice-issued events as billing publishes them (through the EventBus,
// as the producer `billing`), with fresh ids.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { EventPayloads } from '../../../generated/events/types.js';
import { EventBus } from '../../common/events/event-bus.js';
import { newId } from '../../common/ids.js';
import { AMQP_PREFIX, AMQP_URL } from '../../../tools/testing/service-harness.js';

export type InvoiceIssued = EventPayloads['billing.invoice-issued'];

export function issuedInvoice(overrides: Partial<InvoiceIssued> = {}): InvoiceIssued {
  return {
    invoiceId: newId('inv'),
    contractId: newId('ctr'),
    period: '2026-11',
    customer: { id: 'cust-acme-001', name: 'ACME <Works> & "Council"', billingEmail: `accounts-${randomUUID().slice(0, 8)}@acme.example` },
    currency: 'EUR',
    lines: [
      { operationId: newId('op'), kind: 'purchase', label: 'Gift cards <b>x</b>', unitPrice: 2_500, quantity: 4, amount: 10_000 },
      { operationId: newId('op'), kind: 'purchase', label: 'Cinema tickets', unitPrice: 1_234, quantity: 1, amount: 1_234 },
      { operationId: newId('op'), kind: 'refund', label: 'Cinema tickets', unitPrice: 1_234, quantity: 1, amount: 1_234 },
    ],
    purchases: 11_234,
    refunds: 1_234,
    net: 10_000,
    declined: { count: 1, amount: 500 },
    issuedAt: '2026-12-01T02:00:00.000Z',
    ...overrides,
  };
}

/** Publishes as billing would (the outbox gives each invoice one event id; pass it to redeliver). */
export async function startBillingPublisher(prefix = AMQP_PREFIX) {
  const bus = new EventBus({ url: AMQP_URL, prefix, service: 'billing', log: pino({ level: 'silent' }) });
  await bus.start();
  return {
    publish: (invoice: InvoiceIssued, eventId = `billing.invoice-issued:${invoice.invoiceId}`) =>
      bus.publish('billing.invoice-issued', invoice, { id: eventId, correlationId: `corr-${invoice.invoiceId}` }),
    close: () => bus.close(),
  };
}
