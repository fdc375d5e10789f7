// The outbox relay: publishes what a service's outbox (services/common/events/outbox.ts) owes
// the bus, then acknowledges each event to the outbox. A crash between publish and acknowledge
// publishes again with the same event id, which consumers' inboxes skip.
//
// Each event is published and acknowledged on its own: one the bus refuses (it fails its
// schema) is parked in the outbox with the reason and counted, and the others flow on; a broker
// failure stops the pass and retries after a growing delay.
import type { Logger } from 'pino';
import { EventRejected, type EventBus } from './event-bus.js';
import type { OutboxStore } from './outbox.js';

export type { OutboxMessage, OutboxStore } from './outbox.js';

export class OutboxRelay {
  private running = false;
  private wake?: () => void;
  /** A notify() that came while a pass was running: run another pass at once. */
  private notified = false;
  private loop?: Promise<void>;
  /** Events published since start (for tests and logs). */
  published = 0;
  /** Events the bus refused and the outbox parked since start. */
  parked = 0;

  constructor(
    private readonly bus: EventBus,
    private readonly store: OutboxStore,
    private readonly log: Logger,
    private readonly options: { pollIntervalMs?: number; batchSize?: number } = {},
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Call after writing an event, so it goes out now rather than at the next poll. */
  notify(): void {
    this.notified = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const batchSize = this.options.batchSize ?? 100;
    let failures = 0;
    while (this.running) {
      let sent = 0;
      this.notified = false;
      try {
        const batch = await this.store.pending(batchSize);
        // Sent together on one confirm channel (in order); each settles on its own.
        const outcomes = await Promise.allSettled(batch.map((m) => this.bus.publish(m.type, m.data, m.meta)));
        const confirmed: string[] = [];
        let brokerError: unknown;
        for (const [i, outcome] of outcomes.entries()) {
          const message = batch[i]!;
          if (outcome.status === 'fulfilled') confirmed.push(message.outboxId);
          else if (outcome.reason instanceof EventRejected) {
            await this.store.park(message.outboxId, outcome.reason.message);
            this.parked++;
            this.bus.metrics?.outboxParked.inc({ type: message.type });
            this.log.error({ outboxId: message.outboxId, eventType: message.type, reason: outcome.reason.message }, 'event refused by its schema; parked in the outbox');
          } else brokerError ??= outcome.reason;
        }
        if (confirmed.length > 0) await this.store.markPublished(confirmed);
        sent = batch.length;
        this.published += confirmed.length;
        if (brokerError !== undefined) throw brokerError;
        failures = 0;
      } catch (err) {
        failures++;
        this.log.warn({ err, failures }, 'outbox relay failed; retrying');
      }
      if (sent === batchSize || (this.notified && failures === 0)) continue; // more may be waiting
      const delay = failures > 0 ? Math.min(30_000, 500 * 2 ** failures) : (this.options.pollIntervalMs ?? 1_000);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}
