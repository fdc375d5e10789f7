// The local platform's token signing key, kept in .data/dev-keys/ so tokens survive restarts.
// `make run` gives it to the payment gateway as its SIGNING_KEY, so the tokens `make token`
// prints verify everywhere, like tokens from a real sign-in.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CryptoKey, type JWK, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { Role } from '../../services/common/http/context.js';
import { signWith } from '../testing/tokens.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEV_KEYS_DIR = join(process.env.PAYSPEC_DATA_DIR ?? join(root, '.data'), 'dev-keys');
const PRIVATE_KEY_FILE = join(DEV_KEYS_DIR, 'private-key.jwk.json');
const KID = 'dev-key-1';

export async function ensureDevKeys(): Promise<void> {
  if (existsSync(PRIVATE_KEY_FILE)) return;
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  mkdirSync(DEV_KEYS_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(PRIVATE_KEY_FILE, JSON.stringify({ ...(await exportJWK(privateKey)), kid: KID, alg: 'ES256' }), { mode: 0o600 });
}

export async function devToken(subject: string, roles: Role[], expiresIn = '10m'): Promise<string> {
  await ensureDevKeys();
  const key = await importJWK(JSON.parse(readFileSync(PRIVATE_KEY_FILE, 'utf8')) as JWK, 'ES256');
  return signWith(key as CryptoKey, KID, subject, { roles, expiresIn });
}

/** The private key as a JWK JSON string, for the payment gateway's SIGNING_KEY. */
export async function devSigningKey(): Promise<string> {
  await ensureDevKeys();
  return readFileSync(PRIVATE_KEY_FILE, 'utf8');
}
