// The `bankApiKey` security scheme of specs/acquiring-bank.yaml: the caller's key in X-Api-Key,
// one of BANK_API_KEYS. Keys are compared as SHA-256 digests in constant time, and never logged:
// the principal is named by a short digest of its key.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { SecurityHandler } from '../../common/http/operation-router.js';
import { HttpProblem } from '../../common/http/problem.js';

const digest = (key: string) => createHash('sha256').update(key).digest();
const CHALLENGE = { 'www-authenticate': 'ApiKey realm="acquiring-bank", header="X-Api-Key"' };

export function bankApiKey(keys: readonly string[]): SecurityHandler {
  const known = keys.map(digest);
  return async (req) => {
    const sent = req.header('x-api-key');
    if (!sent) throw new HttpProblem(401, 'api-key-required', 'Send the key the bank gave you in the X-Api-Key header.', { headers: CHALLENGE });
    const sentDigest = digest(sent);
    // Every key is compared, whichever matches: the time taken says nothing about which.
    const matches = known.map((k) => timingSafeEqual(k, sentDigest)).some(Boolean);
    if (!matches) throw new HttpProblem(401, 'invalid-api-key', 'The key in X-Api-Key is not one this bank issued.', { headers: CHALLENGE });
    return { subject: `api-key:${sentDigest.toString('hex').slice(0, 12)}`, roles: [] };
  };
}
