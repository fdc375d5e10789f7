// The acquiring-bank simulator's own settings (the runtime's common ones are in
// services/common/config.ts). Each running instance is one bank; every value has a default that
// works locally, and an invalid one stops the start with the variable's name.
import { makeValidator, str } from 'envalid';
import { Webhook } from 'standardwebhooks';
import { delays, fraction, loadConfig, millisUpTo } from '../../common/config.js';

/** The dev key `make run` and the README use; set BANK_API_KEYS anywhere else. */
export const DEV_API_KEY = 'dev-bank-key';
/** A Standard Webhooks secret for local runs only (`whsec_` + base64 of 32 bytes). */
export const DEV_WEBHOOK_SECRET = 'whsec_ZGV2LWJhbmstd2ViaG9vay1zZWNyZXQtMzJieXRlcyE=';

const bankName = makeValidator<string>((value) => {
  if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(value)) throw new Error(`must be lowercase letters, digits and dashes (e.g. piggy-bank), got "${value}"`);
  return value;
});

const apiKeys = makeValidator<string[]>((value) => {
  const keys = value.split(',').map((k) => k.trim()).filter(Boolean);
  if (keys.length === 0) throw new Error('must name at least one key (comma-separated)');
  if (keys.some((k) => k.length < 8)) throw new Error('every key must have at least 8 characters');
  return keys;
});

const webhookSecret = makeValidator<string>((value) => {
  try {
    new Webhook(value); // base64 (with or without the whsec_ prefix), as Standard Webhooks secrets are
  } catch {
    throw new Error('must be a Standard Webhooks secret: whsec_ followed by base64 (make one: node -p "\'whsec_\'+crypto.randomBytes(32).toString(\'base64\')")');
  }
  if (Buffer.from(value.replace(/^whsec_/, ''), 'base64').length < 24) throw new Error('must hold at least 24 bytes (base64 after whsec_)');
  return value;
});


const millis = millisUpTo(3_600_000);


export function loadBankConfig(env: NodeJS.ProcessEnv) {
  return loadConfig(
    {
      BANK_NAME: bankName({ default: 'piggy-bank', desc: 'Which bank this instance is (ids, logs, the callbacks it signs)' }),
      BANK_API_KEYS: apiKeys({ default: [DEV_API_KEY], desc: 'Keys callers send in X-Api-Key, comma-separated' }),
      BANK_WEBHOOK_SECRET: webhookSecret({ default: DEV_WEBHOOK_SECRET, desc: 'Signs settlement callbacks (Standard Webhooks, HMAC-SHA256)' }),
      BANK_SETTLE_AFTER_MS: millis({ default: 2_000, desc: 'How long a pending charge (card 4000000000009995) stays pending' }),
      BANK_TIMEOUT_CARD_DELAY_MS: millis({ default: 10_000, desc: 'How long the bank takes to answer a charge of card 4000000000000341' }),
      BANK_CALLBACK_RETRY_DELAYS_MS: delays({ default: [1_000, 5_000, 15_000], desc: 'Delays before each new attempt at a settlement callback' }),
      BANK_LATENCY_MS: millis({ default: 0, desc: 'Added to every answer of the API' }),
      BANK_FAILURE_RATE: fraction({ default: 0, desc: 'Share of API requests answered with the failure mode instead (0: none, 1: all)' }),
      BANK_FAILURE_MODE: str({ choices: ['unavailable', 'garbage'], default: 'unavailable', desc: 'unavailable: 503 problem+json; garbage: 200 with a body that is not JSON' }),
    },
    env,
  );
}

export type BankConfig = ReturnType<typeof loadBankConfig>;
export type FailureMode = BankConfig['BANK_FAILURE_MODE'];
