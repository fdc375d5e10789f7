// The registry of services (services/registry.ts) against everything else that lists them:
// each service's definition, docker-compose.yml, the README's table, the spec files.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parse } from 'yaml';
import type { ServiceDefinition } from './common/bootstrap.js';
import { SERVICES } from './registry.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

describe('Service registry', () => {
  it("matches each service's own definition (name and default port) and names files that exist", async () => {
    for (const entry of SERVICES) {
      expect(existsSync(`${root}${entry.entry}`), entry.entry).to.equal(true);
      expect(existsSync(`${root}${entry.spec}`), entry.spec).to.equal(true);
      const module = (await import(`${root}${entry.entry}`)) as Record<string, unknown>;
      const definitions = Object.values(module).filter((v): v is ServiceDefinition => typeof v === 'object' && v !== null && 'defaultPort' in v);
      expect(definitions.map((d) => [d.name, d.defaultPort]), entry.entry).to.deep.equal([[entry.name, entry.port]]);
    }
  });

  it('matches docker-compose.yml: one service each, its SERVICE, PORT and published port', () => {
    const compose = parse(read('docker-compose.yml')) as { services: Record<string, { environment?: Record<string, unknown>; ports?: string[] }> };
    const infrastructure = new Set(['mongodb', 'rabbitmq', 'mailpit']);
    const listed = Object.keys(compose.services).filter((name) => !infrastructure.has(name));
    expect(listed.sort()).to.deep.equal(SERVICES.map((s) => s.name).sort());
    for (const entry of SERVICES) {
      const service = compose.services[entry.name]!;
      expect(service.environment?.SERVICE, entry.name).to.equal(entry.name);
      expect(Number(service.environment?.PORT), entry.name).to.equal(entry.port);
      expect(service.ports, entry.name).to.deep.equal([`${entry.port}:${entry.port}`]);
    }
  });

  it("matches the README's table of services", () => {
    const rows = read('README.md')
      .split('\n')
      .filter((line) => /^\| [a-z-]+ \| \d+ \| `specs\//.test(line))
      .map((line) => line.split('|').map((cell) => cell.trim()));
    expect(rows.map(([, name, port, spec]) => [name, Number(port), spec])).to.deep.equal(SERVICES.map((s) => [s.name, s.port, `\`${s.spec}\``]));
  });
});
