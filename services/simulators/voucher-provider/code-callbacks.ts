// Late codes: when a request acknowledged with a challenge has its code ready, the provider POSTs
// the code with the challenge's verifier to the request's callbackUrl. A 2xx ends it, a 4xx is
// final (the receiver refused it), anything else (or no answer) is sent again after each of
// PROVIDER_CALLBACK_RETRY_DELAYS_MS, time-scaled. Scenarios `wrong-verifier` (a verifier that is
// not the challenge's) and `replay` (the acknowledged callback sent once more) misbehave on purpose.
//
// Timers live in this process; the runtime's reconciler takes up what a restart left owed, one
// attempt per pass.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Schemas } from '../../../generated/voucher-provider/delegate.js';
import { MESSAGES, deliveryStatus, newCodeVerifier } from './provider-domain.js';
import type { CallbackAttempt, StoredRequest, VoucherProviderRepository } from './provider-repository.js';

export interface CodeCallbackOptions {
  repository: VoucherProviderRepository;
  timeScale: number;
  retryDelaysMs: readonly number[];
  log: Logger;
  attemptTimeoutMs?: number;
}

export class CodeCallbacks {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<string>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(private readonly options: CodeCallbackOptions) {}

  /** After a request was acknowledged: call back when its code is ready. */
  schedule(request: StoredRequest): void {
    if (this.stopping.signal.aborted || request.readyAt === undefined || this.running.has(request._id)) return;
    this.running.add(request._id);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const task = this.deliver(request).finally(() => this.running.delete(request._id));
      this.tasks.add(task);
      void task.finally(() => this.tasks.delete(task));
    }, Math.max(0, Date.parse(request.readyAt) - Date.now()));
    this.timers.add(timer);
  }

  /** The reconciler's settle: one attempt at a callback a restart left owed. */
  async settlePending(reference: string): Promise<void> {
    if (this.running.has(reference)) return;
    const request = await this.options.repository.get(reference);
    if (!request || request.callbackEnded || request.readyAt === undefined) {
      await this.options.repository.pendingCallbacks.remove(reference);
      return;
    }
    if (Date.parse(request.readyAt) > Date.now()) return;
    await this.attempt(request, this.bodyOf(request), false);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.tasks]);
  }

  private bodyOf(request: StoredRequest): Schemas['VoucherCodeCallback'] {
    const status = deliveryStatus(new Date(request.createdAt), new Date(request.readyAt!), this.options.timeScale);
    return {
      reference: request._id,
      // The wrong-verifier scenario proves a verifier of the right shape that is not the challenge's.
      codeVerifier: request.scenario === 'wrong-verifier' ? newCodeVerifier() : request.codeVerifier,
      status,
      voucherCode: request.voucherCode,
      message: status === 'LATE_SUCCESS' ? MESSAGES.late : MESSAGES.ready,
    };
  }

  private async deliver(request: StoredRequest): Promise<void> {
    const { retryDelaysMs, timeScale, log } = this.options;
    const body = this.bodyOf(request);
    try {
      for (let attempt = 0; attempt <= retryDelaysMs.length; attempt++) {
        if (attempt > 0) await sleep(retryDelaysMs[attempt - 1]! * timeScale, undefined, { signal: this.stopping.signal });
        const last = attempt === retryDelaysMs.length;
        const outcome = await this.attempt(request, body, last);
        if (outcome === 'failed') continue;
        // The replay scenario sends the acknowledged callback once more, as a replaying attacker would.
        if (request.scenario === 'replay' && outcome === 'acknowledged') await this.attempt(request, body, true);
        return;
      }
      log.warn({ reference: request._id }, 'voucher code callback given up: never acknowledged');
    } catch (err) {
      if (!this.stopping.signal.aborted) log.warn({ reference: request._id, err: (err as Error).message }, 'voucher code callback failed; the reconciler tries again');
    }
  }

  /** One POST of the code; records and returns its outcome (`ended` marks a failed one as the last). */
  private async attempt(request: StoredRequest, body: Schemas['VoucherCodeCallback'], ended: boolean): Promise<CallbackAttempt['outcome']> {
    let httpStatus: number | undefined;
    try {
      const response = await fetch(request.callbackUrl, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/json', 'user-agent': 'payspec-voucher-provider' },
        body: JSON.stringify(body),
        signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.options.attemptTimeoutMs ?? 5_000)]),
      });
      httpStatus = response.status;
      await response.body?.cancel();
    } catch (err) {
      if (this.stopping.signal.aborted) throw err;
    }
    const outcome: CallbackAttempt['outcome'] =
      httpStatus !== undefined && httpStatus >= 200 && httpStatus < 300 ? 'acknowledged' : httpStatus !== undefined && httpStatus >= 400 && httpStatus < 500 ? 'refused' : 'failed';
    // The code itself is never logged.
    this.options.log.info({ reference: request._id, httpStatus, outcome, scenario: request.scenario }, 'voucher code callback sent');
    await this.options.repository.recordAttempt(request._id, { at: new Date().toISOString(), ...(httpStatus !== undefined ? { httpStatus } : {}), outcome }, outcome !== 'failed' || ended);
    return outcome;
  }
}
