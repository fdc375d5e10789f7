// Private signing keys encrypted at rest under a key-encryption key (KEK) from configuration
// (SIGNING_KEY_ENCRYPTION_KEY): a JWE in compact serialization, `alg: dir` + `enc: A256GCM`
// (AES-256-GCM, jose), its protected header naming the KEK (`kid`, a fingerprint of the KEK, so a
// wrong KEK is told from a damaged record and the KEK can rotate) and the signing key it holds
// (`skid`). The header is authenticated with the ciphertext; after decryption the private key's
// public half must also be the one recorded beside it, so a ciphertext moved to another record
// does not load. Nothing here logs or puts key material (the KEK, `d`) in an error message.
import { CompactEncrypt, type JWK, compactDecrypt, decodeProtectedHeader } from 'jose';
import { MAKE_A_KEY, type SecretKey, parseSecretKey, parseSecretKeys } from '../../common/secret-keys.js';

export type KeyEncryptionKey = SecretKey;

export const KEK_VARIABLE = 'SIGNING_KEY_ENCRYPTION_KEY';
export const MAKE_A_KEK = MAKE_A_KEY;

const ALG = 'dir';
const ENC = 'A256GCM';
const KEK_LABEL = 'payspec signing-key encryption key id';

/** A KEK from its configured text: 32 bytes in base64 or base64url. The message never shows the value. */
export const parseKek = (value: string): KeyEncryptionKey => parseSecretKey(value, KEK_LABEL, 'kek');

/** Several KEKs, comma-separated (earlier KEKs, kept to decrypt what they encrypted). */
export const parseKeks = (value: string): KeyEncryptionKey[] => parseSecretKeys(value, KEK_LABEL, 'kek');

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
