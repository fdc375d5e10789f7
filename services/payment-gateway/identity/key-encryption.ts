// Private signing keys encrypted at rest under a key-encryption key (KEK) from configuration
// (SIGNING_KEY_ENCRYPTION_KEY): a JWE in compact serialization, `alg: dir` + `enc: A256GCM`
// (AES-256-GCM, jose), its protected header naming the KEK (`kid`, a fingerprint of the KEK, so a
// wrong KEK is told from a damaged record and the KEK can rotate) and the signing key it holds
// (`skid`). The header is authenticated with the ciphertext; after decryption the private key's
// public half must also be the one recorded beside it, so a ciphertext moved to another record
// does not load. Nothing here logs or puts key material (the KEK, `d`) in an error message.
import { createHmac } from 'node:crypto';
import { CompactEncrypt, type JWK, compactDecrypt, decodeProtectedHeader } from 'jose';

export interface KeyEncryptionKey {
  /** A fingerprint of the key (not the key): what records encrypted under it are marked with. */
  id: string;
  key: Uint8Array;
}

export const KEK_VARIABLE = 'SIGNING_KEY_ENCRYPTION_KEY';
export const MAKE_A_KEK = `node -p "crypto.randomBytes(32).toString('base64url')"`;

const KEK_BYTES = 32;
const ALG = 'dir';
const ENC = 'A256GCM';

/** A KEK from its configured text: 32 bytes in base64 or base64url. The message never shows the value. */
export function parseKek(value: string): KeyEncryptionKey {
  const text = value.trim();
  const shape = `must be ${KEK_BYTES} random bytes in base64 or base64url (make one: ${MAKE_A_KEK})`;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw new Error(`${shape}; it is not base64`);
  const key = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== KEK_BYTES) throw new Error(`${shape}; it decodes to ${key.length} bytes`);
  return { id: kekId(key), key: new Uint8Array(key) };
}

/** Several KEKs, comma-separated (earlier KEKs, kept to decrypt what they encrypted). */
export function parseKeks(value: string): KeyEncryptionKey[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part, i) => {
      try {
        return parseKek(part);
      } catch (err) {
        throw new Error(`entry ${i + 1}: ${(err as Error).message}`, { cause: err });
      }
    });
}

/** `kek-` and 16 base64url characters of an HMAC of a fixed label under the key: names the key, reveals nothing of it. */
function kekId(key: Uint8Array): string {
  return `kek-${createHmac('sha256', key).update('payspec signing-key encryption key id').digest('base64url').slice(0, 16)}`;
}

/** The private JWK of signing key `kid` as a compact JWE under `kek`. */
export async function encryptPrivateJwk(jwk: JWK, kid: string, kek: KeyEncryptionKey): Promise<string> {
  const { kty, crv, x, y, d } = jwk;
  if (typeof d !== 'string') throw new Error('only a private key is encrypted');
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify({ kty, crv, x, y, d })))
    .setProtectedHeader({ alg: ALG, enc: ENC, kid: kek.id, cty: 'jwk+json', skid: kid })
    .encrypt(kek.key);
}

/** The id of the KEK a stored JWE was encrypted under (from its header; nothing is decrypted). */
export function kekIdOf(jwe: string): string | undefined {
  try {
    const { kid } = decodeProtectedHeader(jwe);
    return typeof kid === 'string' ? kid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The private JWK of the stored record: decrypted with whichever of `keks` it was encrypted
 * under, checked to be the key the record says (`kid`, public half). Throws a message fit for a
 * refusal to start: which key, which KEK id, what to do.
 */
export async function decryptPrivateJwk(record: { kid: string; publicJwk: JWK; privateJwe: string }, keks: KeyEncryptionKey[]): Promise<JWK> {
  const wanted = kekIdOf(record.privateJwe);
  const kek = keks.find((k) => k.id === wanted);
  if (!kek) {
    const configured = keks.length === 0 ? `${KEK_VARIABLE} is not set` : `the configured one${keks.length > 1 ? 's are' : ' is'} ${keks.map((k) => k.id).join(', ')}`;
    throw new Error(
      `signing key ${record.kid} is stored encrypted under key-encryption key ${wanted ?? '(unreadable header)'}, and ${configured}: ` +
        `set ${KEK_VARIABLE} to the key it was encrypted with (a new key goes in ${KEK_VARIABLE} with the old one in ${KEK_VARIABLE}_PREVIOUS)`,
    );
  }
  let plaintext: Uint8Array;
  let header: { skid?: unknown };
  try {
    const result = await compactDecrypt(record.privateJwe, kek.key, { keyManagementAlgorithms: [ALG], contentEncryptionAlgorithms: [ENC] });
    plaintext = result.plaintext;
    header = result.protectedHeader as { skid?: unknown };
  } catch {
    throw new Error(`signing key ${record.kid} does not decrypt with key-encryption key ${kek.id}: the stored record was altered or damaged`);
  }
  let jwk: JWK;
  try {
    jwk = JSON.parse(new TextDecoder().decode(plaintext)) as JWK;
  } catch {
    throw new Error(`signing key ${record.kid} decrypts to something that is not a JWK`);
  }
  if (header.skid !== record.kid || jwk.x !== record.publicJwk.x || jwk.y !== record.publicJwk.y || jwk.crv !== record.publicJwk.crv || typeof jwk.d !== 'string') {
    throw new Error(`signing key ${record.kid} decrypts to another key than the record's: the stored record was altered`);
  }
  return jwk;
}
