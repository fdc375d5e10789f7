// What the customer pages (customer.ts) share: a notice carried to the next render, months,
// signed amounts, and the signed-in profile.
import type { components } from '../../../../generated/payment-gateway/types';
import { call, gateway } from '../api';
import { principal } from '../session';
import { money } from '../ui';

type User = components['schemas']['User'];

/** A notice for the next page rendered (what a form just did, shown after the page reloads its data). */
let flashed: { text: string; kind: 'info' | 'error' } | undefined;
export function flash(text: string, kind: 'info' | 'error' = 'info'): void {
  flashed = { text, kind };
}
export function takeFlash(): { text: string; kind: 'info' | 'error' } | undefined {
  const taken = flashed;
  flashed = undefined;
  return taken;
}

/** "2026-11" as "November 2026". */
export function month(period: string): string {
  const at = new Date(`${period}-01T00:00:00Z`);
  return Number.isNaN(at.getTime()) ? period : at.toLocaleDateString(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** An amount with its direction: "+€50.00" in, "−€12.50" out. */
export function signed(minor: number, currency: string, direction: 'in' | 'out'): string {
  return `${direction === 'in' ? '+' : '−'}${money(Math.abs(minor), currency)}`;
}

/** The signed-in user's profile (GET /me), read once per account while the console is open. */
let profile: { userId: string; user: Promise<User> } | undefined;
export function me(): Promise<User> {
  const userId = principal()?.userId ?? '';
  if (profile?.userId !== userId) {
    const user = call(gateway.GET('/me'));
    profile = { userId, user };
    // A failed read is not kept: the next page asks again.
    user.catch(() => (profile?.user === user ? (profile = undefined) : undefined));
  }
  return profile!.user;
}
