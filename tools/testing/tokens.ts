// Test and local-development tokens: an ES256 key pair whose public half the services trust
// through AUTH_JWKS — the same verification path as the issuer's JWKS in production.
import { type CryptoKey, type JSONWebKeySet, SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { Role } from '../../services/common/http/context.js';

export const TEST_ISSUER = 'payspec-identity';
export const TEST_AUDIENCE = 'payspec';

export interface TokenOptions {
  roles?: Role[];
  expiresIn?: string | number;
  issuer?: string;
  audience?: string;
  email?: string;
}

export interface TokenIssuer {
  /** The public keys, for a service's AUTH_JWKS. */
  jwks: JSONWebKeySet;
  sign(subject: string, options?: TokenOptions): Promise<string>;
}

export async function createTokenIssuer(kid = 'test-key-1'): Promise<TokenIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return {
    jwks: { keys: [jwk] },
    sign: (subject, options = {}) => signWith(privateKey, kid, subject, options),
  };
}

export function signWith(key: CryptoKey, kid: string, subject: string, options: TokenOptions = {}): Promise<string> {
  return new SignJWT({ roles: options.roles ?? [], ...(options.email ? { email: options.email } : {}) })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
    .setSubject(subject)
    .setIssuer(options.issuer ?? TEST_ISSUER)
    .setAudience(options.audience ?? TEST_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '10m')
    .sign(key);
}

/** A token that looks right but is signed by a key nobody trusts. */
export async function forgedToken(subject: string, roles: Role[]): Promise<string> {
  const other = await createTokenIssuer('test-key-1');
  return other.sign(subject, { roles });
}

/** `alg: none`: an unsigned token, which every service must refuse. */
export function unsignedToken(subject: string, roles: Role[]): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: subject, roles, iss: TEST_ISSUER, aud: TEST_AUDIENCE, iat: now, exp: now + 600 })}.`;
}
