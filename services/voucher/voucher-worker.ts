// The integration worker: gets each request's code from the provider.
//   - on voucher.requested it asks the provider and waits up to VOUCHER_PROVIDER_WAIT_MS: a code
//     in time is stored (the outcome, once); a challenge is kept for the late callback; no usable
//     answer leaves the request pending;
//   - the reconciler, for requests still pending after RECONCILE_AFTER_MS (voucher_pending):
//     past the deadline the request fails (voucher.failed); before it, the provider is asked again
//     (idempotent on our reference: the code if it is ready by now, else the same challenge), which
//     also finishes what a crash interrupted;
//   - the provider's late callback (provider-callbacks-delegate.ts) stores the code through `issue`.
import type { Logger } from 'pino';
import type { VoucherProvider } from './provider-client.js';
import type { ProviderStatus, StoredOutcome } from './voucher-domain.js';
import type { VoucherRepository } from './voucher-repository.js';

export interface WorkerDeps {
  repository: VoucherRepository;
  provider: VoucherProvider;
  /** Called after an outcome is stored, so its event goes out now. */
  announce: () => void;
  log: Logger;
  now?: () => Date;
}

export class VoucherWorker {
  private readonly now: () => Date;

  constructor(private readonly deps: WorkerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Asks the provider for a pending request's code; the answer is stored (code or challenge). */
  async obtain(voucherId: string): Promise<void> {
    const { repository, provider, log } = this.deps;
    const voucher = await repository.get(voucherId);
    if (!voucher) throw new Error(`voucher ${voucherId} not found`);
    if (await repository.outcome(voucherId)) return;
    const answer = await provider.ask(voucherId, voucher.phoneNumber);
    if (answer.kind === 'code') {
      await this.issue(voucherId, answer.voucherCode, answer.providerStatus, 'answer');
    } else if (answer.kind === 'challenge') {
      await repository.recordChallenge(voucherId, answer.codeChallenge, this.now());
      log.info({ voucherId }, 'the provider acknowledged; the code will come by callback');
    } else {
      log.warn({ voucherId, why: answer.why }, 'no usable answer from the provider; the reconciler asks again');
    }
  }

  /** Stores the code once; `decided: false` when the request already has its outcome. */
  async issue(voucherId: string, voucherCode: string, providerStatus: ProviderStatus, via: 'answer' | 'callback'): Promise<{ decided: boolean; outcome: StoredOutcome }> {
    const result = await this.deps.repository.decide({ _id: voucherId, status: 'ISSUED', voucherCode, providerStatus, via, at: this.now().toISOString() });
    if (result.decided) {
      this.deps.announce();
      this.deps.log.info({ voucherId, providerStatus, via }, 'voucher code stored');
    }
    return result;
  }

  /** The reconciler's settle for a request still pending. */
  async settle(voucherId: string, now: Date): Promise<void> {
    const { repository, log } = this.deps;
    if (await repository.outcome(voucherId)) {
      // Decided (by a writer that died before clearing it): its event is on its way.
      await repository.pendingRequests.remove(voucherId);
      return;
    }
    const voucher = await repository.get(voucherId);
    if (!voucher) {
      // Never stored (a crash between listing it and storing it; the reconciler sees only old items).
      await repository.pendingRequests.remove(voucherId);
      return;
    }
    if (now.getTime() >= Date.parse(voucher.deadlineAt)) {
      const { decided } = await repository.decide({ _id: voucherId, status: 'FAILED', reason: 'provider-deadline', at: now.toISOString() });
      if (decided) log.warn({ voucherId }, 'voucher request failed: no code before the deadline');
      return;
    }
    await this.obtain(voucherId);
  }
}
