// The voucher-provider simulator's own settings (the runtime's common ones are in
// services/common/config.ts). Every value has a default that works locally; an invalid one stops
// the start with the variable's name.
import { makeValidator } from 'envalid';
import { delays, fraction, loadConfig, millisUpTo } from '../../common/config.js';

/** The dev key `make run` and the README use; set PROVIDER_API_KEYS anywhere else. */
export const DEV_PROVIDER_API_KEY = 'dev-voucher-provider-key';

const apiKeys = makeValidator<string[]>((value) => {
  const keys = value.split(',').map((k) => k.trim()).filter(Boolean);
  if (keys.length === 0) throw new Error('must name at least one key (comma-separated)');
  if (keys.some((k) => k.length < 8)) throw new Error('every key must have at least 8 characters');
  return keys;
});

const scale = makeValidator<number>((value) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 10) throw new Error(`must be a number above 0 and at most 10 (1: real time, 0.01: a hundred times faster), got "${value}"`);
  return n;
});


const millis = millisUpTo(3_600_000);


export function loadProviderConfig(env: NodeJS.ProcessEnv) {
  return loadConfig(
    {
      PROVIDER_API_KEYS: apiKeys({ default: [DEV_PROVIDER_API_KEY], desc: 'Keys callers send in X-Api-Key, comma-separated' }),
      PROVIDER_TIME_SCALE: scale({ default: 1, desc: 'Multiplies every simulated duration (answer window, answer times, callback retries): 0.01 runs a hundred times faster' }),
      PROVIDER_CALLBACK_RETRY_DELAYS_MS: delays({ default: [1_000, 2_000, 5_000, 10_000, 20_000], desc: 'Delays (before scaling) before each new attempt at a callback not acknowledged' }),
      PROVIDER_LATENCY_MS: millis({ default: 0, desc: 'Added to every answer of the API (not scaled)' }),
      PROVIDER_FAILURE_RATE: fraction({ default: 0, desc: 'Share of API requests answered 503 instead of being served (0: none, 1: all)' }),
    },
    env,
  );
}

export type ProviderConfig = ReturnType<typeof loadProviderConfig>;
