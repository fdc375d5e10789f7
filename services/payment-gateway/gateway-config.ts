// The payment gateway's own settings, beyond every service's (services/common/config.ts).
import { makeValidator, num, str } from 'envalid';
import { loadConfig } from '../common/config.js';
import { type KeyEncryptionKey, MAKE_A_KEK, parseKek, parseKeks } from './identity/key-encryption.js';
import type { SigningKeysOptions } from './identity/signing-keys.js';

/** The acquiring-bank simulator's development secret (services/simulators/acquiring-bank): local runs only. */
const DEV_BANK_WEBHOOK_SECRET = 'whsec_ZGV2LWJhbmstd2ViaG9vay1zZWNyZXQtMzJieXRlcyE=';

const keyEncryptionKey = makeValidator<KeyEncryptionKey>(parseKek);
const keyEncryptionKeys = makeValidator<KeyEncryptionKey[]>(parseKeks);

export function loadGatewayConfig(env: NodeJS.ProcessEnv) {
  return loadConfig(
    {
      SIGNING_KEY: str({ default: undefined, desc: 'ES256 private key as a JWK (JSON). Unset: one is generated on first start and kept in the database' }),
      SIGNING_KEY_ENCRYPTION_KEY: keyEncryptionKey({
        default: undefined,
        desc: `32 random bytes, base64 or base64url (${MAKE_A_KEK}): encrypts the private halves of generated signing keys in the database (AES-256-GCM). Required with NODE_ENV=production unless SIGNING_KEY is set`,
      }),
      SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS: keyEncryptionKeys({
        default: undefined,
        desc: 'Earlier SIGNING_KEY_ENCRYPTION_KEYs, comma-separated, when it changes: what they encrypted is re-encrypted under the current one at start',
      }),
      NODE_ENV: str({ default: undefined, desc: 'production: a generated signing key is never stored unencrypted (SIGNING_KEY_ENCRYPTION_KEY is required)' }),
      ACCESS_TOKEN_TTL_S: num({ default: 600, desc: 'Access token lifetime (10 minutes)' }),
      REFRESH_TOKEN_TTL_S: num({ default: 30 * 24 * 3600, desc: 'Refresh token lifetime unless used or revoked' }),
      OPERATOR_EMAIL: str({ default: undefined, desc: 'The first operator account, created at start when missing' }),
      OPERATOR_PASSWORD: str({ default: undefined, desc: 'Its password (12+ characters); needed with OPERATOR_EMAIL' }),
      SIGN_IN_MAX_FAILURES_PER_ACCOUNT: num({ default: 5 }),
      SIGN_IN_MAX_FAILURES_PER_CLIENT: num({ default: 20 }),
      SIGN_IN_WINDOW_S: num({ default: 15 * 60, desc: 'Window in which failed sign-ins are counted' }),
      SIGN_UP_MAX_PER_CLIENT: num({ default: 20, desc: 'Sign-ups (whatever their outcome) per client address in the window; 0: no limit' }),
      SIGN_UP_WINDOW_S: num({ default: 3600, desc: 'Window in which sign-ups are counted' }),
      ARGON2_MEMORY_KIB: num({ default: 19_456, desc: 'argon2id memory cost (OWASP minimum: 19 MiB)' }),
      ARGON2_TIME_COST: num({ default: 2 }),
      ACQUIRING_BANKS: str({
        default: 'piggy-bank=http://127.0.0.1:8090,acme-acquiring=http://127.0.0.1:8091',
        desc: "Each acquiring bank merchants may choose at sign-up, name=base URL, comma-separated (make run's simulators by default)",
      }),
      ACQUIRING_BANK_KEYS: str({ default: 'piggy-bank=dev-bank-key,acme-acquiring=dev-bank-key', desc: 'The API key each bank gave the gateway, name=key, comma-separated' }),
      BANK_WEBHOOK_SECRETS: str({
        default: `piggy-bank=${DEV_BANK_WEBHOOK_SECRET},acme-acquiring=${DEV_BANK_WEBHOOK_SECRET}`,
        desc: 'The Standard Webhooks secret (whsec_…) each bank signs its callbacks with, name=secret, comma-separated',
      }),
      BANK_TIMEOUT_MS: num({ default: 5_000, desc: 'How long a call to a bank may take; then the payment stays pending and is settled later' }),
      PAYMENTS_CALLBACK_BASE_URL: str({ default: undefined, desc: "The gateway's own base URL as the banks reach it, for their settlement callbacks; unset: pending payments are settled by asking the bank" }),
      PAYMENT_MAX_AMOUNT: num({ default: 100_000_000, desc: 'Largest single card payment, in minor units (1,000,000.00)' }),
      DIRECT_DEBIT_BANK: str({ default: 'piggy-bank', desc: "The bank (a name in ACQUIRING_BANKS) billing operations' direct debits are sent to" }),
    },
    env,
  );
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

/** How generated signing keys are kept at rest, from the settings. */
export function signingKeyEncryption(settings: GatewayConfig): NonNullable<SigningKeysOptions['encryption']> {
  return {
    ...(settings.SIGNING_KEY_ENCRYPTION_KEY ? { key: settings.SIGNING_KEY_ENCRYPTION_KEY } : {}),
    previous: settings.SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS ?? [],
    required: settings.NODE_ENV === 'production',
  };
}
