// Operators' tool for parked events (messages a service could not handle: invalid, or failing
// after every retry). Lists them with their reasons, shows one, and replays them into the
// service's queue once the cause is fixed.
//
//   make parked SERVICE=billing                          list (nothing is removed)
//   make parked SERVICE=billing ID=<message id>          show one in full
//   make replay-parked SERVICE=billing ID=<message id>   replay one ("ID=all" replays every one)
//
// Env: AMQP_URL (default amqp://guest:guest@127.0.0.1:5672), AMQP_PREFIX (default payspec).
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import amqplib, { type ConfirmChannel, type GetMessage } from 'amqplib';
import { HEADERS, topologyNames } from '../../services/common/events/event-bus.js';

export interface ParkedMessage {
  messageId: string;
  type: string;
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

/** Takes every parked message (unacknowledged), lets `decide` act on each, then returns the rest to the queue. */
async function withParked(
  url: string,
  prefix: string,
  service: string,
  decide: (channel: ConfirmChannel, names: ReturnType<typeof topologyNames>, message: GetMessage) => Promise<'keep' | 'done'>,
): Promise<ParkedMessage[]> {
  const connection = await amqplib.connect(url);
  connection.on('error', () => {});
  const seen: ParkedMessage[] = [];
  try {
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => {}); // reported through the failed call below
    const names = topologyNames(prefix, service, []);
    try {
      await channel.checkQueue(names.parking);
    } catch (err) {
      // 404: the queue was never declared (the service never consumed an event), so nothing was parked.
      if ((err as { code?: unknown }).code === 404) return seen;
      throw err;
    }
    const held: GetMessage[] = [];
    for (;;) {
      const message = await channel.get(names.parking, { noAck: false });
      if (!message) break;
      seen.push(describe(message));
      if ((await decide(channel, names, message)) === 'keep') held.push(message);
      else channel.ack(message);
    }
    await channel.waitForConfirms();
    for (const message of held) channel.nack(message, false, true);
    await channel.close();
  } finally {
    await connection.close();
  }
  return seen;
}

export function listParked(url: string, prefix: string, service: string): Promise<ParkedMessage[]> {
  return withParked(url, prefix, service, async () => 'keep');
}

/** Sends the chosen parked messages back to the service's queue with a fresh attempt count. */
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

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { service: { type: 'string' }, id: { type: 'string' } },
  });
  const command = positionals[0] ?? 'list';
  const service = values.service;
  if (!service || !['list', 'show', 'replay'].includes(command)) {
    console.error('usage: parked-events.ts list|show|replay --service NAME [--id MESSAGE_ID|all]');
    process.exit(2);
  }
  const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const prefix = process.env.AMQP_PREFIX ?? 'payspec';

  if (command === 'replay') {
    if (!values.id) throw new Error('replay needs --id MESSAGE_ID or --id all');
    const replayed = await replayParked(url, prefix, service, values.id);
    console.log(replayed.length > 0 ? `replayed ${replayed.length}: ${replayed.join(', ')}` : values.id === 'all' ? `nothing parked for ${service}` : `no parked message ${values.id} for ${service}`);
    return;
  }
  const parked = await listParked(url, prefix, service);
  if (parked.length === 0 && command === 'list') {
    console.log(`nothing parked for ${service}`);
    return;
  }
  if (command === 'show') {
    const one = parked.find((m) => m.messageId === values.id);
    if (!one) throw new Error(`no parked message ${values.id ?? '(give --id)'} for ${service}`);
    console.log(JSON.stringify({ ...one, body: tryJson(one.body) }, null, 2));
    return;
  }
  for (const m of parked) console.log(`${m.messageId}  ${m.type}  parked ${m.parkedAt} after ${m.attempts} attempt(s)\n    ${m.reason}`);
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
