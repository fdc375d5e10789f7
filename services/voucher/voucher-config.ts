// The voucher service's own settings (the runtime's common ones are in services/common/config.ts).
// Every value has a default that works locally; an invalid one stops the start with its name.
import { makeValidator, str, url } from 'envalid';
import { loadConfig, millisUpTo, originList } from '../common/config.js';
import { MAKE_A_KEY, type SecretKey, parseSecretKey, parseSecretKeys } from '../common/secret-keys.js';

const LABEL = 'payspec voucher webhook secret key id';
/** The development key for webhook secrets at rest when VOUCHER_SECRETS_KEY is unset; refused with NODE_ENV=production. */
export const DEV_SECRETS_KEY = 'ZGV2LXZvdWNoZXItd2ViaG9vay1zZWNyZXRzLWtleSE';

const millis = millisUpTo(86_400_000);

const positive = makeValidator<number>((value) => {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 100) throw new Error(`must be a whole number from 1 to 100, got "${value}"`);
  return n;
});

/** Origins (scheme://host:port) whose callback URLs skip the address check: a receiver inside the network, or a test's. */
const origins = makeValidator<string[]>((value) => originList(value, 'comma-separated origins like http://10.0.0.5:9000'));

const secretKey = makeValidator<SecretKey>((value) => parseSecretKey(value, LABEL, 'vwk'));
const secretKeys = makeValidator<SecretKey[]>((value) => parseSecretKeys(value, LABEL, 'vwk'));

export function loadVoucherConfig(env: NodeJS.ProcessEnv) {
  return loadConfig(
    {
      IDENTITY_URL: url({ default: 'http://127.0.0.1:8080', desc: "The payment gateway (identity): the caller's phone number comes from its /me" }),
      VOUCHER_PROVIDER_URL: url({ default: 'http://127.0.0.1:8092', desc: 'The voucher provider' }),
      VOUCHER_PROVIDER_API_KEY: str({ default: 'dev-voucher-provider-key', desc: 'The key the provider gave us (X-Api-Key)' }),
      VOUCHER_PROVIDER_CALLBACK_URL: url({ default: 'http://127.0.0.1:8083/provider-callbacks', desc: 'Where the provider POSTs late codes (this service, as the provider reaches it)' }),
      VOUCHER_PROVIDER_WAIT_MS: millis({ default: 3_000, desc: 'How long the worker waits for the provider to answer (the seed: 3 s)' }),
      VOUCHER_DEADLINE_MS: millis({ default: 120_000, desc: 'A request without a code this long after it was made fails (voucher.failed)' }),
      WEBHOOK_MAX_ATTEMPTS: positive({ default: 8, desc: 'Attempts at a webhook before it is marked UNDELIVERED' }),
      WEBHOOK_RETRY_BASE_MS: millis({ default: 1_000, desc: 'First retry delay; each next one doubles, with full jitter' }),
      WEBHOOK_RETRY_MAX_MS: millis({ default: 300_000, desc: 'Cap on one retry delay' }),
      WEBHOOK_TIMEOUT_MS: millis({ default: 5_000, desc: 'One webhook attempt may take this long' }),
      WEBHOOK_ALLOWED_ORIGINS: origins({ default: [] as string[], desc: 'Callback origins exempt from the private-address refusal (comma-separated)' }),
      VOUCHER_SECRETS_KEY: secretKey({ default: undefined, desc: `Encrypts webhook secrets at rest: 32 random bytes, base64 or base64url (${MAKE_A_KEY}); unset: a development key (refused with NODE_ENV=production)` }),
      VOUCHER_SECRETS_KEY_PREVIOUS: secretKeys({ default: undefined, desc: 'Earlier VOUCHER_SECRETS_KEYs, comma-separated, to open secrets they encrypted' }),
      SMS_SENDER: str({ choices: ['file', 'http'], default: 'file', desc: 'file: append each SMS to SMS_FILE; http: POST it to SMS_HTTP_URL' }),
      SMS_FILE: str({ default: '.data/sms/outbox.jsonl', desc: 'Where the file sender appends SMS (one JSON line each)' }),
      SMS_HTTP_URL: url({ default: undefined, desc: 'The SMS provider endpoint (SMS_SENDER=http)' }),
      SMS_HTTP_TOKEN: str({ default: undefined, desc: 'Bearer token for SMS_HTTP_URL' }),
    },
    env,
  );
}

export type VoucherConfig = ReturnType<typeof loadVoucherConfig>;

export function secretsKeys(settings: VoucherConfig, env: NodeJS.ProcessEnv): { current: SecretKey; previous: SecretKey[]; devKey: boolean } {
  if (settings.VOUCHER_SECRETS_KEY) return { current: settings.VOUCHER_SECRETS_KEY, previous: settings.VOUCHER_SECRETS_KEY_PREVIOUS ?? [], devKey: false };
  if (env.NODE_ENV === 'production') throw new Error(`VOUCHER_SECRETS_KEY is required with NODE_ENV=production. Make one with: ${MAKE_A_KEY}`);
  return { current: parseSecretKey(DEV_SECRETS_KEY, LABEL, 'vwk'), previous: settings.VOUCHER_SECRETS_KEY_PREVIOUS ?? [], devKey: true };
}
