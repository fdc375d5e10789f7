// What the customer pages (customer.ts) share: cursor pagers, one Idempotency-Key per intended
// action (kept only while the outcome of a sent request is unknown), a notice carried to the next
// render, dates of the APIs' date-only fields, signed amounts, and the signed-in profile.
import type { components } from '../../../../generated/payment-gateway/types';
import { type Problem, call, gateway, idempotencyKey } from '../api';
import { href } from '../router';
import { principal } from '../session';
import { ProblemError, h, money } from '../ui';

type User = components['schemas']['User'];

/**
 * "Next page" (and "First page" when not on the first): a list's cursor pages. `query` is the
 * page's other parameters (filters), kept on both links; the cursor goes in `param`.
 */
export function pager(options: {
  label: string;
  path: string;
  query?: Record<string, string | undefined>;
  cursor: string | undefined;
  page: { hasMore: boolean; nextCursor?: string };
  param?: string;
  next?: string;
  first?: string;
}): HTMLElement | null {
  const { label, path, query = {}, cursor, page, param = 'cursor', next = 'Next page', first = 'First page' } = options;
  const more = page.hasMore && page.nextCursor;
  if (!cursor && !more) return null;
  return h(
    'nav',
    { class: 'pager', 'aria-label': label },
    cursor ? h('a', { href: href(path, { ...query, [param]: undefined }) }, first) : null,
    more ? h('a', { href: href(path, { ...query, [param]: page.nextCursor }), rel: 'next' }, next) : null,
  );
}

/**
 * The Idempotency-Key of one action a form makes: the same key while a request's outcome is not
 * known (no answer, or a 5xx), so that trying again cannot do it twice; a fresh one once the
 * service answered — a refusal (422 insufficient funds) corrected and sent again is a new action,
 * which under the old key would be answered 409 `idempotency-key-reused`, or the refusal again.
 */
export function actionKey(): <T>(send: (key: string) => Promise<T>) => Promise<T> {
  let key = idempotencyKey();
  return async (send) => {
    try {
      const answer = await send(key);
      key = idempotencyKey();
      return answer;
    } catch (err) {
      const status = err instanceof ProblemError ? err.problem.status : 0;
      if (status >= 400 && status < 500) key = idempotencyKey();
      throw err;
    }
  };
}

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

/** A date-only value ("2026-12-31", the contracts' validity) as that day, whatever the browser's time zone. */
export function day(value: string | undefined): string {
  if (!value) return '—';
  const at = new Date(`${value.slice(0, 10)}T00:00:00Z`);
  return Number.isNaN(at.getTime()) ? value : at.toLocaleDateString(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
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

/** The problem of an error (for a page that shows a part it could not load instead of failing whole). */
export function problemOf(err: unknown): Problem | undefined {
  return err instanceof ProblemError ? err.problem : undefined;
}
