// Delivering a voucher's outcome to its owner: the code by SMS (issued vouchers; at most once,
// claimed before sending), and — when the request named a callbackUrl — a Standard Webhooks
// message (webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA256 under the customer's
// secret, signed by the `standardwebhooks` package) POSTed there through the SSRF guard.
//
// One attempt at once per delivery: the first is the event handler's (the inbox never runs a
// handler twice at once) and is recorded after it is made, in one write — the delivery exists only
// from then on, so the reconciler cannot meet it; each retry is claimed (`webhook_attempts/<id>#<n>`)
// before it is sent, so two reconciler passes, or two instances, never send it twice, and a claim
// whose sender died (older than twice the attempt time-out) counts as a failed attempt. A 2xx
// ends the delivery (DELIVERED), a 410 stops it (STOPPED); anything else, or no answer, is tried
// again after an exponential delay with jitter, by the reconciler, until WEBHOOK_MAX_ATTEMPTS
// (UNDELIVERED). Every attempt carries the same webhook-id: delivery is at least once (a crash
// between the receiver's 2xx and our record sends it again), and a receiver skips an id it has
// handled. Neither the code nor the secret is ever logged.
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { type CallbackUrlGuard, post } from './callback-url-guard.js';
import type { SmsSender } from './sms-sender.js';
import { type StoredDelivery, retryDelayMs } from './voucher-domain.js';
import type { VoucherRepository } from './voucher-repository.js';

export interface WebhookSettings {
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  timeoutMs: number;
}

export interface DeliveryDeps {
  repository: VoucherRepository;
  guard: CallbackUrlGuard;
  sms: SmsSender;
  settings: WebhookSettings;
  log: Logger;
  now?: () => Date;
}

export const webhookIdOf = (voucherId: string, event: StoredDelivery['event']) => `msg_${voucherId}_${event === 'voucher.issued' ? 'issued' : 'failed'}`;

export class VoucherDelivery {
  private readonly now: () => Date;

