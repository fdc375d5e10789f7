// Small pieces the operator pages share (pages/operator.ts): times a machine can read too, cursor
// pagers, answers where 404 means "none", problems shown above a list, amounts that may be zero,
// the months before this one, and one Idempotency-Key per body meant.
import { call, idempotencyKey } from '../api';
import { href } from '../router';
import { type Child, ProblemError, dateTime, h, notice, toMinorUnits } from '../ui';

/** A time shown in the reader's locale, with the exact instant in `datetime`. */
export function when(iso: string | undefined): Child {
  return iso ? h('time', { datetime: iso }, dateTime(iso)) : '—';
}

/** "First page" / "Next page" links of a cursor-paginated list; `cursorParam` names the cursor in the address. */
export function pager(
  path: string,
  query: Record<string, string | undefined>,
  page: { hasMore: boolean; nextCursor?: string },
  current: string | undefined,
  options: { cursorParam?: string; label?: string } = {},
): HTMLElement {
  const param = options.cursorParam ?? 'cursor';
  return h(
    'nav',
    { class: 'pager', 'aria-label': options.label ?? 'Pages' },
    current ? h('a', { href: href(path, { ...query, [param]: undefined }) }, 'First page') : null,
    page.hasMore && page.nextCursor ? h('a', { href: href(path, { ...query, [param]: page.nextCursor }), rel: 'next' }, 'Next page') : null,
  );
}

/** The data of an answer, undefined when it is a 404 (nothing there yet), a ProblemError otherwise. */
export async function optional<T>(answer: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T | undefined> {
  try {
    return await call(answer);
  } catch (err) {
    if (err instanceof ProblemError && err.problem.status === 404) return undefined;
    throw err;
  }
}

/** A problem that kept a list from loading (a filter the API refused, a service down), shown where the list would be. */
export function problemNotice(err: unknown): HTMLElement {
  if (!(err instanceof ProblemError)) return notice((err as Error)?.message ?? String(err), 'error');
  const { problem } = err;
  const errors = (problem.errors ?? []).map(({ pointer, message }) => `${pointer.split('/').slice(2).join('.') || pointer}: ${message}`);
  return h(
    'div',
    { class: 'notice notice-error', role: 'alert' },
    h('strong', {}, problem.title),
    problem.detail ? h('p', {}, problem.detail) : null,
    errors.length ? h('ul', {}, errors.map((text) => h('li', {}, text))) : null,
  );
}

/** Reads a field as minor units of `currency` where zero is allowed (a credit limit), or throws a problem naming the field. */
export function minorUnitsField(values: Record<string, string>, name: string, currency: string): number {
  const minor = toMinorUnits(values[name] ?? '', currency);
  if (minor === undefined) {
    throw new ProblemError({
      type: 'about:blank',
      title: 'Check the amount',
      status: 400,
      code: 'invalid-amount',
      detail: `Give the amount in ${currency}, e.g. 5000.00 (0 allowed).`,
      errors: [{ pointer: `/body/${name.replace(/\./g, '/')}`, message: `an amount in ${currency}, e.g. 5000.00` }],
    });
  }
  return minor;
}

/** A calendar month (UTC) as the APIs name it: "2026-05". */
export const periodOf = (at: Date) => at.toISOString().slice(0, 7);

/** This month (UTC) and the `count - 1` before it, newest first. */
export function recentPeriods(count: number, now = new Date()): string[] {
  const periods: string[] = [];
  for (let back = 0; back < count; back++) periods.push(periodOf(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1))));
  return periods;
}

/** Today (UTC) as a date field's value, moved by `days`. */
export const day = (days = 0) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

/**
 * One Idempotency-Key per body the operator means to send: sending the same body again (a retried
 * click, a lost answer) reuses the key, so it is answered once; a corrected body gets a key of its
 * own (reusing the key with another body would be refused with 409).
 */
export function keyPerBody(): (body: unknown) => string {
  let last: { body: string; key: string } | undefined;
  return (body) => {
    const text = JSON.stringify(body);
    if (last?.body !== text) last = { body: text, key: idempotencyKey() };
    return last.key;
  };
}

/** A message or event as text: JSON indented, anything else as it is; keyboard-scrollable when wide. */
export function pre(value: unknown): HTMLElement {
  return h('pre', { tabindex: 0 }, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

/** A row of buttons or links (actions on what the page shows). */
export function actions(...children: Child[]): HTMLElement {
  return h('div', { class: 'buttons' }, children);
}
