// Typed configuration from the environment, with defaults that work on a developer machine.
// An invalid value stops the service at start with the variable's name (envalid does the parsing).
import { readFileSync } from 'node:fs';
import { bool, cleanEnv, makeValidator, num, str, url } from 'envalid';
import express from 'express';
import type { JSONWebKeySet } from 'jose';
import { DEFAULT_PREFETCH } from './events/event-bus.js';

export class ConfigError extends Error {}

type Specs = Parameters<typeof cleanEnv>[1];

export function loadConfig<S extends Specs>(specs: S, env: NodeJS.ProcessEnv = process.env) {
  return cleanEnv(env, specs, {
    reporter: ({ errors }) => {
      const bad = Object.entries(errors);
      if (bad.length === 0) return;
      const lines = bad.map(([name, err]) => `  ${name}: ${(err as Error).message}`);
      throw new ConfigError(redactSecrets(`Invalid configuration:\n${lines.join('\n')}`, Object.values(env)));
    },
  });
}

/**
 * A URL with its password masked: `mongodb://user:secret@host/db` → `mongodb://user:***@host/db`.
 * Everything up to the last `@` counts as the password, so one with an unescaped `@` or `/` in it
 * is masked whole (at worst the host is masked too, never a piece of the password shown).
 */
export function redactUrl(value: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^:@/]*):([\s\S]*)@([^@]*)$/i.exec(value);
  return match ? `${match[1]}${match[2]}:***@${match[4]}` : value;
}

/**
 * Text (an error message, a log line) with the passwords of URLs masked: the given values
 * (e.g. the environment) wherever they appear, then any `scheme://user:password@` left.
 */
export function redactSecrets(text: string, values: readonly (string | undefined)[] = []): string {
  let redacted = text;
  for (const value of values) {
    if (!value) continue;
    const masked = redactUrl(value);
    if (masked !== value) redacted = redacted.split(value).join(masked);
  }
  return redacted.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s"'`:@/]*):[^\s"'`]*@/gi, '$1:***@');
}

/** A TCP port; 0 lets the OS pick a free one (tests). */
const listenPort = makeValidator<number>((value) => {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new Error(`must be a port number from 0 to 65535, got "${value}"`);
  return port;
});

/** Comma-separated positive milliseconds (retry delays). */
export const delays = makeValidator<number[]>((value) => {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`must be comma-separated positive milliseconds, got "${value}"`);
  return list;
});

/** Whole milliseconds from 0 to `max` (a latency, a wait, a deadline). */
export const millisUpTo = (max: number) =>
  makeValidator<number>((value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n > max) throw new Error(`must be whole milliseconds from 0 to ${max}, got "${value}"`);
    return n;
  });

/** A number from 0 to 1 (a failure rate). */
export const fraction = makeValidator<number>((value) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new Error(`must be a number from 0 to 1, got "${value}"`);
  return n;
});

/** Comma-separated origins (scheme://host:port only); `shape` says what one looks like in the error. */
export function originList(value: string, shape: string, protocols = /^https?:$/): string[] {
  const list = value.split(',').map((v) => v.trim()).filter(Boolean);
  for (const origin of list) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    if (!parsed || parsed.origin !== origin || !protocols.test(parsed.protocol)) {
      throw new Error(`must be ${shape} (scheme, host and port only), got "${origin}"`);
    }
  }
  return list;
}

/** CORS_ORIGINS: empty (no browser on another origin), `*` (any), or comma-separated origins. */
const corsOrigins = makeValidator<'*' | string[]>((value) =>
  value.trim() === '*' ? '*' : originList(value, '"*" or comma-separated origins like https://app.example.com', /^[a-z][a-z0-9+.-]*:$/),
);

/** TRUST_PROXY, Express's `trust proxy`: false, true, a number of hops, or addresses/subnets (`loopback, 10.0.0.0/8`). */
export type TrustProxy = boolean | number | string;
const trustProxy = makeValidator<TrustProxy>((value) => {
  const v = value.trim();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  try {
    express().set('trust proxy', v); // compiles the list: throws on an address it cannot parse
  } catch (err) {
    throw new Error(`must be true, false, a number of proxies, or comma-separated addresses/subnets (${(err as Error).message})`, { cause: err });
  }
  return v;
});

const jwks = makeValidator<JSONWebKeySet | undefined>((value) => {
  if (!value) return undefined;
  const parsed = JSON.parse(value) as JSONWebKeySet;
  if (!Array.isArray(parsed.keys)) throw new Error('must be a JWKS JSON object with a "keys" array');
  return parsed;
});

