// The local platform's token signing key, kept in .data/dev-keys/ so tokens survive restarts.
// Stands in for the identity service's key until it issues tokens (services trust its JWKS file).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CryptoKey, type JWK, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { Role } from '../../services/common/http/context.js';
import { signWith } from '../testing/tokens.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEV_KEYS_DIR = join(process.env.PAYSPEC_DATA_DIR ?? join(root, '.data'), 'dev-keys');
export const DEV_JWKS_FILE = join(DEV_KEYS_DIR, 'jwks.json');
const PRIVATE_KEY_FILE = join(DEV_KEYS_DIR, 'private-key.jwk.json');
const KID = 'dev-key-1';

export async function ensureDevKeys(): Promise<void> {
  if (existsSync(PRIVATE_KEY_FILE) && existsSync(DEV_JWKS_FILE)) return;
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  mkdirSync(DEV_KEYS_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(PRIVATE_KEY_FILE, JSON.stringify(await exportJWK(privateKey)), { mode: 0o600 });
  writeFileSync(DEV_JWKS_FILE, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: KID, alg: 'ES256', use: 'sig' }] }, null, 2));
}

export async function devToken(subject: string, roles: Role[], expiresIn = '10m'): Promise<string> {
  await ensureDevKeys();
  const key = await importJWK(JSON.parse(readFileSync(PRIVATE_KEY_FILE, 'utf8')) as JWK, 'ES256');
  return signWith(key as CryptoKey, KID, subject, { roles, expiresIn });
}
