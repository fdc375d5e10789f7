// What each service reads of its environment when it starts, for the tests that hold the
// documentation and the deployment to the code: README.md's configuration tables
// (services/readme-configuration.test.ts) and docker-compose.yml (services/compose.test.ts).
//
// A service checks its settings as it starts: the common ones (startService: commonSpecs, then
// the JWKS source when it verifies tokens), then its own in its main.ts's createApi. Here each
// service's createApi steps that read or refuse settings are taken again, in its order, up to
// where the service would touch its database: run on an environment, they accept it or throw as
// the service would at start. Two uses:
//   - variablesUsedBy: the names a service reads, found by running its steps on an environment
//     that records every name asked for (so a new variable is found without being listed here);
//   - checkStartupSettings: whether an environment (docker-compose.yml's, say) lets it start.
// A new service, or a new setting read outside a config loader, is added to SERVICE_SETTINGS.
import type { Db } from 'mongodb';
import { loadBillingConfig } from './billing/billing-config.js';
import { billingService } from './billing/main.js';
import type { ServiceDefinition } from './common/bootstrap.js';
import { commonSpecs, jwksSource, loadConfig } from './common/config.js';
import { createLogger } from './common/logger.js';
import { mandateSealSpecs, mandateSealer } from './common/sealed-values.js';
import { loadConsoleConfig } from './console/console-config.js';
import { consoleService } from './console/main.js';
import { contractService } from './contract/main.js';
import { invoiceMailerService } from './invoice-mailer/main.js';
import { loadMailerConfig } from './invoice-mailer/mailer-config.js';
import { loadGatewayConfig, signingKeyEncryption } from './payment-gateway/gateway-config.js';
import { type IdentityRepository, ensureFirstOperator } from './payment-gateway/identity/identity-repository.js';
import { SigningKeys } from './payment-gateway/identity/signing-keys.js';
import { paymentGatewayService } from './payment-gateway/main.js';
import { Banks, parseNamedList } from './payment-gateway/payments/bank-client.js';
import { parseVaultKeys } from './payment-gateway/payments/card-vault.js';
import { loadBankConfig } from './simulators/acquiring-bank/bank-config.js';
import { acquiringBankService } from './simulators/acquiring-bank/main.js';
import { voucherProviderService } from './simulators/voucher-provider/main.js';
import { loadProviderConfig } from './simulators/voucher-provider/provider-config.js';
import { voucherService } from './voucher/main.js';
import { loadVoucherConfig, secretsKeys } from './voucher/voucher-config.js';

/** One step of a service's start that reads its environment; throws (or rejects) on settings it refuses. */
export type SettingsStep = (env: NodeJS.ProcessEnv) => unknown;

export interface ServiceSettings {
  definition: ServiceDefinition;
  /** Its own steps, after the common ones, as its createApi takes them. */
  own: readonly SettingsStep[];
}

/** Thrown by the stand-in database: a step got as far as the service's first database call, so its settings passed. */
class ReachedTheDatabase extends Error {}

const reachTheDatabase = (): never => {
  throw new ReachedTheDatabase('the settings were accepted; the service would use its database now');
};

/** A database whose first use ends the step (`then` is left alone, so it is not mistaken for a promise). */
const STAND_IN_DATABASE = new Proxy({} as Db, {
  get: (_target, name) => (name === 'then' || typeof name === 'symbol' ? undefined : reachTheDatabase()),
});

/** Runs a step that goes on to the database: reaching it is success. */
async function untilTheDatabase(step: () => Promise<unknown>): Promise<void> {
  try {
    await step();
  } catch (err) {
    if (!(err instanceof ReachedTheDatabase)) throw err;
  }
}

const silent = createLogger('settings-check', 'silent');

const mandateSeal: SettingsStep = (env) => mandateSealer(loadConfig(mandateSealSpecs(), env), env);

