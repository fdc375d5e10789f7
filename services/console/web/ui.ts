// What every page is built from: elements, forms that show a problem's messages next to the
// fields it names, tables, money and dates. No framework: pages are small and render once per
// visit, so plain DOM keeps the bundle small and the pages fast.
import type { Problem } from './api';
import { href } from './router';

export type Child = Node | string | number | null | undefined | false | Child[];
type Props = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

/** An element: `h('button', { type: 'submit', onclick: go }, 'Pay')`. Attributes by name, listeners as on<event>. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Digits after the decimal point of a currency (ISO 4217), from the browser's own tables. */
function exponentOf(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** Minor units to a display amount: money(2550, 'EUR') is "€25.50". */
export function money(minor: number, currency: string): string {
  const exponent = exponentOf(currency);
  return new Intl.NumberFormat(undefined, { style: 'currency', currency, minimumFractionDigits: exponent }).format(minor / 10 ** exponent);
}

/** A typed amount ("25.5", "25,50") to minor units; undefined when it is not an amount with at most the currency's decimals. */
export function toMinorUnits(text: string, currency: string): number | undefined {
  const exponent = exponentOf(currency);
  const match = /^\s*(\d{1,12})(?:[.,](\d+))?\s*$/.exec(text);
  if (!match || (match[2] ?? '').length > exponent) return undefined;
  return Number(match[1]) * 10 ** exponent + Number((match[2] ?? '').padEnd(exponent, '0') || 0);
}

export const dateTime = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) : '—');

/** A time shown in the reader's locale, with the exact instant in `datetime`. */
export function when(iso: string | undefined): Child {
  return iso ? h('time', { datetime: iso }, dateTime(iso)) : '—';
}

/** A date-only value ("2026-12-31", a contract's validity) as that day, whatever the browser's time zone. */
export function date(value: string | undefined): string {
  if (!value) return '—';
  const at = new Date(`${value.slice(0, 10)}T00:00:00Z`);
  return Number.isNaN(at.getTime()) ? value : at.toLocaleDateString(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
}

/** A message or event as text: JSON indented, anything else as it is; keyboard-scrollable when wide. */
export function pre(value: unknown): HTMLElement {
  return h('pre', { tabindex: 0 }, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

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

export function badge(status: string): HTMLElement {
  return h('span', { class: `badge badge-${status.toLowerCase()}`, 'data-status': status }, status);
}

export interface Column<T> {
  label: string;
  cell: (row: T) => Child;
  /** Right-aligned (amounts). */
  numeric?: boolean;
}

/** A table that scrolls sideways on a narrow screen instead of squeezing its columns. */
export function table<T>(caption: string, columns: Column<T>[], rows: T[], empty = 'Nothing yet.'): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'div',
    { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.numeric ? 'num' : undefined }, c.label)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map((c) => h('td', { class: c.numeric ? 'num' : undefined }, c.cell(row)))))),
    ),
  );
}

/** A definition list of label → value. */
export function facts(entries: [string, Child][]): HTMLElement {
  return h('dl', { class: 'facts' }, entries.map(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]));
}

export interface Field {
  /** Where the value goes in the request body: "card.number" is body.card.number (the problem pointer /body/card/number). */
  name: string;
  label: string;
  type?: 'text' | 'email' | 'password' | 'number' | 'tel' | 'date' | 'month' | 'select' | 'textarea';
  options?: { value: string; label: string }[];
  value?: string;
  required?: boolean;
  autocomplete?: string;
  inputmode?: string;
  placeholder?: string;
  hint?: string;
}

let fieldIds = 0;

/** Thrown by a form's submit to show a problem: its detail above the form, each error next to the field its pointer names. */
export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
}

/**
 * A form: labelled fields, one submit button, and the answer's problem shown where it belongs.
 * `submit` gets the values by field name; it throws a ProblemError (or any error) to show it.
 */