/** Variables every service reads; `defaultPort` and the database name differ per service. */
export function commonSpecs(service: string, defaultPort: number) {
  return {
    HOST: str({ default: '127.0.0.1', desc: 'Interface to listen on' }),
    PORT: listenPort({ default: defaultPort }),
    LOG_LEVEL: str({ choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info' }),
    MONGO_URL: url({ default: 'mongodb://127.0.0.1:27017', desc: 'MongoDB (or FerretDB) connection string' }),
    MONGO_DB: str({ default: `payspec_${service.replace(/-/g, '_')}`, desc: "This service's own database" }),
    AMQP_URL: url({ default: 'amqp://guest:guest@127.0.0.1:5672', desc: 'RabbitMQ connection string' }),
    AMQP_PREFIX: str({ default: 'payspec', desc: 'Prefix of the exchange and queue names (tests use their own)' }),
    EVENT_PREFETCH: num({ default: DEFAULT_PREFETCH, desc: 'Unacknowledged events a consumer holds at once (the inbox claims and records them together)' }),
    INBOX_RETENTION_DAYS: num({ default: 7, desc: 'How long handled event ids are remembered to skip redeliveries' }),
    EVENT_RETRY_DELAYS_MS: delays({ default: [1_000, 5_000, 30_000], desc: 'Delays before each redelivery of a failed event; then it is parked' }),
    AUTH_ISSUER: str({ default: 'payspec-identity' }),
    AUTH_AUDIENCE: str({ default: 'payspec' }),
    AUTH_JWKS_URL: url({ default: undefined, desc: "The token issuer's JWKS endpoint" }),
    AUTH_JWKS: jwks({ default: undefined, desc: 'Public keys as a JWKS JSON document (instead of AUTH_JWKS_URL)' }),
    AUTH_JWKS_FILE: str({ default: undefined, desc: 'Path to a JWKS JSON file (instead of AUTH_JWKS_URL)' }),
    VALIDATE_RESPONSES: bool({ default: false, desc: 'Check every response against the spec (a mismatch is a 500)' }),
    BODY_LIMIT_BYTES: num({ default: 100_000 }),
    CORS_ORIGINS: corsOrigins({ default: [] as string[], desc: 'Origins whose browser pages may call the API ("*": any); none by default' }),
    TRUST_PROXY: trustProxy({ default: false, desc: "Express's trust proxy: which proxies' X-Forwarded-For gives the client address" }),
    EVENT_HANDLER_TIMEOUT_MS: num({ default: 30_000, desc: "An event handler's time-out, and how long its inbox claim keeps other deliveries of the event away" }),
    RECONCILE_INTERVAL_MS: num({ default: 5_000, desc: 'How often reconcilers look at pending work (transfers, payments, billing runs…)' }),
    RECONCILE_AFTER_MS: num({ default: 30_000, desc: 'Age from which pending work counts as abandoned and a reconciler settles it' }),
    SHUTDOWN_TIMEOUT_MS: num({ default: 10_000, desc: 'Everything a stop does (requests, hooks, bus, database) is bounded by it' }),
  };
}

export type CommonConfig = ReturnType<typeof loadConfig<ReturnType<typeof commonSpecs>>>;

/** The JWKS source from AUTH_JWKS_URL, AUTH_JWKS or AUTH_JWKS_FILE; exactly one must be set. */
export function jwksSource(config: Pick<CommonConfig, 'AUTH_JWKS_URL' | 'AUTH_JWKS' | 'AUTH_JWKS_FILE'>): { jwksUrl: string } | { jwks: JSONWebKeySet } {
  if (config.AUTH_JWKS_URL) return { jwksUrl: config.AUTH_JWKS_URL };
  if (config.AUTH_JWKS) return { jwks: config.AUTH_JWKS };
  if (config.AUTH_JWKS_FILE) {
    try {
      return { jwks: JSON.parse(readFileSync(config.AUTH_JWKS_FILE, 'utf8')) as JSONWebKeySet };
    } catch (err) {
      throw new ConfigError(`Invalid configuration:\n  AUTH_JWKS_FILE: cannot read a JWKS from ${config.AUTH_JWKS_FILE} (${(err as Error).message})`);
    }
  }
  throw new ConfigError('Invalid configuration:\n  AUTH_JWKS_URL: set it (or AUTH_JWKS / AUTH_JWKS_FILE) so tokens can be verified');
}
