// Symmetric keys from configuration: 32 random bytes in base64 or base64url, named by a
// fingerprint (an HMAC of a fixed label under the key) so that what a key encrypted can say which
// key it needs without revealing anything of it. Used for signing-key encryption (gateway) and
// for sealed values (sealed-values.ts). No message here ever shows a key's value.
import { createHmac } from 'node:crypto';

export interface SecretKey {
  /** A fingerprint of the key (not the key): what records encrypted under it are marked with. */
  id: string;
  key: Uint8Array;
}

export const MAKE_A_KEY = `node -p "crypto.randomBytes(32).toString('base64url')"`;

const KEY_BYTES = 32;

/** A key from its configured text; `label` names what the key is for (it changes the key's id). */
export function parseSecretKey(value: string, label: string, idPrefix: string): SecretKey {
  const text = value.trim();
  const shape = `must be ${KEY_BYTES} random bytes in base64 or base64url (make one: ${MAKE_A_KEY})`;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw new Error(`${shape}; it is not base64`);
  const key = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== KEY_BYTES) throw new Error(`${shape}; it decodes to ${key.length} bytes`);
  return { id: `${idPrefix}-${createHmac('sha256', key).update(label).digest('base64url').slice(0, 16)}`, key: new Uint8Array(key) };
}

/** Several keys, comma-separated (earlier keys, kept to decrypt what they encrypted). */
export function parseSecretKeys(value: string, label: string, idPrefix: string): SecretKey[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part, i) => {
      try {
        return parseSecretKey(part, label, idPrefix);
      } catch (err) {
        throw new Error(`entry ${i + 1}: ${(err as Error).message}`, { cause: err });
      }
    });
}
