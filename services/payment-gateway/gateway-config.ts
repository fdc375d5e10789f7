// The payment gateway's own settings, beyond every service's (services/common/config.ts).
import { num, str } from 'envalid';
import { loadConfig } from '../common/config.js';

export function loadGatewayConfig(env: NodeJS.ProcessEnv) {
  return loadConfig(
    {
      SIGNING_KEY: str({ default: undefined, desc: 'ES256 private key as a JWK (JSON). Unset: one is generated on first start and kept in the database' }),
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
      WALLET_CURRENCY: str({ default: 'EUR', desc: 'The one currency wallets hold' }),
    },
    env,
  );
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
