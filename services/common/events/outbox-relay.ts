// The outbox relay: publishes events that were written together with the state change that
// caused them (the same document, so no transaction is needed), then marks them published.
// A crash between the write and the publish loses nothing: the relay finds them on its next
// pass. A crash between publish and mark publishes again with the same event id, which
// consumers' inboxes skip.
import type { Logger } from 'pino';
import type { EventPayloads, EventType } from '../../../generated/events/types.js';
import type { EventMeta } from './cloud-event.js';
import type { EventBus } from './event-bus.js';

export interface OutboxMessage<T extends EventType = EventType> {
  /** The stored record's key, handed back to markPublished. */
  outboxId: string;
  type: T;
  data: EventPayloads[T];
  /** Must carry a stable `id`, so a republished event is recognised as the same one. */
  meta: EventMeta & { id: string };
}

/** Where a service keeps its unpublished events (usually the change records themselves). */
export interface OutboxStore {
  /** Unpublished events, oldest first. */
  pending(limit: number): Promise<OutboxMessage[]>;
  markPublished(outboxIds: string[]): Promise<void>;
}

export class OutboxRelay {
  private running = false;
  private wake?: () => void;
  /** A notify() that came while a pass was running: run another pass at once. */
  private notified = false;
  private loop?: Promise<void>;
  /** Events published since start (for tests and logs). */
  published = 0;

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
        // Published in order on one confirm channel; marked once all are confirmed.
        await Promise.all(batch.map((m) => this.bus.publish(m.type, m.data, m.meta)));
        if (batch.length > 0) await this.store.markPublished(batch.map((m) => m.outboxId));
        sent = batch.length;
        this.published += sent;
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
