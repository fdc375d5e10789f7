// What the operator's journey sets up outside the browser: the APIs as the operator (generated
// clients, straight to each service), and a message no consumer can handle, published on the
// platform's exchange the way a broken producer would.
import { randomUUID } from 'node:crypto';
import amqplib from 'amqplib';
import { createBillingClient } from '../../../generated/billing/client.js';
import { createConsoleClient } from '../../../generated/console/client.js';
import { createContractClient } from '../../../generated/contract/client.js';
import { createInvoiceMailerClient } from '../../../generated/invoice-mailer/client.js';
import { topologyNames } from '../../common/events/event-bus.js';
import type { Platform } from '../../../tools/testing/platform.js';
import { AMQP_URL } from '../../../tools/testing/service-harness.js';

export function operatorApis(platform: Platform, token: string) {
  return {
    contracts: createContractClient({ baseUrl: platform.url('contract'), token }),
    billing: createBillingClient({ baseUrl: platform.url('billing'), token }),
    mailer: createInvoiceMailerClient({ baseUrl: platform.url('invoice-mailer'), token }),
    /** The console's own API (parked events). */
    operations: createConsoleClient({ baseUrl: platform.url('console'), token }),
  };
}

/**
 * Publishes a `type` event whose payload fails the event's schema to the exchange of `prefix` (a platform's),
 * with the properties the bus relies on (message id: what parked events are listed and replayed
 * by; type). Its consumers park it at once, without calling a handler. Answers the message id.
 */
export async function publishInvalidEvent(prefix: string, type: string, data: unknown): Promise<string> {
  const messageId = `evt_journey_${randomUUID().replace(/-/g, '')}`;
  const event = {
    specversion: '1.0',
    id: messageId,
    source: 'payspec/operator-journey',
    type,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    correlationid: `journey-${messageId}`,
    data,
  };
  const connection = await amqplib.connect(AMQP_URL);
  try {
    const channel = await connection.createConfirmChannel();
    channel.publish(topologyNames(prefix, 'operator-journey', []).exchange, type, Buffer.from(JSON.stringify(event)), {
      persistent: true,
      contentType: 'application/cloudevents+json',
      messageId,
      type,
      correlationId: event.correlationid,
    });
    await channel.waitForConfirms();
    await channel.close();
  } finally {
    await connection.close();
  }
  return messageId;
}
