// README.md's parts that come from the code, written between markers so they cannot drift:
//   <!-- generated:architecture -->  the mermaid diagram: services (services/registry.ts), their
//                                    HTTP calls (HTTP_CALLS below) and the events between them
//   <!-- generated:events -->        who publishes and who consumes each event
// Both event parts are read from specs/events.yaml (x-service of its send/receive operations).
// `make generate` rewrites them; `--check` (make check-generated) fails when README.md differs.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { SERVICES } from '../../services/registry.js';
import { type EventModel, readEvents } from '../codegen/events.js';
import type { JsonObject } from '../codegen/openapi-model.js';

const ROOT = new URL('../../', import.meta.url);
export const README = fileURLToPath(new URL('README.md', ROOT));
const EVENTS_SPEC = fileURLToPath(new URL('specs/events.yaml', ROOT));

/** Calls over HTTP between the platform's processes (the generated clients and callbacks in services/), by hand: no spec names them. */
const HTTP_CALLS: readonly [from: string, to: string, what: string][] = [
  ['payment-gateway', 'acquiring-bank', 'charges, refunds, direct debits'],
  ['acquiring-bank', 'payment-gateway', 'settlement callbacks'],
  ['voucher', 'payment-gateway', 'GET /me (phone number)'],
  ['voucher', 'voucher-provider', 'voucher requests'],
  ['voucher-provider', 'voucher', 'late codes (callbacks)'],
];

export function specEvents(): EventModel[] {
  return readEvents(parse(readFileSync(EVENTS_SPEC, 'utf8')) as JsonObject);
}

const nodeId = (service: string) => service.replace(/-/g, '_');
const isSimulator = (service: string) => SERVICES.find((s) => s.name === service)?.entry.startsWith('services/simulators/') ?? false;

export function architectureDiagram(events: EventModel[]): string {
  const node = (name: string) => {
    const entry = SERVICES.find((s) => s.name === name)!;
    return `    ${nodeId(name)}["${name}<br/>:${entry.instances?.map((i) => i.port).join(', :') ?? entry.port}"]`;
  };
  const lines = ['```mermaid', 'flowchart LR', '  clients(["browsers, merchants, operators"])', '  subgraph services [services]'];
  for (const s of SERVICES.filter((s) => !isSimulator(s.name))) lines.push(node(s.name));
  lines.push('  end', '  subgraph simulators [simulators]');
  for (const s of SERVICES.filter((s) => isSimulator(s.name))) lines.push(node(s.name));
  lines.push('  end');
  lines.push('  rabbitmq[("RabbitMQ<br/>payspec.events")]', '  mongodb[("MongoDB / FerretDB<br/>one database per service")]', '  smtp(["SMTP or .eml files"])');
  lines.push('  clients -->|"HTTP, bearer tokens"| services', '  services -.->|"state, outbox, inbox"| mongodb', '  invoice_mailer -->|"invoices"| smtp');
  for (const [from, to, what] of HTTP_CALLS) lines.push(`  ${nodeId(from)} -->|"${what}"| ${nodeId(to)}`);
  // One arrow per producer → consumer pair, labelled with the events it carries (they all pass through RabbitMQ).
  const flows = new Map<string, string[]>();
  for (const event of events)
    for (const producer of event.producers)
      for (const consumer of event.consumers) flows.set(`${producer}>${consumer}`, [...(flows.get(`${producer}>${consumer}`) ?? []), event.type]);
  for (const [pair, types] of flows) {
    const [producer, consumer] = pair.split('>') as [string, string];
    lines.push(`  ${nodeId(producer)} ==>|"${types.join('<br/>')}"| ${nodeId(consumer)}`);
  }
  const unconsumed = [...new Set(events.filter((e) => e.consumers.length === 0).flatMap((e) => e.producers))];
  for (const producer of unconsumed) {
    const types = events.filter((e) => e.consumers.length === 0 && e.producers.includes(producer)).map((e) => e.type);
    lines.push(`  ${nodeId(producer)} -.->|"${types.join('<br/>')}<br/>(no consumer yet)"| rabbitmq`);
  }
  lines.push('```');
  return lines.join('\n');
}

export function eventsTable(events: EventModel[]): string {
  const list = (names: string[]) => (names.length === 0 ? '— (none yet)' : names.join(', '));
  return [
    '| event (routing key) | published by | consumed by | what happened |',
    '|---|---|---|---|',
    ...events.map((e) => `| \`${e.type}\` | ${list(e.producers)} | ${list(e.consumers)} | ${e.title.replace(/\|/g, '\\|')} |`),
  ].join('\n');
}

/** The README with each generated part replaced; throws when a part's markers are missing. */
export function renderReadme(readme: string, events = specEvents()): string {
  const parts: Record<string, string> = { architecture: architectureDiagram(events), events: eventsTable(events) };
  let out = readme;
  for (const [name, body] of Object.entries(parts)) {
    const start = `<!-- generated:${name} (tools/docs/readme-tables.ts; make generate) -->`;
    const end = `<!-- /generated:${name} -->`;
    const from = out.indexOf(start);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`README.md: the markers of the generated part "${name}" are missing:\n${start}\n${end}`);
    out = `${out.slice(0, from + start.length)}\n${body}\n${out.slice(to)}`;
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const current = readFileSync(README, 'utf8');
  const wanted = renderReadme(current);
  if (process.argv.includes('--check')) {
    if (current !== wanted) {
      console.error('README.md: its generated parts (architecture diagram, events table) differ from specs/events.yaml and services/registry.ts; run `make generate`');
      process.exit(1);
    }
  } else if (current !== wanted) {
    writeFileSync(README, wanted);
    console.log('README.md: generated parts rewritten');
  }
}