  constructor(private readonly deps: DeliveryDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** On voucher.issued / voucher.failed: the SMS (issued only), then the webhook's first attempt. */
  async deliver(voucherId: string, event: StoredDelivery['event']): Promise<void> {
    const { repository } = this.deps;
    const voucher = await repository.get(voucherId);
    if (!voucher) throw new Error(`voucher ${voucherId} not found`);
    if (event === 'voucher.issued') await this.sendSms(voucherId, voucher.phoneNumber);
    if (voucher.callbackUrl === undefined) return;
    const recorded = await repository.delivery(voucherId);
    if (recorded) {
      // A redelivery of the event after the first attempt was recorded: the retries are the reconciler's.
      return;
    }
    // The first attempt is the event handler's (the inbox runs it once at a time) and is recorded
    // after it is made, in one write: a crash in between makes it again (the same webhook-id).
    const at = this.now();
    const result = await this.send(voucherId, event, 1);
    await repository.recordDelivery({ _id: voucherId, event, createdAt: at.toISOString(), ...this.after(voucherId, 1, result) });
  }

  /** The reconciler's settle: the next attempt of a delivery, if it is due. */
  async settle(voucherId: string, now: Date): Promise<void> {
    const delivery = await this.deps.repository.delivery(voucherId);
    if (!delivery || delivery.status !== 'PENDING') {
      await this.deps.repository.pendingDeliveries.remove(voucherId);
      return;
    }
    if (delivery.nextAttemptAt !== undefined && Date.parse(delivery.nextAttemptAt) > now.getTime()) return;
    await this.attempt(delivery, now);
  }

  private async sendSms(voucherId: string, phoneNumber: string): Promise<void> {
    const { repository, sms, log } = this.deps;
    const outcome = await repository.outcome(voucherId);
    if (outcome?.status !== 'ISSUED') return;
    if (!(await repository.claimSms(voucherId, this.now()))) return;
    try {
      await sms.send({ to: phoneNumber, reference: voucherId, text: `Your voucher code: ${outcome.voucherCode}` });
      log.info({ voucherId }, 'voucher code sent by SMS');
    } catch (err) {
      // Not sent: free the claim, so the event's retry sends it.
      await repository.releaseSms(voucherId);
      throw err;
    }
  }

  /** A retry (attempt 2 on): claimed first, so the reconciler on two instances never sends it twice. */
  private async attempt(delivery: StoredDelivery, now: Date): Promise<void> {
    const { repository, settings } = this.deps;
    const id = delivery._id;
    // Claim the next attempt; one whose sender died long ago counts as made (and failed).
    let n = delivery.attempts + 1;
    for (;;) {
      if (n > settings.maxAttempts) {
        await repository.updateDelivery(id, { status: 'UNDELIVERED', attempts: settings.maxAttempts, endedAt: now.toISOString() });
        return;
      }
      if (await repository.claimAttempt(id, n, now)) break;
      const claimedAt = await repository.attemptClaimedAt(id, n);
      if (claimedAt && now.getTime() - claimedAt.getTime() < 2 * settings.timeoutMs + 1_000) return; // under way elsewhere
      n++;
    }
    await repository.updateDelivery(id, this.after(id, n, await this.send(id, delivery.event, n)));
  }

  /** Attempt `n`: one signed POST of the webhook; the receiver's status, or undefined when there was no answer. */
  private async send(id: string, event: StoredDelivery['event'], n: number): Promise<{ sentAt: Date; status?: number; unsendable?: true }> {
    const { repository, settings, log } = this.deps;
    const sentAt = this.now();
    const voucher = await repository.get(id);
    const outcome = await repository.outcome(id);
    const secret = voucher ? await repository.secretOf(voucher.userId) : undefined;
    if (!voucher?.callbackUrl || !outcome || !secret) {
      log.error({ voucherId: id, hasSecret: secret !== undefined }, 'webhook cannot be sent: no callback URL, outcome or secret');
      return { sentAt, unsendable: true };
    }
    const webhookId = webhookIdOf(id, event);
    const payload = JSON.stringify({
      type: event,
      timestamp: outcome.at,
      data: {
        voucherId: id,
        phoneNumber: voucher.phoneNumber,
        status: outcome.status,
        ...(outcome.status === 'ISSUED' ? { voucherCode: outcome.voucherCode, providerStatus: outcome.providerStatus, issuedAt: outcome.at } : { failureReason: outcome.reason, failedAt: outcome.at }),
      },
    });
    const url = new URL(voucher.callbackUrl);
    try {
      const status = await post(
        url,
        this.deps.guard.agentFor(url),
        {
          'content-type': 'application/json',
          'user-agent': 'payspec-voucher-webhooks',
          'webhook-id': webhookId,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': new Webhook(secret).sign(webhookId, sentAt, payload),
        },
        payload,
        settings.timeoutMs,
      );
      return { sentAt, status };
    } catch (err) {
      // A refused connection (the SSRF guard at connection time), a reset, a time-out: a failed attempt.
      log.warn({ voucherId: id, attempt: n, err: (err as Error).message }, 'webhook attempt failed');
      return { sentAt };
    }
  }

  /** What attempt `n` with this result makes of the delivery: ended (2xx, 410, the last attempt) or due again later. */
  private after(id: string, n: number, result: { sentAt: Date; status?: number; unsendable?: true }): Omit<StoredDelivery, '_id' | 'event' | 'createdAt'> {
    const { settings, log } = this.deps;
    const { status } = result;
    const attempted = { attempts: n, lastAttemptAt: result.sentAt.toISOString(), ...(status !== undefined ? { lastResponseStatus: status } : {}) };
    const endedAt = this.now().toISOString();
    if (result.unsendable) return { ...attempted, status: 'UNDELIVERED', endedAt };
    if (status !== undefined && status >= 200 && status < 300) {
      log.info({ voucherId: id, attempt: n, status }, 'webhook delivered');
      return { ...attempted, status: 'DELIVERED', endedAt };
    }
    if (status === 410) {
      log.info({ voucherId: id, attempt: n }, 'webhook receiver answered 410: delivery stopped');
      return { ...attempted, status: 'STOPPED', endedAt };
    }
    if (n >= settings.maxAttempts) {
      log.warn({ voucherId: id, attempts: n, status }, 'webhook undelivered: every attempt failed');
      return { ...attempted, status: 'UNDELIVERED', endedAt };
    }
    const next = new Date(this.now().getTime() + retryDelayMs(n, settings.retryBaseMs, settings.retryMaxMs));
    if (status !== undefined) log.info({ voucherId: id, attempt: n, status, nextAttemptAt: next.toISOString() }, 'webhook refused; tried again later');
    return { ...attempted, status: 'PENDING', nextAttemptAt: next.toISOString() };
  }
}
