// The acquiring-bank simulator: serves specs/acquiring-bank.yaml through
// createAcquiringBankDelegate. Each running instance is one bank (BANK_NAME); `make run` starts
// two (services/registry.ts). It takes no tokens: callers send their key in X-Api-Key.
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createAcquiringBankRouter } from '../../../generated/acquiring-bank/router.js';
import spec from '../../../generated/acquiring-bank/spec.json' with { type: 'json' };
import { type ServiceDefinition, runMain } from '../../common/bootstrap.js';
import { createAcquiringBankDelegate } from './acquiring-bank-delegate.js';
import { AcquiringBankRepository, acquiringBankIndexes } from './acquiring-bank-repository.js';
import { DEV_API_KEY, DEV_WEBHOOK_SECRET, loadBankConfig } from './bank-config.js';
import { faultInjection } from './fault-injection.js';
import { SettlementCallbacks } from './settlement-callbacks.js';
import { apiKeyAuth } from '../../common/auth/api-key.js';

export const acquiringBankService: ServiceDefinition = {
  name: 'acquiring-bank',
  defaultPort: 8090,
  spec,
  indexes: acquiringBankIndexes,
  createApi({ env, db, log, routerOptions, reconcile, onShutdown }) {
    const settings = loadBankConfig(env);
    const bank = settings.BANK_NAME;
    if (env.NODE_ENV === 'production' && (settings.BANK_API_KEYS.includes(DEV_API_KEY) || settings.BANK_WEBHOOK_SECRET === DEV_WEBHOOK_SECRET)) {
      log.warn({ bank }, 'the dev API key or webhook secret is in use: set BANK_API_KEYS and BANK_WEBHOOK_SECRET');
    }
    const repository = new AcquiringBankRepository(db, bank);
    const callbacks = new SettlementCallbacks({
      repository,
      secret: settings.BANK_WEBHOOK_SECRET,
      retryDelaysMs: settings.BANK_CALLBACK_RETRY_DELAYS_MS,
      log: log.child({ component: 'settlement-callbacks' }),
    });
    // Callbacks a stop or a crash left undelivered: any instance of this bank delivers them.
    reconcile({ name: `bank-callbacks-${bank}`, pending: repository.pendingCallbacks, settle: (key) => callbacks.settlePending(key) });
    onShutdown(() => callbacks.stop());

    const delegate = createAcquiringBankDelegate({
      charges: { repository, callbacks, settleAfterMs: settings.BANK_SETTLE_AFTER_MS, timeoutCardDelayMs: settings.BANK_TIMEOUT_CARD_DELAY_MS },
      directDebits: { repository },
    });
    log.info(
      { bank, latencyMs: settings.BANK_LATENCY_MS, failureRate: settings.BANK_FAILURE_RATE, failureMode: settings.BANK_FAILURE_MODE },
      `acquiring bank ${bank} opening`,
    );
    const api = express.Router();
    api.use(
      faultInjection({ bank, latencyMs: settings.BANK_LATENCY_MS, failureRate: settings.BANK_FAILURE_RATE, failureMode: settings.BANK_FAILURE_MODE, log }),
    );
    // The bank's only scheme is its API key (the runtime's bearer verification is not used).
    api.use(createAcquiringBankRouter(delegate, { ...routerOptions, security: { bankApiKey: apiKeyAuth(settings.BANK_API_KEYS, { realm: 'acquiring-bank', issuer: 'the bank' }) } }));
    return api;
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(acquiringBankService);
