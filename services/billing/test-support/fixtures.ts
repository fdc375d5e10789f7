// What billing's tests publish in the other services' place: contract events (as the contract
// service would, the IBAN sealed under the development key), payment answers (as the gateway),
// sent invoices (as the mailer) — through real buses on the test run's exchange.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { EventPayloads, EventType } from '../../../generated/events/types.js';
import { EventBus } from '../../common/events/event-bus.js';
import { newId } from '../../common/ids.js';
import { mandateSealer } from '../../common/sealed-values.js';
import { AMQP_PREFIX, AMQP_URL } from '../../../tools/testing/service-harness.js';

export type ContractChanged = EventPayloads['contract.subscribed'];
export type ContractSnapshot = ContractChanged['contract'];

const DAY = 86_400_000;
/** `YYYY-MM-DD`, `days` from today (UTC). */
export const day = (days = 0) => new Date(Date.now() + days * DAY).toISOString().slice(0, 10);

export const VALID_IBAN = 'FR7630006000011234567890189';
let sealedIban: Promise<string> | undefined;
export const sealed = () => (sealedIban ??= mandateSealer({}, {}).sealer.seal(VALID_IBAN, 'iban'));

/** A contract as the contract service shows it: active, valid from a month ago to a month ahead, EUR. */
export function snapshot(overrides: Partial<ContractSnapshot> = {}): ContractSnapshot {
  const at = new Date().toISOString();
  return {
    id: newId('ctr'),
    customer: { id: 'cust-acme', name: 'ACME Works Council', billingEmail: 'accounts@acme.example', userId: newId('usr') },
    status: 'active',
    validFrom: day(-30),
    validTo: day(30),
    currency: 'EUR',
    creditLimit: 100_000,
    mandate: { reference: 'ACME-MANDATE-1', ibanMasked: 'FR76 **** **** **** **** ***0 189', signedOn: day(-40) },
    version: 1,
    createdAt: at,
    updatedAt: at,
    ...overrides,
  };
}

export interface Publishers {
  contract(type: EventType & `contract.${string}`, contract: ContractSnapshot, meta?: { id?: string }): Promise<{ publishedAt: number; eventId: string }>;
  gateway(type: 'payment.authorized' | 'payment.declined', data: EventPayloads['payment.authorized']): Promise<void>;
  mailer(data: EventPayloads['mail.invoice-sent'], eventId?: string): Promise<void>;
  close(): Promise<void>;
}

/** Buses publishing as contract, payment-gateway and invoice-mailer (each declares its consumers' queues, billing's among them). */
export function publishers(prefix = AMQP_PREFIX): Publishers {
  const bus = (service: string) => new EventBus({ url: AMQP_URL, prefix, service, log: pino({ level: 'silent' }) });
  const contract = bus('contract');
  const gateway = bus('payment-gateway');
  const mailer = bus('invoice-mailer');
  return {
    async contract(type, snap, meta = {}) {
      const eventId = meta.id ?? `${snap.id}:${String(snap.version).padStart(12, '0')}`;
      const data: ContractChanged = { contractId: snap.id, version: snap.version, at: snap.updatedAt, actor: 'op-test', contract: snap, mandateIbanSealed: await sealed() };
      const publishedAt = Date.now();
      await contract.publish(type, data, { id: eventId, correlationId: eventId });
      return { publishedAt, eventId };
    },
    async gateway(type, data) {
      await gateway.publish(type, data, { id: `${data.operationId}:${type}`, correlationId: data.operationId });
    },
    async mailer(data, eventId = `${data.invoiceId}:sent`) {
      await mailer.publish('mail.invoice-sent', data, { id: eventId, correlationId: data.invoiceId });
    },
    async close() {
      await Promise.all([contract.close(), gateway.close(), mailer.close()]);
    },
  };
}

/** One order of `count` items at `unitPrice` each (quantity 1). */
export const orders = (unitPrice: number, count = 1, label = 'Paris–Lyon return') => [
  { reference: `order-${randomUUID().slice(0, 8)}`, items: Array.from({ length: count }, (_, i) => ({ label: `${label} #${i + 1}`, unitPrice, quantity: 1 })) },
];
