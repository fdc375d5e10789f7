// Parked events: the messages a service could not handle (invalid, or failing after every retry),
// kept in its parking queue. Operators list them and replay them once the cause is fixed — with
// `make parked` / `make replay-parked` (tools/ops/parked-events.ts) or from the console
// (services/console). Reading a queue takes its messages without acknowledging them and returns
// them afterwards, so listing removes nothing.
import amqplib, { type ConfirmChannel, type GetMessage } from 'amqplib';
import { HEADERS, topologyNames } from './event-bus.js';

export interface ParkedMessage {
  messageId: string;
  type: string;
  /** ISO time; empty for a message parked before the bus recorded it. */
  parkedAt: string;
  reason: string;
  attempts: number;
  body: string;
}

function describe(message: GetMessage): ParkedMessage {
  const headers = message.properties.headers ?? {};
  return {
    messageId: String(message.properties.messageId ?? '(none)'),
    type: String(message.properties.type ?? headers[HEADERS.routingKey] ?? '(unknown)'),
    parkedAt: String(headers[HEADERS.parkedAt] ?? ''),
    reason: String(headers[HEADERS.parkedReason] ?? ''),
    attempts: Number(headers[HEADERS.attempt] ?? 1),
    body: message.content.toString('utf8'),
  };
}

type Decision = 'keep' | 'done' | 'stop';

/**
 * Takes parked messages (unacknowledged) one by one and lets `decide` act on each — 'keep' it,
 * 'done' with it (acknowledged: it leaves the queue), or 'stop' reading (it is kept) — then
 * returns the kept ones to the queue.
 */
async function withParked(
  url: string,
  prefix: string,
  service: string,
  decide: (channel: ConfirmChannel, names: ReturnType<typeof topologyNames>, message: GetMessage) => Promise<Decision>,
): Promise<ParkedMessage[]> {
  const connection = await amqplib.connect(url);
  connection.on('error', () => {});
  const seen: ParkedMessage[] = [];
  try {
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => {}); // reported through the failed call below
    const names = topologyNames(prefix, service, []);
    let waiting: number;
    try {
      ({ messageCount: waiting } = await channel.checkQueue(names.parking));
    } catch (err) {
      // 404: the queue was never declared (the service never consumed an event), so nothing was parked.
      if ((err as { code?: unknown }).code === 404) return seen;
      throw err;
    }
    const held: GetMessage[] = [];
    // Only the messages parked when this began: a replayed message its service parks again at
    // once (an invalid one) comes back behind them, and would be taken and replayed again, and again.
    for (let read = 0; read < waiting; read++) {
      const message = await channel.get(names.parking, { noAck: false });
      if (!message) break;
      seen.push(describe(message));
      const decision = await decide(channel, names, message);
      if (decision === 'done') channel.ack(message);
      else held.push(message);
      if (decision === 'stop') break;
    }
    await channel.waitForConfirms();
    for (const message of held) channel.nack(message, false, true);
    await channel.close();
  } finally {
    await connection.close();
  }
  return seen;
}

/** The service's parked messages, oldest first; with `limit`, at most limit + 1 of them (the extra one says there are more). */
export function listParked(url: string, prefix: string, service: string, limit = Infinity): Promise<ParkedMessage[]> {
  let count = 0;
  return withParked(url, prefix, service, async () => (++count > limit ? 'stop' : 'keep'));
}

/** Sends the chosen parked messages back to the service's queue with a fresh attempt count; the ids replayed. */
export async function replayParked(url: string, prefix: string, service: string, id: string | 'all'): Promise<string[]> {
  const replayed: string[] = [];
  await withParked(url, prefix, service, async (channel, names, message) => {
    if (id !== 'all' && message.properties.messageId !== id) return 'keep';
    const headers = { ...message.properties.headers };
    for (const header of [HEADERS.attempt, HEADERS.lastError, HEADERS.parkedAt, HEADERS.parkedReason]) delete headers[header];
    await new Promise<void>((resolve, reject) =>
      channel.sendToQueue(names.queue, message.content, { ...message.properties, headers, persistent: true }, (err) => (err ? reject(err) : resolve())),
    );
    replayed.push(String(message.properties.messageId));
    return 'done';
  });
  return replayed;
}