/** Every service of services/registry.ts, by name: its definition and its own steps (its main.ts's createApi, in order). */
export const SERVICE_SETTINGS: Readonly<Record<string, ServiceSettings>> = {
  'payment-gateway': {
    definition: paymentGatewayService,
    own: [
      (env) => loadGatewayConfig(env),
      // Its signing key: SIGNING_KEY, or SIGNING_KEY_ENCRYPTION_KEY to store a generated one (required in production).
      (env) => {
        const settings = loadGatewayConfig(env);
        return untilTheDatabase(() =>
          SigningKeys.load(STAND_IN_DATABASE, settings.SIGNING_KEY, silent, { accessTokenTtlS: settings.ACCESS_TOKEN_TTL_S, encryption: signingKeyEncryption(settings) }),
        );
      },
      // The first operator: OPERATOR_EMAIL and OPERATOR_PASSWORD together (or neither), a password it accepts.
      (env) => {
        const users = { findByEmail: reachTheDatabase } as unknown as IdentityRepository;
        return untilTheDatabase(() => ensureFirstOperator(users, loadGatewayConfig(env), silent));
      },
      (env) => parseVaultKeys(env, { production: loadGatewayConfig(env).NODE_ENV === 'production' }),
      // The banks, and the one direct debits go to among them.
      (env) => {
        const settings = loadGatewayConfig(env);
        const banks = new Banks({
          urls: parseNamedList(settings.ACQUIRING_BANKS, 'ACQUIRING_BANKS'),
          apiKeys: parseNamedList(settings.ACQUIRING_BANK_KEYS, 'ACQUIRING_BANK_KEYS'),
          timeoutMs: settings.BANK_TIMEOUT_MS,
        });
        if (!banks.has(settings.DIRECT_DEBIT_BANK)) throw new Error(`DIRECT_DEBIT_BANK: no bank named ${settings.DIRECT_DEBIT_BANK} in ACQUIRING_BANKS`);
        parseNamedList(settings.BANK_WEBHOOK_SECRETS, 'BANK_WEBHOOK_SECRETS');
      },
      mandateSeal,
    ],
  },
  contract: { definition: contractService, own: [mandateSeal] },
  billing: { definition: billingService, own: [(env) => loadBillingConfig(env)] },
  voucher: {
    definition: voucherService,
    own: [
      (env) => loadVoucherConfig(env),
      (env) => secretsKeys(loadVoucherConfig(env), env),
      (env) => {
        const settings = loadVoucherConfig(env);
        if (settings.SMS_SENDER === 'http' && !settings.SMS_HTTP_URL) throw new Error('Invalid configuration:\n  SMS_HTTP_URL: set it when SMS_SENDER=http');
      },
    ],
  },
  'invoice-mailer': { definition: invoiceMailerService, own: [(env) => loadMailerConfig(env)] },
  // Where each API it passes /api/<service>/… to runs. (In production it serves the bundle the image built.)
  console: { definition: consoleService, own: [(env) => loadConsoleConfig(env)] },
  'acquiring-bank': { definition: acquiringBankService, own: [(env) => loadBankConfig(env)] },
  'voucher-provider': { definition: voucherProviderService, own: [(env) => loadProviderConfig(env)] },
};

function settingsOf(service: string): ServiceSettings {
  const settings = SERVICE_SETTINGS[service];
  if (!settings) throw new Error(`${service}: not in SERVICE_SETTINGS (services/configuration-variables.ts); add its definition and its settings steps`);
  return settings;
}

/** Its spec takes bearer tokens (the gateway verifies them with its own keys, the others against AUTH_JWKS_*). */
export function takesBearerTokens(definition: ServiceDefinition): boolean {
  return 'bearerAuth' in ((definition.spec as { components?: { securitySchemes?: object } }).components?.securitySchemes ?? {});
}

/** It verifies bearer tokens against the issuer's JWKS (AUTH_JWKS_URL / AUTH_JWKS / AUTH_JWKS_FILE), as startService decides. */
export function verifiesTokens(definition: ServiceDefinition): boolean {
  return takesBearerTokens(definition) && !definition.issuesTokens;
}

/** Every step of a service's start that reads its environment: the common settings, then its own. */
export function startupSteps(service: string): SettingsStep[] {
  const { definition, own } = settingsOf(service);
  const common: SettingsStep = (env) => {
    const config = loadConfig(commonSpecs(definition.name, definition.defaultPort), env);
    if (verifiesTokens(definition)) jwksSource(config);
    return config;
  };
  return [common, ...own];
}

/** Resolves when the service would start on `env` (as far as its settings go), rejects with its reason when not. */
export async function checkStartupSettings(service: string, env: NodeJS.ProcessEnv): Promise<void> {
  for (const step of startupSteps(service)) await step(env);
}

/** The names `step` reads from its environment (an empty one: a step that then refuses a missing value has still asked for every name). */
export async function variablesRead(step: SettingsStep): Promise<string[]> {
  const read = new Set<string>();
  const env = new Proxy({} as NodeJS.ProcessEnv, {
    get(_target, name) {
      if (typeof name === 'string' && /^[A-Z][A-Z0-9_]*$/.test(name)) read.add(name);
      return undefined;
    },
  });
  try {
    await step(env);
  } catch {
    // Required values are missing on purpose: the names asked for are what counts.
  }
  return [...read];
}

/** Common settings a service reads but has no use for: token settings, unless it takes tokens. */
function unusedCommonVariables(definition: ServiceDefinition): string[] {
  return [
    ...(verifiesTokens(definition) ? [] : ['AUTH_JWKS_URL', 'AUTH_JWKS', 'AUTH_JWKS_FILE']),
    ...(takesBearerTokens(definition) ? [] : ['AUTH_ISSUER', 'AUTH_AUDIENCE']),
  ];
}

/** Every variable the service reads at start and acts on. */
export async function variablesUsedBy(service: string): Promise<Set<string>> {
  const names = new Set((await Promise.all(startupSteps(service).map(variablesRead))).flat());
  for (const unused of unusedCommonVariables(settingsOf(service).definition)) names.delete(unused);
  return names;
}