export function form(options: { label: string; fields: Field[]; submit: string; onSubmit: (values: Record<string, string>) => Promise<void> }): HTMLFormElement {
  const inputs = new Map<string, { input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement; error: HTMLElement }>();
  const summary = h('div', { class: 'form-problem', role: 'alert', hidden: true });
  const button = h('button', { type: 'submit' }, options.submit);
  const rows = options.fields.map((field) => {
    const id = `f${++fieldIds}`;
    const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
    const common = { id, name: field.name, required: field.required, 'aria-describedby': field.hint ? `${id}-hint ${id}-error` : `${id}-error` };
    const input =
      field.type === 'select'
        ? h('select', common, (field.options ?? []).map((o) => h('option', { value: o.value, selected: o.value === field.value }, o.label)))
        : field.type === 'textarea'
          ? h('textarea', { ...common, rows: 3 }, field.value ?? '')
          : h('input', {
              ...common,
              type: field.type ?? 'text',
              value: field.value,
              autocomplete: field.autocomplete,
              inputmode: field.inputmode,
              placeholder: field.placeholder,
            });
    inputs.set(field.name, { input, error });
    return h('div', { class: 'field' }, h('label', { for: id }, field.label), field.hint ? h('p', { class: 'hint', id: `${id}-hint` }, field.hint) : null, input, error);
  });
  const element = h('form', { 'aria-label': options.label, novalidate: true }, summary, rows, h('div', { class: 'actions' }, button));
  element.addEventListener('submit', (event) => {
    event.preventDefault();
    summary.hidden = true;
    for (const { input, error } of inputs.values()) {
      error.hidden = true;
      input.removeAttribute('aria-invalid');
    }
    const values = Object.fromEntries([...inputs].map(([name, { input }]) => [name, input.value]));
    button.disabled = true;
    options
      .onSubmit(values)
      .catch((err: unknown) => showProblem(err))
      .finally(() => (button.disabled = false));
  });

  function showProblem(err: unknown): void {
    const problem: Problem = err instanceof ProblemError ? err.problem : { type: 'about:blank', title: 'Something went wrong', status: 0, code: 'client-error', detail: String((err as Error)?.message ?? err) };
    const unplaced: string[] = [];
    for (const { pointer, message } of problem.errors ?? []) {
      // "/body/card/number" names the field "card.number"; query and path pointers name theirs too.
      const name = pointer.split('/').slice(2).join('.');
      const target = inputs.get(name);
      if (!target) {
        unplaced.push(`${name || pointer}: ${message}`);
        continue;
      }
      target.error.textContent = message;
      target.error.hidden = false;
      target.input.setAttribute('aria-invalid', 'true');
    }
    summary.replaceChildren(
      h(
        'div',
        {},
        h('strong', {}, problem.title),
        problem.detail ? h('p', { class: 'detail' }, problem.detail) : null,
        unplaced.length ? h('ul', {}, unplaced.map((text) => h('li', {}, text))) : null,
        problem.requestId ? h('p', { class: 'request-id' }, `Request id: ${problem.requestId}`) : null,
      ),
    );
    summary.hidden = false;
    const firstInvalid = [...inputs.values()].find(({ error }) => !error.hidden);
    (firstInvalid?.input ?? summary).focus?.();
  }
  return element;
}

/** A notice shown at the top of a page (a problem loading it, or what just happened). */
export function notice(text: string, kind: 'error' | 'info' = 'info'): HTMLElement {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** A problem that kept part of a page from loading (a filter the API refused, a service down), shown where that part would be. */
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

/** A page: its heading (focused when the page opens, for screen readers) and content. */
export function page(title: string, ...content: Child[]): HTMLElement {
  return h('section', { class: 'page' }, h('h1', { tabindex: -1 }, title), content);
}

/** Reads a field's value as minor units of `currency` (zero only with allowZero: a credit limit), or throws a problem naming the field. */
export function amountField(values: Record<string, string>, name: string, currency: string, { allowZero = false } = {}): number {
  const minor = toMinorUnits(values[name] ?? '', currency);
  if (minor === undefined || (minor === 0 && !allowZero)) {
    throw new ProblemError({
      type: 'about:blank',
      title: 'Check the amount',
      status: 400,
      code: 'invalid-amount',
      detail: `Give the amount in ${currency}, e.g. 12.50${allowZero ? ' (0 allowed)' : ''}.`,
      errors: [{ pointer: `/body/${name.replace(/\./g, '/')}`, message: `an amount in ${currency}, e.g. 12.50` }],
    });
  }
  return minor;
}

/**
 * Calls `read` again every `ms` while `content` is shown, until it answers false. Started before
 * the page is shown (render returns it first): it stops once the page has been shown and is gone,
 * or when the address changed before it was ever shown.
 */
export function whileShown(content: HTMLElement, ms: number, read: () => Promise<boolean>): void {
  const address = location.hash;
  let shown = false;
  const tick = () =>
    window.setTimeout(() => {
      if (content.isConnected) shown = true;
      else if (shown || location.hash !== address) return;
      read().then(
        (again) => again && tick(),
        () => tick(),
      );
    }, ms);
  tick();
}
