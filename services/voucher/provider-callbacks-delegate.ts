// The provider's late callback: the generated ProviderCallbacksDelegate, implemented. It has no
// token: the code verifier is the proof (RFC 7636 S256 against the challenge the provider
// acknowledged the request with). In order: an unknown request is 404; a verifier that does not
// match is 403 and nothing is stored; a request that already ended is 409 (it has its code: a
// replay) or 410 (it failed at its deadline); otherwise the code is stored, once — a replay racing
// the first delivery collides on the outcome's `_id` and gets the 409.
import type { ProviderCallbacksDelegate } from '../../generated/voucher/delegate.js';
import { problem } from '../common/http/problem.js';
import { type StoredOutcome, verifierMatches } from './voucher-domain.js';
import type { VoucherRepository } from './voucher-repository.js';
import type { VoucherWorker } from './voucher-worker.js';

const ended = (outcome: StoredOutcome) =>
  outcome.status === 'ISSUED'
    ? { status: 409 as const, body: problem(409, 'callback-replayed', 'This request has its code already; the callback is not applied again.') }
    : { status: 410 as const, body: problem(410, 'voucher-request-failed', 'This request failed (its deadline passed) before the code came.') };

export function createProviderCallbacksDelegate({ repository, worker }: { repository: VoucherRepository; worker: VoucherWorker }): ProviderCallbacksDelegate {
  return {
    async receiveProviderCallback({ body }, ctx) {
      const id = body.reference;
      let voucher = await repository.get(id);
      if (!voucher) return { status: 404, body: problem(404, 'voucher-not-found', `No voucher request ${id}.`) };
      // The provider may call back before its acknowledgement was stored here: ask it again for the challenge.
      if (voucher.codeChallenge === undefined) {
        await worker.obtain(id);
        voucher = (await repository.get(id)) ?? voucher;
        // It answered with the code itself instead: stored already, so this callback changes nothing.
        const decided = voucher.codeChallenge === undefined ? await repository.outcome(id) : undefined;
        if (decided) return ended(decided);
      }
      if (voucher.codeChallenge === undefined || !verifierMatches(body.codeVerifier, voucher.codeChallenge)) {
        ctx.log.warn({ voucherId: id }, 'provider callback refused: the code verifier does not match the challenge');
        return { status: 403, body: problem(403, 'code-verifier-mismatch', 'The code verifier does not match the challenge of this request (RFC 7636 S256).') };
      }
      const existing = await repository.outcome(id);
      if (existing) return ended(existing);
      const { decided, outcome } = await worker.issue(id, body.voucherCode, body.status, 'callback');
      if (!decided) return ended(outcome);
      return { status: 204 };
    },
  };
}
