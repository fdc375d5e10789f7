// Bearer JWT verification for every service: tokens are checked locally against the issuer's
// JWKS (fetched and cached by jose), or against keys given in configuration. A token verified
// once is remembered for a short while (VERIFIED_TOKEN_TTL_MS, never past its own expiry): an
// ES256 signature check costs ~200 µs of CPU, a third of a simple authenticated read. The cache
// is keyed by the whole token, signature included, so only the very token that verified hits it.
import type { Request } from 'express';
import { LRUCache } from 'lru-cache';
import { createLocalJWKSet, createRemoteJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { Principal, Role } from '../http/context.js';
import type { SecurityHandler } from '../http/operation-router.js';
import { HttpProblem } from '../http/problem.js';

export const ROLES: readonly Role[] = ['customer', 'merchant', 'operator'];
/** Asymmetric only: `none` and HMAC tokens are refused whatever their header says. */
export const ACCEPTED_ALGORITHMS = ['ES256', 'EdDSA'];

export interface BearerJwtOptions {
  issuer: string;
  audience: string;
  /** The issuer's JWKS endpoint (cached; refetched on an unknown key id). */
  jwksUrl?: string;
  /** Or the public keys themselves. */
  jwks?: JSONWebKeySet;
  /** Or a key lookup of the issuer's own (the payment gateway verifies with its live key set). */
  getKey?: JWTVerifyGetKey;
  /** What time it is (tests move it). */
  now?: () => number;
}

/**
 * How long a verified token is taken on trust before its signature is checked again: short, so a
 * key withdrawn from the issuer's JWKS stops being honoured within seconds, as with the JWKS
 * cache itself. Tokens are never honoured past their `exp`.
 */
export const VERIFIED_TOKEN_TTL_MS = 30_000;
const VERIFIED_TOKENS_MAX = 10_000;

/** The protection space every Payspec service names in its WWW-Authenticate challenges. */
export const AUTH_REALM = 'payspec';

/**
 * The WWW-Authenticate value of a 401 (RFC 6750 §3): `Bearer realm="payspec"` when no token was
 * sent, with `error="invalid_token"` (and a short description) when the one sent is not usable.
 */
export function bearerChallenge(invalidToken?: { description: string }): string {
  return invalidToken
    ? `Bearer realm="${AUTH_REALM}", error="invalid_token", error_description="${invalidToken.description.replace(/["\\]/g, '')}"`
    : `Bearer realm="${AUTH_REALM}"`;
}

/** The challenge for a 401 written without one (e.g. a delegate's): invalid_token when a bearer token came with the request. */
export function challengeFor(req: Request): string {
  return /^bearer\s/i.test(req.header('authorization') ?? '') ? bearerChallenge({ description: 'The access token is not valid' }) : bearerChallenge();
}

const unauthorized = (code: string, detail: string, description: string) =>
  new HttpProblem(401, code, detail, { headers: { 'www-authenticate': bearerChallenge({ description }) } });

export function bearerJwt(options: BearerJwtOptions): SecurityHandler {
  const keys = options.getKey
    ? options.getKey
    : options.jwksUrl
      ? createRemoteJWKSet(new URL(options.jwksUrl), { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000, timeoutDuration: 5_000 })
      : options.jwks
        ? createLocalJWKSet(options.jwks)
        : undefined;
  if (!keys) throw new Error('bearerJwt needs getKey, jwksUrl or jwks');
  const now = options.now ?? Date.now;
  const verified = new LRUCache<string, { principal: Principal; until: number }>({ max: VERIFIED_TOKENS_MAX });

  return async (req: Request): Promise<Principal> => {
    const header = req.header('authorization');
    if (!header) throw new HttpProblem(401, 'missing-token', 'This operation needs an `Authorization: Bearer <token>` header.', { headers: { 'www-authenticate': bearerChallenge() } });
    const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/.exec(header);
    if (!match) throw unauthorized('malformed-token', 'The Authorization header is not a bearer JWT.', 'The Authorization header is not a bearer JWT');
    const token = match[1]!;
    const known = verified.get(token);
    if (known && now() < known.until) return known.principal;
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ACCEPTED_ALGORITHMS,
        requiredClaims: ['sub', 'exp', 'iat'],
        clockTolerance: 5,
        currentDate: new Date(now()),
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw unauthorized('token-expired', 'The access token has expired; refresh it.', 'The access token expired');
      if (err instanceof errors.JOSEError && !(err instanceof errors.JWKSTimeout)) {
        throw unauthorized('invalid-token', 'The access token is not valid for this API.', 'The access token is not valid');
      }
      // The key set could not be fetched: our outage, not the caller's fault.
      throw new HttpProblem(503, 'auth-unavailable', 'Token keys cannot be fetched right now; try again shortly.', { headers: { 'retry-after': '5' } });
    }
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is Role => ROLES.includes(r as Role)) : [];
    const principal: Principal = {
      subject: payload.sub!,
      roles,
      ...(typeof payload.email === 'string' ? { email: payload.email } : {}),
    };
    verified.set(token, { principal, until: Math.min(now() + VERIFIED_TOKEN_TTL_MS, payload.exp! * 1000) });
    return principal;
  };
}
