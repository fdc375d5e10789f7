// The provider's rules, pure: which scenario a request plays (the phone number's last digit, or
// the X-Simulate header), when its code is ready, what it answers within its answer window, and
// the RFC 7636 pair it proves the late callback with (a code verifier it keeps, the S256
// challenge it shows: base64url(SHA-256(verifier)), RFC 7636 §4.1–4.2).
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { Schemas } from '../../../generated/voucher-provider/delegate.js';

export type Scenario = Schemas['Scenario'];

/** Unscaled durations (PROVIDER_TIME_SCALE multiplies them). */
export const TIMING = {
  /**
   * The provider answers within the seed's 3 seconds — by 2.5 s at the latest, so a caller waiting
   * 3 s (VOUCHER_PROVIDER_WAIT_MS) gets the answer rather than its own time-out: the code if it
   * is ready by then, else a challenge.
   */
  answerWindowMs: 2_500,
  /** From this age a code delivered by callback is LATE_SUCCESS. */
  lateAfterMs: 30_000,
  readyAfterMs: { fast: 0, slow: 10_000, 'very-slow': 35_000, never: undefined, 'wrong-verifier': 10_000, replay: 10_000 } as Record<Scenario, number | undefined>,
} as const;

/** The phone number's last digit picks the scenario (README, "Voucher-provider simulator"). */
export const SCENARIO_BY_LAST_DIGIT: readonly Scenario[] = ['fast', 'fast', 'fast', 'fast', 'slow', 'slow', 'very-slow', 'never', 'wrong-verifier', 'replay'];

export function scenarioOf(phoneNumber: string, override?: Scenario): Scenario {
  return override ?? SCENARIO_BY_LAST_DIGIT[Number(phoneNumber.at(-1))] ?? 'fast';
}

/** When the code of a request made at `createdAt` is ready (undefined: never), time-scaled. */
export function readyAt(scenario: Scenario, createdAt: Date, timeScale: number): Date | undefined {
  const after = TIMING.readyAfterMs[scenario];
  return after === undefined ? undefined : new Date(createdAt.getTime() + after * timeScale);
}

/** SUCCESS under 30 s (scaled), LATE_SUCCESS from then on. */
export function deliveryStatus(createdAt: Date, ready: Date, timeScale: number): 'SUCCESS' | 'LATE_SUCCESS' {
  return ready.getTime() - createdAt.getTime() >= TIMING.lateAfterMs * timeScale ? 'LATE_SUCCESS' : 'SUCCESS';
}

/** A code verifier: 32 random bytes, base64url (43 characters of the RFC 7636 alphabet). */
export const newCodeVerifier = () => randomBytes(32).toString('base64url');

/** RFC 7636 §4.2, S256. */
export const s256 = (verifier: string) => createHash('sha256').update(verifier, 'ascii').digest('base64url');

const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
/** A voucher code: `VC-XXXX-XXXX-XXXX` (no 0/O or 1/I). */
export function newVoucherCode(): string {
  const group = () => Array.from({ length: 4 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
  return `VC-${group()}-${group()}-${group()}`;
}

export const MESSAGES = {
  processing: 'Your request is being processed within 30 seconds.',
  ready: 'Thank you for using our services, your voucher code is ready.',
  late: 'Thank you for your patience, your voucher code is ready.',
} as const;
