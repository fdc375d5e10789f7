// README.md's configuration tables against the code: every variable a service validates at start
// (services/common/config.ts commonSpecs and each service's own loader) is in some table, and
// every variable a table names is one the code reads. Each loader is run on an environment that
// records which names are asked for, so a new variable is found without listing it here.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { loadBillingConfig } from './billing/billing-config.js';
import { commonSpecs } from './common/config.js';
import { mandateSealSpecs } from './common/sealed-values.js';
import { loadMailerConfig } from './invoice-mailer/mailer-config.js';
import { loadGatewayConfig } from './payment-gateway/gateway-config.js';
import { parseVaultKeys } from './payment-gateway/payments/card-vault.js';
import { loadBankConfig } from './simulators/acquiring-bank/bank-config.js';
import { loadProviderConfig } from './simulators/voucher-provider/provider-config.js';
import { loadVoucherConfig } from './voucher/voucher-config.js';

/** The names `load` reads from its environment (an empty one: a loader that then refuses a missing value has still asked for every name). */
function variablesRead(load: (env: NodeJS.ProcessEnv) => unknown): string[] {
  const read = new Set<string>();
  const env = new Proxy({} as NodeJS.ProcessEnv, {
    get(_target, name) {
      if (typeof name === 'string' && /^[A-Z][A-Z0-9_]*$/.test(name)) read.add(name);
      return undefined;
    },
  });
  try {
    load(env);
  } catch {
    // Required values are missing on purpose: the names asked for are what counts.
  }
  return [...read];
}

/** What each service validates when it starts, beyond the common variables. */
const SERVICE_VARIABLES: Record<string, string[]> = {
  common: Object.keys(commonSpecs('any', 1)),
  'payment-gateway': [
    ...variablesRead(loadGatewayConfig),
    ...variablesRead((env) => parseVaultKeys(env, { production: false })),
    ...Object.keys(mandateSealSpecs()),
  ],
  contract: Object.keys(mandateSealSpecs()),
  billing: variablesRead(loadBillingConfig),
  voucher: variablesRead(loadVoucherConfig),
  'invoice-mailer': variablesRead(loadMailerConfig),
  'acquiring-bank': variablesRead(loadBankConfig),
  'voucher-provider': variablesRead(loadProviderConfig),
};

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

  it('finds the variables of every loader (the recording environment works)', () => {
    for (const [service, names] of Object.entries(SERVICE_VARIABLES)) expect(names, service).to.not.have.lengthOf(0);
    expect(SERVICE_VARIABLES['payment-gateway']).to.include.members(['SIGNING_KEY', 'CARD_VAULT_KEY', 'MANDATE_SEAL_KEY']);
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
