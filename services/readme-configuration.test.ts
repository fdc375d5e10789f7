// README.md's configuration tables against the code: every variable a service validates at start
// (services/common/config.ts commonSpecs and each service's own settings) is in some table, and
// every variable a table names is one the code reads. services/configuration-variables.ts runs
// each service's settings steps on an environment that records which names are asked for, so a
// new variable is found without listing it here.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { SERVICE_SETTINGS, variablesUsedBy } from './configuration-variables.js';
import { SERVICES } from './registry.js';

/** Read by several services to refuse development keys in production; documented in prose, not a table. */
const OUTSIDE_TABLES = new Set(['NODE_ENV']);

/** The variables named in the first column of README.md's `| variable | … |` tables. */
function readmeVariables(): Set<string> {
  const names = new Set<string>();
  let inTable = false;
  for (const line of readFileSync(new URL('../README.md', import.meta.url), 'utf8').split('\n')) {
    if (/^\|\s*variable\s*\|/.test(line)) inTable = true;
    else if (!line.startsWith('|')) inTable = false;
    else if (inTable) for (const [, name] of (line.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(name!);
  }
  return names;
}

describe('README.md configuration tables', () => {
  const documented = readmeVariables();
  /** What each service validates at start (services/configuration-variables.ts): the common variables and its own. */
  const SERVICE_VARIABLES: Record<string, string[]> = {};
  before(async () => {
    for (const service of Object.keys(SERVICE_SETTINGS)) SERVICE_VARIABLES[service] = [...(await variablesUsedBy(service))];
  });

  it('finds the variables of every service of the registry (the recording environment works)', () => {
    expect(Object.keys(SERVICE_VARIABLES).sort(), 'services whose settings are known').to.deep.equal(SERVICES.map((s) => s.name).sort());
    for (const [service, names] of Object.entries(SERVICE_VARIABLES)) expect(names, service).to.include.members(['PORT', 'MONGO_URL']);
    expect(SERVICE_VARIABLES['payment-gateway']).to.include.members(['SIGNING_KEY', 'CARD_VAULT_KEY', 'MANDATE_SEAL_KEY', 'OPERATOR_PASSWORD']);
    expect(SERVICE_VARIABLES.billing).to.include.members(['AUTH_JWKS_URL', 'BILLING_SCHEDULE']);
  });

  it('lists every variable a service validates at start', () => {
    const missing = Object.entries(SERVICE_VARIABLES).flatMap(([service, names]) =>
      names.filter((name) => !OUTSIDE_TABLES.has(name) && !documented.has(name)).map((name) => `${name} (${service})`),
    );
    expect([...new Set(missing)], 'variables the code reads that no README table lists').to.deep.equal([]);
  });

  it('lists no variable the code does not read', () => {
    const known = new Set(Object.values(SERVICE_VARIABLES).flat());
    expect([...documented].filter((name) => !known.has(name)), 'README variables no service reads').to.deep.equal([]);
  });
});
