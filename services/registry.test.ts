// The registry of services (services/registry.ts) against everything else that lists them:
// each service's definition, the README's table, the spec files (docker-compose.yml:
// services/compose.test.ts).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { ServiceDefinition } from './common/bootstrap.js';
import { SERVICES, instancesOf } from './registry.js';

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
      expect(instancesOf(entry)[0]?.port, `${entry.name}: its first instance is on its default port`).to.equal(entry.port);
    }
    const instances = SERVICES.flatMap(instancesOf);
    expect(new Set(instances.map((i) => i.name)).size, 'instance names').to.equal(instances.length);
    expect(new Set(instances.map((i) => i.port)).size, 'instance ports').to.equal(instances.length);
  });

  it("matches the README's table of services", () => {
    const rows = read('README.md')
      .split('\n')
      .filter((line) => /^\| [a-z-]+ \| \d+ \| `specs\//.test(line))
      .map((line) => line.split('|').map((cell) => cell.trim()));
    expect(rows.map(([, name, port, spec]) => [name, Number(port), spec])).to.deep.equal(SERVICES.map((s) => [s.name, s.port, `\`${s.spec}\``]));
  });
});
