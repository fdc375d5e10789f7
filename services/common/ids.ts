// Resource ids: a type prefix and 26 lowercase base32 characters (130 bits), e.g. `ctr_…`.
import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford's base32, lowercase

function base32(bytes: Uint8Array, length: number): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (out.length < length && bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out.padEnd(length, '0');
}

export function newId(prefix: string): string {
  return `${prefix}_${base32(randomBytes(17), 26)}`;
}

/**
 * The id of the resource an idempotent request creates, derived from who asked and their key.
 * A retry computes the same id, so the insert collides on the primary key and the first
 * answer can be replayed — one atomic guard, no separate key store (docs/architecture.md).
 */
export function idForIdempotencyKey(prefix: string, scope: string, key: string): string {
  return `${prefix}_${base32(createHash('sha256').update(`${scope}\u0000${key}`).digest(), 26)}`;
}

/** A stable hash of a JSON body (key order ignored), to tell a retry from a different request. */
export function requestHash(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
