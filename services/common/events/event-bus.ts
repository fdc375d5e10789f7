// The event bus every service shares, on RabbitMQ (amqplib through amqp-connection-manager,
// which reconnects with backoff and replays the channel setup).
//
// Topology (docs/architecture.md, events), all names under a prefix (`payspec`, or a test run's own):
//   <prefix>.events                    durable topic exchange; routing key = event type
//   <prefix>.<service>                 the service's durable quorum queue, bound to the types it handles
//   <prefix>.<service>.retry.<ms>ms    one delay queue per retry step: TTL, then dead-lettered back to the service queue
//   <prefix>.<service>.parking         where a message goes after its last retry, or at once when invalid
//
// Publishing waits for the broker's confirm; while disconnected, publishes wait (in memory) and
// are sent after reconnection (also those whose confirm the disconnection lost). Consuming acks
// manually, after the handler and the inbox record, on the channel the message came from (after
// a reconnect the broker redelivers what was unacked, and the inbox skips what was already handled).
import amqp, { type AmqpConnectionManager, type ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { eventCatalog } from '../../../generated/events/catalog.js';
import type { EventPayloads, EventType } from '../../../generated/events/types.js';
import { type CloudEvent, type EventMeta, cloudEvent } from './cloud-event.js';
import { eventProblem } from './event-schemas.js';
import type { EventMetrics } from '../metrics.js';
import type { Inbox } from './inbox.js';

export interface EventContext {
  /** The event's correlation id: pass it on to anything this handler publishes. */
  correlationId: string;
  /** This event's id: the causation id of anything the handler publishes. */
  causationId: string;
  /** 1 for the first delivery, then 2, 3… on retries. */
  attempt: number;
  log: Logger;
}

/** An event that fails its schema at publish: sending it again cannot succeed (the outbox parks it). */
export class EventRejected extends Error {
  override readonly name = 'EventRejected';
}

export type EventHandler<T extends EventType> = (event: CloudEvent<T>, ctx: EventContext) => Promise<void>;

export interface EventBusOptions {
  url: string;
  prefix: string;
  /** The service's name: its queue, and the events' `source`. */
  service: string;
  log: Logger;
  /** Records handled event ids; required when the service subscribes. */
  inbox?: Inbox;
  prefetch?: number;
  /** Delay before each retry of a failing handler; after the last, the message is parked. */
  retryDelaysMs?: number[];
  /** Counters for /metrics (services/common/metrics.ts createEventMetrics). */
  metrics?: EventMetrics;
}

/**
 * Deliveries a consumer holds at once. The inbox claims (and later records) the events in hand
 * with one insertMany per turn of the event loop, so more in hand is fewer round trips: measured
 * end to end (tools/bench/events.ts) 20 → ~1,000 events/s, 100 → ~3,100/s on this machine.
 */
export const DEFAULT_PREFETCH = 100;

/** Headers the bus sets on retried and parked messages. */
export const HEADERS = {
  attempt: 'x-payspec-attempt',
  lastError: 'x-payspec-last-error',
  parkedReason: 'x-payspec-parked-reason',
  parkedAt: 'x-payspec-parked-at',
  routingKey: 'x-payspec-routing-key',
} as const;

export function topologyNames(prefix: string, service: string, retryDelaysMs: number[]) {
  const queue = `${prefix}.${service}`;
  return {
    exchange: `${prefix}.events`,
    queue,
    parking: `${queue}.parking`,
    retries: retryDelaysMs.map((ms) => ({ ms, queue: `${queue}.retry.${ms}ms` })),
  };
}

export class EventBus {
  private readonly connection: AmqpConnectionManager;
  private readonly publisher: ChannelWrapper;
  private consumer?: ChannelWrapper;
  private readonly handlers = new Map<string, EventHandler<EventType>>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly names: ReturnType<typeof topologyNames>;
  private consuming = false;
  private closed = false;
  /** The current consumer: close() cancels it first, so in-flight handlers can still ack on its channel. */
  private delivery?: { channel: ConfirmChannel; consumerTag: string };

  constructor(private readonly options: EventBusOptions) {
    const retryDelaysMs = options.retryDelaysMs ?? [1_000, 5_000, 30_000];
    this.names = topologyNames(options.prefix, options.service, retryDelaysMs);
    this.connection = amqp.connect([options.url], {
      heartbeatIntervalInSeconds: 5,
      reconnectTimeInSeconds: 1,
      // Named, so operators (and tests) can find this service's connection in `rabbitmqctl list_connections`.
      connectionOptions: { clientProperties: { connection_name: `${options.prefix}.${options.service}` } },
    });
    this.connection.on('connect', () => options.log.info('connected to RabbitMQ'));
    this.connection.on('disconnect', ({ err }) => {
      if (!this.closed) options.log.warn({ err: err?.message }, 'disconnected from RabbitMQ; reconnecting');
    });
    this.publisher = this.connection.createChannel({
      name: `${options.service}-publisher`,
      confirm: true,
      setup: async (channel: ConfirmChannel) => {
        await channel.assertExchange(this.names.exchange, 'topic', { durable: true });
        // A topic exchange drops what no queue is bound to. The catalog names each event's
        // consumers, so the producer declares their queues too: an event published before its
        // consumer first starts waits in the consumer's queue instead of being lost.
        for (const [consumer, keys] of consumersOf(options.service)) {
          const queue = topologyNames(options.prefix, consumer, []).queue;
          await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
          for (const key of keys) await channel.bindQueue(queue, this.names.exchange, key);
        }
      },
    });
    // A failed channel setup is reported here (an unhandled 'error' event would end the process).
    this.publisher.on('error', (err: Error) => options.log.error({ err }, 'publisher channel setup failed; retrying on reconnection'));
  }

  get topology() {
    return this.names;
  }

  /** The service's event counters (the outbox relay counts what it parks here too). */
  get metrics(): EventMetrics | undefined {
    return this.options.metrics;
  }

  /** Publishes a validated event and resolves once the broker has confirmed it. */
  async publish<T extends EventType>(type: T, data: EventPayloads[T], meta: EventMeta): Promise<CloudEvent<T>> {
    const event = cloudEvent(this.options.service, type, data, meta);
    const problem = eventProblem(event);
    if (problem) throw new EventRejected(`refusing to publish ${type}: ${problem}`);
    const content = Buffer.from(JSON.stringify(event));
    const options = {
      persistent: true,
      contentType: 'application/cloudevents+json',
      messageId: event.id,
      type: event.type,
      correlationId: event.correlationid,
      timestamp: Math.floor(Date.parse(event.time) / 1000),
    };
    for (;;) {
      try {
        await this.publisher.publish(this.names.exchange, eventCatalog[type].routingKey, content, options);
        this.options.metrics?.published.inc({ type });
        return event;
      } catch (err) {
        // A publish sent but not yet confirmed when the connection drops fails with amqplib's
        // "channel closed": the broker may or may not have it. Send it again (it waits for the
        // reconnection); a copy that did arrive has the same id, and consumers' inboxes skip it.
        if (this.closed || !(err instanceof Error) || err.message !== 'channel closed') throw err;
        this.options.log.warn({ eventId: event.id, eventType: type }, 'connection lost before the confirm; publishing again');
      }
    }
  }

  /** Registers the handler of one event type; call before start(). One handler per type and service. */
  subscribe<T extends EventType>(type: T, handler: EventHandler<T>): void {
    if (this.consuming) throw new Error('subscribe() before start()');
    if (this.handlers.has(type)) throw new Error(`${type} already has a handler in ${this.options.service}`);
    if (!this.options.inbox) throw new Error('a subscribing bus needs an inbox');
    this.handlers.set(type, handler as unknown as EventHandler<EventType>);
  }

  /** Declares the service's queues and starts consuming (no-op without subscriptions). */
  async start(): Promise<void> {
    if (this.handlers.size === 0 || this.consuming) return;
    this.consuming = true;
    const { exchange, queue, parking, retries } = this.names;
    this.consumer = this.connection.createChannel({
      name: `${this.options.service}-consumer`,
      confirm: true,
      // Runs again on every reconnection: topology, then a consumer bound to this very channel.
      setup: async (channel: ConfirmChannel) => {
        await channel.assertExchange(exchange, 'topic', { durable: true });
        await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
        await channel.assertQueue(parking, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
        for (const retry of retries) {
          await channel.assertQueue(retry.queue, {
            durable: true,
            arguments: { 'x-message-ttl': retry.ms, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': queue },
          });
        }
        for (const type of this.handlers.keys()) await channel.bindQueue(queue, exchange, eventCatalog[type as EventType].routingKey);
        await channel.prefetch(this.options.prefetch ?? DEFAULT_PREFETCH);
        const { consumerTag } = await channel.consume(queue, (message) => {
          if (!message) return; // the broker cancelled the consumer; the next setup starts another
          const handling = this.handle(channel, message).finally(() => this.inFlight.delete(handling));
          this.inFlight.add(handling);
        });
        this.delivery = { channel, consumerTag };
      },
    });
    this.consumer.on('error', (err: Error) => this.options.log.error({ err }, 'consumer channel setup failed; retrying on reconnection'));
    await this.consumer.waitForConnect();
  }

  /**
   * Messages waiting in this service's parking queue (for /metrics), read with checkQueue on a
   * short-lived channel: a refusal closes that channel, never the consumer's. A service that
   * consumes nothing has no parking queue: 0.
   */
  async parkedDepth(): Promise<number> {
    if (!this.consumer) return 0;
    const connection = this.connection.connection;
    if (!connection) throw new Error('not connected to RabbitMQ');
    const channel = await connection.createChannel();
    channel.on('error', () => {}); // a refusal is reported by checkQueue's rejection
    try {
      return (await channel.checkQueue(this.names.parking)).messageCount;
    } finally {
      await channel.close().catch(() => {});
    }
  }

  /** Readiness: true while connected to the broker. */
  isConnected(): boolean {
    return this.connection.isConnected();
  }

  /** Stops consuming, lets in-flight handlers finish (and ack), then closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Cancel first and close the channel only after the handlers: closing it under them would
    // lose their acks, and the broker would redeliver every message they had just handled.
    // (Deliveries sent before the cancel-ok are already among inFlight when it resolves.)
    if (this.delivery) await this.delivery.channel.cancel(this.delivery.consumerTag).catch(() => {});
    await Promise.allSettled([...this.inFlight]);
    await this.consumer?.close().catch(() => {});
    await this.publisher.close().catch(() => {});
    await this.connection.close();
  }

  private async handle(channel: ConfirmChannel, message: ConsumeMessage): Promise<void> {
    const { log } = this.options;
    const headers = message.properties.headers ?? {};
    const attempt = Number(headers[HEADERS.attempt] ?? 1);
    let event: unknown;
    try {
      event = JSON.parse(message.content.toString('utf8'));
    } catch {
      return this.park(channel, message, 'malformed JSON');
    }
    const problem = eventProblem(event);
    if (problem) return this.park(channel, message, problem);
    const valid = event as CloudEvent;
    const handler = this.handlers.get(valid.type);
    if (!handler) return this.park(channel, message, `${this.options.service} has no handler for ${valid.type}`);

    const eventLog = log.child({ eventId: valid.id, eventType: valid.type, correlationId: valid.correlationid, attempt });
    const inbox = this.options.inbox!;
    try {
      const decision = await inbox.begin(valid.id, valid.type);
      if (decision === 'duplicate') {
        eventLog.debug('duplicate delivery skipped');
        this.count(valid.type, 'duplicate');
        return ack(channel, message);
      }
      if (decision === 'busy') {
        // Another consumer holds it (its lease is live): look again after the first retry delay,
        // without counting an attempt; the lease ends with that consumer's time-out at the latest.
        eventLog.debug('event being handled elsewhere; deferred');
        this.count(valid.type, 'deferred');
        return this.forward(channel, message, this.names.retries[0]?.queue ?? this.names.queue, {});
      }
      await withTimeout(handler(valid, { correlationId: valid.correlationid, causationId: valid.id, attempt, log: eventLog }), inbox.leaseMs);
      await inbox.complete(valid.id, valid.type);
      this.count(valid.type, 'handled');
      ack(channel, message);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      await inbox.release(valid.id).catch((releaseErr: unknown) => eventLog.warn({ err: releaseErr }, 'could not release the inbox claim; the retry waits for its lease'));
      const retry = this.names.retries[attempt - 1];
      if (!retry) {
        eventLog.error({ err }, 'event handler failed for the last time; parking the message');
        return this.park(channel, message, `handler failed ${attempt} times: ${reason}`);
      }
      eventLog.warn({ err, retryInMs: retry.ms }, 'event handler failed; retrying later');
      this.count(valid.type, 'retried');
      await this.forward(channel, message, retry.queue, { [HEADERS.attempt]: attempt + 1, [HEADERS.lastError]: reason.slice(0, 500) });
    }
  }

  /** Moves a message to the parking queue with the reason in its headers; its handler is never called. */
  private count(type: string, outcome: 'handled' | 'duplicate' | 'deferred' | 'retried' | 'parked'): void {
    this.options.metrics?.consumed.inc({ type, outcome });
  }

  private async park(channel: ConfirmChannel, message: ConsumeMessage, reason: string): Promise<void> {
    this.count(String(message.properties.type ?? message.fields.routingKey), 'parked');
    this.options.log.error({ reason: reason.slice(0, 500), messageId: message.properties.messageId }, 'message parked');
    await this.forward(channel, message, this.names.parking, {
      [HEADERS.parkedReason]: reason.slice(0, 1000),
      [HEADERS.parkedAt]: new Date().toISOString(),
    });
  }

  /** Sends a copy to `queue` (confirmed), then acks the original: at worst a duplicate, never a loss. */
  private async forward(channel: ConfirmChannel, message: ConsumeMessage, queue: string, extraHeaders: Record<string, unknown>): Promise<void> {
    try {
      await new Promise<void>((resolve, reject) => {
        channel.sendToQueue(
          queue,
          message.content,
          {
            ...message.properties,
            persistent: true,
            // A retried message comes back from its delay queue under the service queue's name:
            // keep the routing key it was first published with.
            headers: {
              ...message.properties.headers,
              [HEADERS.routingKey]: message.properties.headers?.[HEADERS.routingKey] ?? message.fields.routingKey,
              ...extraHeaders,
            },
          },
          (err) => (err ? reject(err) : resolve()),
        );
      });
      ack(channel, message);
    } catch (err) {
      // The channel went away: the broker will redeliver the original.
      this.options.log.warn({ err }, 'could not forward a message; it will be redelivered');
    }
  }
}

/** A handler that outlives its inbox lease fails (and is retried): another delivery may run it by then. */
async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`handler timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Consumer service → routing keys it receives, for the events `producer` publishes. */
export function consumersOf(producer: string): Map<string, string[]> {
  const consumers = new Map<string, string[]>();
  for (const { routingKey, producers, consumers: services } of Object.values(eventCatalog)) {
    if (!producers.includes(producer)) continue;
    for (const service of services) consumers.set(service, [...(consumers.get(service) ?? []), routingKey]);
  }
  return consumers;
}

function ack(channel: ConfirmChannel, message: ConsumeMessage): void {
  try {
    channel.ack(message);
  } catch {
    // The channel closed under us: the broker redelivers, and the inbox skips it.
  }
}
