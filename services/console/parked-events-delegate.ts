// The Console API's parked events: the generated ParkedEventsDelegate, implemented over each
// consuming service's parking queue (services/common/events/parked-events.ts). Operators only
// (the spec's security, checked before a method runs).
import type { ParkedEventsDelegate, Schemas } from '../../generated/console/delegate.js';
import { type ParkedMessage, listParked, replayParked } from '../common/events/parked-events.js';
import { problem } from '../common/http/problem.js';

type ServiceName = Schemas['ServiceName'];
/** The services that consume events (the enum of specs/console.yaml, checked against the event catalog by a test). */
export const CONSUMING_SERVICES: readonly ServiceName[] = ['payment-gateway', 'billing', 'voucher', 'invoice-mailer'];

export interface ParkedEventsDeps {
  amqpUrl: string;
  amqpPrefix: string;
  clock: () => Date;
}

const brokerUnavailable = () => problem(503, 'broker-unavailable', 'RabbitMQ did not answer; nothing was changed.');

function toParkedEvent(service: ServiceName, message: ParkedMessage): Schemas['ParkedEvent'] {
  let event: Record<string, unknown> | string;
  try {
    const parsed: unknown = JSON.parse(message.body);
    event = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : message.body;
  } catch {
    event = message.body;
  }
  const { messageId, type, parkedAt, reason, attempts } = message;
  return { service, messageId, type, ...(parkedAt ? { parkedAt } : {}), reason, attempts: Math.max(1, attempts), event };
}

export function createParkedEventsDelegate({ amqpUrl, amqpPrefix, clock }: ParkedEventsDeps): ParkedEventsDelegate {
  return {
    async listParkedEvents({ query: { service, limit = 50 } }) {
      const services = service ? [service] : CONSUMING_SERVICES;
      try {
        const perService = await Promise.all(services.map(async (name) => ({ name, messages: await listParked(amqpUrl, amqpPrefix, name, limit) })));
        return {
          status: 200,
          body: {
            data: perService.flatMap(({ name, messages }) => messages.slice(0, limit).map((m) => toParkedEvent(name, m))),
            hasMore: perService.some(({ messages }) => messages.length > limit),
          },
        };
      } catch {
        return { status: 503, body: brokerUnavailable() };
      }
    },

    async replayParkedEvent({ path: { service, messageId } }) {
      // 'all' means every parked event to the replay tool; here only one event is ever replayed.
      if (messageId === 'all') return { status: 404, body: problem(404, 'parked-event-not-found', `No event ${messageId} is parked for ${service}.`) };
      let replayed: string[];
      try {
        replayed = await replayParked(amqpUrl, amqpPrefix, service, messageId);
      } catch {
        return { status: 503, body: brokerUnavailable() };
      }
      if (replayed.length === 0) return { status: 404, body: problem(404, 'parked-event-not-found', `No event ${messageId} is parked for ${service}.`) };
      return { status: 200, body: { service, messageId, replayedAt: clock().toISOString() } };
    },
  };
}
