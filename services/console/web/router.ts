// Hash routes (#/payments/pay_…?status=succeeded): each page module lists its routes; the shell
// (main.ts) renders the one matching the address, if the signed-in role may see it.
import type { Role } from './session';

export interface Route {
  /** "/payments/:paymentId": the :names become params. */
  path: string;
  /** Who may open it; 'public' for pages before signing in. */
  roles: readonly Role[] | 'public';
  /** In the navigation bar, under this label (pages reached from others have none). */
  nav?: string;
  render(params: Record<string, string>, query: URLSearchParams): Promise<HTMLElement> | HTMLElement;
}

/** Where the address points: path and query of the hash. */
export function current(): { path: string; query: URLSearchParams } {
  const [path = '/', search = ''] = location.hash.replace(/^#/, '').split('?');
  return { path: path || '/', query: new URLSearchParams(search) };
}

export function match(routes: readonly Route[], path: string): { route: Route; params: Record<string, string> } | undefined {
  for (const route of routes) {
    const names: string[] = [];
    const pattern = new RegExp(`^${route.path.replace(/:([a-zA-Z]+)/g, (_m, name: string) => (names.push(name), '([^/]+)'))}$`);
    const found = pattern.exec(path);
    if (found) return { route, params: Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found[i + 1]!)])) };
  }
  return undefined;
}

/** The address of a page: href('/payments', { status: 'succeeded' }) is "#/payments?status=succeeded". */
export function href(path: string, query: Record<string, string | undefined> = {}): string {
  const search = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => Boolean(e[1]))).toString();
  return `#${path}${search ? `?${search}` : ''}`;
}

export function navigate(path: string, query: Record<string, string | undefined> = {}): void {
  const target = href(path, query);
  // The same address again still renders anew (after a form changed what it shows).
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = target;
}
