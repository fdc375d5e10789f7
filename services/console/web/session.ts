// The signed-in user's tokens. The access token lives 10 minutes; it is refreshed silently a
// minute before it ends (and before a request that would carry an expiring one), with the
// rotating refresh token. Kept in sessionStorage: gone when the tab closes, and cleared by
// signing out, which also revokes the refresh token at the gateway.
import type { components } from '../../../generated/payment-gateway/types';
import { createPaymentGatewayClient } from '../../../generated/payment-gateway/client';

type TokenPair = components['schemas']['TokenPair'];
export type Role = 'customer' | 'merchant' | 'operator';

interface Stored {
  accessToken: string;
  refreshToken: string;
  /** When the access token ends (ms since the epoch). */
  expiresAt: number;
}

export interface Principal {
  userId: string;
  email: string;
  role: Role;
}

const KEY = 'payspec.session';
/** Refresh this long before the access token ends. */
const MARGIN_MS = 60_000;
/** The gateway's identity operations take no token: a client of their own. */
const identity = createPaymentGatewayClient({ baseUrl: '/api/payment-gateway' });

let refreshing: Promise<boolean> | undefined;
let timer: number | undefined;
const listeners = new Set<() => void>();

function load(): Stored | undefined {
  try {
    const value = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Stored | null;
    return value && typeof value.accessToken === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function save(tokens: TokenPair): void {
  const stored: Stored = { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: Date.now() + tokens.expiresIn * 1000 };
  sessionStorage.setItem(KEY, JSON.stringify(stored));
  schedule(stored);
}

function clear(): void {
  sessionStorage.removeItem(KEY);
  window.clearTimeout(timer);
  for (const listener of listeners) listener();
}

/** Refreshes a minute before the access token ends, while the page is open. */
function schedule(stored: Stored): void {
  window.clearTimeout(timer);
  timer = window.setTimeout(() => void refresh(), Math.max(0, stored.expiresAt - MARGIN_MS - Date.now()));
}

/** The claims the pages use, read from the access token (verified by every API, not here). */
function claims(token: string): Principal | undefined {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: string; email?: string; roles?: string[] };
    // One role per account.
    const role = payload.roles?.find((r): r is Role => ['customer', 'merchant', 'operator'].includes(r));
    if (!payload.sub || !role) return undefined;
    return { userId: payload.sub, email: payload.email ?? '', role };
  } catch {
    return undefined;
  }
}

export function principal(): Principal | undefined {
  const stored = load();
  return stored ? claims(stored.accessToken) : undefined;
}

/** Called when the session ends (signed out, or the refresh token was refused). */
export function onSignedOut(listener: () => void): void {
  listeners.add(listener);
}

/** New tokens for the refresh token, once at a time; false (and signed out) when it is refused. */
export function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    const stored = load();
    if (!stored) return false;
    try {
      const { data } = await identity.POST('/auth/refresh', { body: { refreshToken: stored.refreshToken } });
      if (!data) {
        clear();
        return false;
      }
      save(data);
      return true;
    } catch {
      // The network failed: keep the tokens, the next request tries again.
      return false;
    }
  })().finally(() => (refreshing = undefined));
  return refreshing;
}

/** The access token for a request, refreshed first when it is about to end. */
export async function accessToken(): Promise<string | undefined> {
  let stored = load();
  if (stored && stored.expiresAt - MARGIN_MS <= Date.now()) {
    await refresh();
    stored = load();
  }
  return stored?.accessToken;
}

/** Signs in; the problem of a refusal (401, 429), or undefined when signed in. */
export async function signIn(email: string, password: string): Promise<components['schemas']['Problem'] | undefined> {
  const { data, error } = await identity.POST('/auth/sign-in', { body: { email, password } });
  if (data) save(data);
  return data ? undefined : error;
}

export async function signOut(): Promise<void> {
  const stored = load();
  clear();
  // Revokes the refresh token and its family; always 204.
  if (stored) await identity.POST('/auth/sign-out', { body: { refreshToken: stored.refreshToken } }).catch(() => undefined);
}

/** On load: keep refreshing the tokens a previous page of this tab stored. */
export function resume(): void {
  const stored = load();
  if (stored) schedule(stored);
}
