// Settlement callbacks: when a pending charge that named a `callbackUrl` settles, the bank POSTs
// the settled Charge there, signed per Standard Webhooks (webhook-id, webhook-timestamp,
// webhook-signature; HMAC-SHA256 under BANK_WEBHOOK_SECRET). Never on a request's path:
//
// - the request that made the charge lists it in the bank's pending callbacks (a PendingSet)
//   and starts a timer for its settlement time; the timer settles it (the first settle wins:
//   a GET may have settled it already) and delivers, retrying after BANK_CALLBACK_RETRY_DELAYS_MS;
// - a delivery the caller acknowledged (2xx) is marked once and leaves the pending set;
// - what a stop or a crash left undelivered (timers live in one process) is taken up by the
//   runtime's reconciler, on any instance of the bank, once older than RECONCILE_AFTER_MS: one
//   attempt per lease period, given up an hour after the settlement.
//
// Delivery is at least once: every attempt carries the same webhook-id (re-signed with a fresh
// timestamp), so a receiver recognises a repeat.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import type { AcquiringBankRepository, StoredCharge } from './acquiring-bank-repository.js';
import { currentCharge } from './charge-view.js';

export interface SettlementCallbackOptions {
  repository: AcquiringBankRepository;
  /** BANK_WEBHOOK_SECRET. */
  secret: string;
  /** Delays before each new attempt after the first (BANK_CALLBACK_RETRY_DELAYS_MS). */
  retryDelaysMs: readonly number[];
  log: Logger;
  /** A single attempt's time-out. */
  attemptTimeoutMs?: number;
  /** How long after its settlement an undelivered callback is still tried (by the reconciler). */
  giveUpAfterMs?: number;
  now?: () => Date;
}

export class SettlementCallbacks {
  private readonly webhook: Webhook;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** References this process's timers are working on: the reconciler leaves them alone. */
  private readonly running = new Set<string>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private readonly now: () => Date;

  constructor(private readonly options: SettlementCallbackOptions) {
    this.webhook = new Webhook(options.secret);
    this.now = options.now ?? (() => new Date());
  }

  /** After a pending charge with a callbackUrl was made: settle and deliver when its time comes. */
  schedule(charge: StoredCharge): void {
    if (this.stopping.signal.aborted || charge.settleAt === undefined) return;
    this.running.add(charge.reference);
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        this.track(this.settleAndDeliver(charge));
      },
      Math.max(0, Date.parse(charge.settleAt) - this.now().getTime()),
    );
    this.timers.add(timer);
  }

  /** The reconciler's settle: one attempt at a callback left undelivered (by `_id` only). */
  async settlePending(key: string): Promise<void> {
    const { repository, log } = this.options;
    const reference = repository.referenceOf(key);
    if (reference === undefined || this.running.has(reference)) return;
    const charge = await repository.charge(reference);
    if (!charge?.callbackUrl || charge.status !== '200' || (await repository.callbackDelivered(reference))) {
      await repository.pendingCallbacks.remove(key);
      return;
    }
    const body = await currentCharge(repository, charge, this.now());
    if (body.status === '200') return; // not due yet (a long BANK_SETTLE_AFTER_MS)
    const settledFor = this.now().getTime() - Date.parse(body.settledAt!);
    if (settledFor > (this.options.giveUpAfterMs ?? 3_600_000)) {
      log.error({ bank: repository.bank, reference, callbackUrl: charge.callbackUrl }, 'settlement callback given up: never acknowledged');
      await repository.pendingCallbacks.remove(key);
      return;
    }
    if (!(await this.attempt(charge, body))) throw new Error(`settlement callback for ${reference} not acknowledged`);
    await this.delivered(charge.reference);
  }

  /** Stops the timers and any delivery under way; what is left undelivered stays pending. */
  async stop(): Promise<void> {
    this.stopping.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.tasks]);
  }

  private track(task: Promise<void>): void {
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task));
  }

  private async settleAndDeliver(charge: StoredCharge): Promise<void> {
    const { repository, log, retryDelaysMs } = this.options;
    const context = { bank: repository.bank, reference: charge.reference, callbackUrl: charge.callbackUrl };
    try {
      let body = await currentCharge(repository, charge, this.now());
      // A timer may fire a millisecond early: wait out the rest.
      for (let i = 0; body.status === '200' && i < 100; i++) {
        await sleep(5, undefined, { signal: this.stopping.signal });
        body = await currentCharge(repository, charge, this.now());
      }
      if (body.status === '200') throw new Error('the charge did not settle at its time');
      log.info({ ...context, status: body.status, reason: body.reason }, 'charge settled');
      if (await repository.callbackDelivered(charge.reference)) return;
      for (let attempt = 0; attempt <= retryDelaysMs.length; attempt++) {
        if (attempt > 0) await sleep(retryDelaysMs[attempt - 1], undefined, { signal: this.stopping.signal });
        if (await this.attempt(charge, body)) {
          await this.delivered(charge.reference);
          return;
        }
      }
      log.warn({ ...context, attempts: retryDelaysMs.length + 1 }, 'settlement callback not acknowledged; the reconciler tries again later');
    } catch (err) {
      if (!this.stopping.signal.aborted) log.warn({ ...context, err }, 'settling a charge failed; the reconciler tries again later');
    } finally {
      this.running.delete(charge.reference);
    }
  }

  /** One signed POST of the charge to its callbackUrl; true when the receiver answered 2xx. */
  private async attempt(charge: StoredCharge, body: object): Promise<boolean> {
    const { repository, log } = this.options;
    const payload = JSON.stringify(body);
    const id = `${charge.bankChargeId}.settled`;
    const timestamp = this.now();
    try {
      const response = await fetch(charge.callbackUrl!, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/json',
          'user-agent': `payspec-acquiring-bank (${repository.bank})`,
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': this.webhook.sign(id, timestamp, payload),
        },
        body: payload,
        signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.options.attemptTimeoutMs ?? 5_000)]),
      });
      await response.body?.cancel();
      if (response.ok) return true;
      log.warn({ bank: repository.bank, reference: charge.reference, status: response.status }, 'settlement callback refused');
    } catch (err) {
      if (this.stopping.signal.aborted) throw err;
      log.warn({ bank: repository.bank, reference: charge.reference, err: (err as Error).message }, 'settlement callback failed');
    }
    return false;
  }

  private async delivered(reference: string): Promise<void> {
    const { repository, log } = this.options;
    await repository.markCallbackDelivered(reference, this.now());
    await repository.pendingCallbacks.remove(repository.key(reference));
    log.info({ bank: repository.bank, reference }, 'settlement callback delivered');
  }
}
