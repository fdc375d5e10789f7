// The `providerApiKey` security scheme of specs/voucher-provider.yaml: the caller's key in
// X-Api-Key, one of PROVIDER_API_KEYS, compared as SHA-256 digests in constant time, never logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { SecurityHandler } from '../../common/http/operation-router.js';
import { HttpProblem } from '../../common/http/problem.js';

const digest = (key: string) => createHash('sha256').update(key).digest();
const CHALLENGE = { 'www-authenticate': 'ApiKey realm="voucher-provider", header="X-Api-Key"' };

export function providerApiKey(keys: readonly string[]): SecurityHandler {
  const known = keys.map(digest);
  return async (req) => {
    const sent = req.header('x-api-key');
    if (!sent) throw new HttpProblem(401, 'api-key-required', 'Send the key the provider gave you in the X-Api-Key header.', { headers: CHALLENGE });
    const sentDigest = digest(sent);
    if (!known.map((k) => timingSafeEqual(k, sentDigest)).some(Boolean)) {
      throw new HttpProblem(401, 'invalid-api-key', 'The key in X-Api-Key is not one this provider issued.', { headers: CHALLENGE });
    }
    return { subject: `api-key:${sentDigest.toString('hex').slice(0, 12)}`, roles: [] };
  };
}
