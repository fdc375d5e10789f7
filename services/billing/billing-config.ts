// Billing's own settings, beyond every service's (services/common/config.ts).
import { Cron } from 'croner';
import { makeValidator, num } from 'envalid';
import { loadConfig } from '../common/config.js';

/** A cron expression (croner's syntax, evaluated in UTC), or `off`. */
const schedule = makeValidator<string>((value) => {
  const trimmed = value.trim();
  if (trimmed === 'off') return trimmed;
  try {
    new Cron(trimmed, { paused: true, timezone: 'UTC' }).stop();
  } catch (err) {
    throw new Error(`must be a cron expression or "off", got "${value}" (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  return trimmed;
});

export function loadBillingConfig(env: NodeJS.ProcessEnv) {
  return loadConfig(
    {
      BILLING_SCHEDULE: schedule({
        default: '0 2 1 * *',
        desc: 'When the monthly billing run of the previous month starts (cron, UTC; default 02:00 on the 1st), or "off"',
      }),
      BILLING_RUN_BATCH_SIZE: num({ default: 1_000, desc: 'Operations fetched per batch by a billing run' }),
    },
    env,
  );
}
