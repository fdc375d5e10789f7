// API-key security schemes (the simulators' `X-Api-Key`): the caller's key must be one of the
// configured keys. Keys are compared as SHA-256 digests in constant time — every key, whichever
// matches, so the time taken says nothing about which — and never logged: the principal is named
// by a short digest of its key.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { SecurityHandler } from '../http/operation-router.js';
import { HttpProblem } from '../http/problem.js';

const digest = (key: string) => createHash('sha256').update(key).digest();

/** `realm` names the service in the challenge; `issuer` how its 401s speak of it ("the bank"). */
export function apiKeyAuth(keys: readonly string[], { realm, issuer }: { realm: string; issuer: string }): SecurityHandler {
  const known = keys.map(digest);
  const challenge = { 'www-authenticate': `ApiKey realm="${realm}", header="X-Api-Key"` };
  return async (req) => {
    const sent = req.header('x-api-key');
    if (!sent) throw new HttpProblem(401, 'api-key-required', `Send the key ${issuer} gave you in the X-Api-Key header.`, { headers: challenge });
    const sentDigest = digest(sent);
    const matches = known.map((k) => timingSafeEqual(k, sentDigest)).some(Boolean);
    if (!matches) throw new HttpProblem(401, 'invalid-api-key', `The key in X-Api-Key is not one ${issuer.replace(/^the /, 'this ')} issued.`, { headers: challenge });
    return { subject: `api-key:${sentDigest.toString('hex').slice(0, 12)}`, roles: [] };
  };
}
