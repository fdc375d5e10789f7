// Small pieces the operator pages share (pages/operator.ts): the months before this one, dates
// for date fields, a row of action buttons.
import { type Child, h } from '../ui';

/** A calendar month (UTC) as the APIs name it: "2026-05". */
export const periodOf = (at: Date) => at.toISOString().slice(0, 7);

/** This month (UTC) and the `count - 1` before it, newest first. */
export function recentPeriods(count: number, now = new Date()): string[] {
  const periods: string[] = [];
  for (let back = 0; back < count; back++) periods.push(periodOf(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1))));
  return periods;
}

/** Today (UTC) as a date field's value, moved by `days`. */
export const dateInDays = (days = 0) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

export function actions(...children: Child[]): HTMLElement {
  return h('div', { class: 'buttons' }, children);
}
