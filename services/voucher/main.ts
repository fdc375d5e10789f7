// The voucher service: serves specs/voucher.yaml through createVoucherDelegate, and runs the
// voucher integration behind it — the worker that gets codes from the provider (on
// voucher.requested, and by its reconciler until the deadline), and delivery (on voucher.issued /
// voucher.failed: SMS and signed webhooks, retried by their reconciler). README, "Vouchers".
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createVoucherRouter } from '../../generated/voucher/router.js';
import spec from '../../generated/voucher/spec.json' with { type: 'json' };
import { type ServiceDefinition, runMain } from '../common/bootstrap.js';
import { ValueSealer } from '../common/sealed-values.js';
import { CallbackUrlGuard } from './callback-url-guard.js';
import { Identity, exposeBearerToken } from './identity-client.js';
import { VoucherProvider } from './provider-client.js';
import { FileSmsSender, HttpSmsSender, type SmsSender } from './sms-sender.js';
import { loadVoucherConfig, secretsKeys } from './voucher-config.js';
import { createVoucherDelegate } from './voucher-delegate.js';
import { VoucherRepository, voucherIndexes } from './voucher-repository.js';
import { VoucherWorker } from './voucher-worker.js';
import { VoucherDelivery } from './webhook-delivery.js';

export const voucherService: ServiceDefinition = {
  name: 'voucher',
  defaultPort: 8083,
  spec,
  indexes: voucherIndexes,
  createApi({ env, clock, db, log, routerOptions, bus, outbox, announce, idempotency, reconcile, onShutdown }) {
    const settings = loadVoucherConfig(env);
    const keys = secretsKeys(settings, env);
    if (keys.devKey) log.warn('VOUCHER_SECRETS_KEY is unset: webhook secrets are encrypted under the development key (set it outside local runs)');
    if (settings.SMS_SENDER === 'http' && !settings.SMS_HTTP_URL) throw new Error('Invalid configuration:\n  SMS_HTTP_URL: set it when SMS_SENDER=http');

    const repository = new VoucherRepository(db, outbox, new ValueSealer(keys.current, keys.previous));
    outbox.register(repository.outboxSources());
    const guard = new CallbackUrlGuard(settings.WEBHOOK_ALLOWED_ORIGINS);
    onShutdown(async () => guard.close());
    const sms: SmsSender = settings.SMS_SENDER === 'http' ? new HttpSmsSender(settings.SMS_HTTP_URL!, settings.SMS_HTTP_TOKEN) : new FileSmsSender(settings.SMS_FILE);
    const provider = new VoucherProvider(settings.VOUCHER_PROVIDER_URL, settings.VOUCHER_PROVIDER_API_KEY, settings.VOUCHER_PROVIDER_CALLBACK_URL, settings.VOUCHER_PROVIDER_WAIT_MS);
    const worker = new VoucherWorker({ repository, provider, announce, log: log.child({ component: 'voucher-worker' }), now: clock });
    const delivery = new VoucherDelivery({
      repository,
      guard,
      sms,
      settings: { maxAttempts: settings.WEBHOOK_MAX_ATTEMPTS, retryBaseMs: settings.WEBHOOK_RETRY_BASE_MS, retryMaxMs: settings.WEBHOOK_RETRY_MAX_MS, timeoutMs: settings.WEBHOOK_TIMEOUT_MS },
      log: log.child({ component: 'voucher-delivery' }),
      now: clock,
    });

    bus.subscribe('voucher.requested', (event) => worker.obtain(event.data.voucherId));
    bus.subscribe('voucher.issued', (event) => delivery.deliver(event.data.voucherId, 'voucher.issued'));
    bus.subscribe('voucher.failed', (event) => delivery.deliver(event.data.voucherId, 'voucher.failed'));
    reconcile({ name: 'voucher-requests', pending: repository.pendingRequests, settle: (id, now) => worker.settle(id, now) });
    reconcile({ name: 'voucher-webhooks', pending: repository.pendingDeliveries, settle: (id, now) => delivery.settle(id, now) });

    const api = express.Router();
    // The caller's token goes on to the identity's /me (the phone-number check); never logged.
    api.use(exposeBearerToken(routerOptions.log ?? log));
    api.use(
      createVoucherRouter(
        createVoucherDelegate({
          repository,
          commands: idempotency,
          identity: new Identity(settings.IDENTITY_URL),
          guard,
          deadlineMs: settings.VOUCHER_DEADLINE_MS,
          announce,
          worker,
          now: clock,
        }),
        routerOptions,
      ),
    );
    return api;
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(voucherService);
