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
import { listParked, replayParked } from '../../services/common/events/parked-events.js';

export { type ParkedMessage, listParked, replayParked } from '../../services/common/events/parked-events.js';

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
