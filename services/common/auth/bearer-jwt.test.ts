// bearerJwt's memory of verified tokens: it spares the signature check of a token seen moments
// ago, and never stretches what a token may do — not past its expiry, not for another token.
import { expect } from 'chai';
import type { Request } from 'express';
import { type JWTVerifyGetKey, createLocalJWKSet } from 'jose';
import { createTokenIssuer, forgedToken } from '../../../tools/testing/tokens.js';
import { HttpProblem } from '../http/problem.js';
import { VERIFIED_TOKEN_TTL_MS, bearerJwt } from './bearer-jwt.js';

const request = (token: string) => ({ header: (name: string) => (name.toLowerCase() === 'authorization' ? `Bearer ${token}` : undefined) }) as unknown as Request;

async function refusal(promise: Promise<unknown>): Promise<HttpProblem> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'refused').to.be.instanceOf(HttpProblem);
  return err as HttpProblem;
}

describe('bearerJwt: verified tokens remembered briefly', () => {
  it('answers a repeated token from memory until its expiry, then refuses it as expired', async () => {
    const issuer = await createTokenIssuer();
    let clock = Date.now();
    const verify = bearerJwt({ issuer: 'payspec-identity', audience: 'payspec', jwks: issuer.jwks, now: () => clock });
    const token = await issuer.sign('usr_cache', { roles: ['merchant'], expiresIn: Math.floor(clock / 1000) + 20 });
    expect(await verify(request(token))).to.deep.include({ subject: 'usr_cache', roles: ['merchant'] });
    clock += 10_000;
    expect((await verify(request(token))).subject, 'before its expiry').to.equal('usr_cache');
    clock += 20_000; // past exp + the 5 s tolerance
    expect((await refusal(verify(request(token)))).problem.code).to.equal('token-expired');
  });

  it('checks a signature once per token while remembered, again once the memory lapses, and never lets another token ride on a remembered one', async () => {
    const issuer = await createTokenIssuer();
    let clock = Date.now();
    const keys = createLocalJWKSet(issuer.jwks);
    let keyLookups = 0;
    const getKey: JWTVerifyGetKey = (header, token) => {
      keyLookups++;
      return keys(header, token);
    };
    const verify = bearerJwt({ issuer: 'payspec-identity', audience: 'payspec', getKey, now: () => clock });
    const token = await issuer.sign('usr_cache', { roles: ['customer'] });
    await verify(request(token));
    await verify(request(token));
    expect(keyLookups, 'the second call is answered from memory').to.equal(1);
    // The same claims signed by another key: a different token, so a full check, which fails.
    expect((await refusal(verify(request(await forgedToken('usr_cache', ['customer']))))).problem.code).to.equal('invalid-token');
    // The remembered token with its signature altered is another string: checked, refused.
    const [head, body, signature] = token.split('.');
    const altered = `${head}.${body}.${signature!.startsWith('A') ? 'B' : 'A'}${signature!.slice(1)}`;
    expect((await refusal(verify(request(altered)))).problem.code).to.equal('invalid-token');
    // After the memory lapses the token is verified again (still valid here).
    keyLookups = 0;
    clock += VERIFIED_TOKEN_TTL_MS + 1;
    expect((await verify(request(token))).subject).to.equal('usr_cache');
    expect(keyLookups, 'verified again').to.equal(1);
  });
});
