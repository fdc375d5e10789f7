// README.md's generated parts (tools/docs/readme-tables.ts) against the spec they come from: the
// events table and the architecture diagram must be what specs/events.yaml and the service
// registry say today, and the table is read back and compared with the generated event catalog.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { eventCatalog } from '../../generated/events/catalog.js';
import { README, renderReadme, specEvents } from './readme-tables.js';

const readme = () => readFileSync(README, 'utf8');

/** The rows of the README's events table: event → [publishers, consumers]. */
function readmeEventRows(text: string): Map<string, [string[], string[]]> {
  const part = /<!-- generated:events [^>]*-->([\s\S]*?)<!-- \/generated:events -->/.exec(text)?.[1] ?? '';
  const names = (cell: string) => (cell.trim().startsWith('—') ? [] : cell.split(',').map((s) => s.trim()));
  const rows = new Map<string, [string[], string[]]>();
  for (const line of part.split('\n')) {
    const cells = line.split('|').slice(1, -1);
    const type = /^\s*`([^`]+)`\s*$/.exec(cells[0] ?? '')?.[1];
    if (type) rows.set(type, [names(cells[1]!), names(cells[2]!)]);
  }
  return rows;
}

describe('README.md generated parts (tools/docs/readme-tables.ts)', () => {
  it('are what specs/events.yaml and services/registry.ts say (else: make generate)', () => {
    expect(readme() === renderReadme(readme()), 'README.md differs from what tools/docs/readme-tables.ts writes; run make generate').to.equal(true);
  });

  it('list who publishes and who consumes every event, as the generated catalog does', () => {
    const rows = readmeEventRows(readme());
    expect([...rows.keys()].sort()).to.deep.equal(Object.keys(eventCatalog).sort());
    for (const [type, event] of Object.entries(eventCatalog)) {
      expect(rows.get(type), type).to.deep.equal([[...event.producers], [...event.consumers]]);
    }
  });

  it('would change with the spec: another consumer shows in the table and the diagram', () => {
    const events = specEvents().map((e) => (e.type === 'payment.succeeded' ? { ...e, consumers: ['billing'] } : e));
    const changed = renderReadme(readme(), events);
    expect(readmeEventRows(changed).get('payment.succeeded')).to.deep.equal([['payment-gateway'], ['billing']]);
    expect(changed).to.match(/payment_gateway ==>\|"[^"]*payment\.succeeded[^"]*"\| billing/);
  });
});
