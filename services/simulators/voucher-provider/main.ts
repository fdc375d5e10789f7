// The voucher-provider simulator: serves specs/voucher-provider.yaml through
// createVoucherRequestsDelegate. A stand-in for the slow third party the voucher service buys
// codes from; callers send their key in X-Api-Key, no token. How fast it answers is chosen by the
// phone number's last digit or X-Simulate (README, "Voucher-provider simulator"), time-scaled by
// PROVIDER_TIME_SCALE so tests run the slow cases in milliseconds.
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createVoucherProviderRouter } from '../../../generated/voucher-provider/router.js';
import spec from '../../../generated/voucher-provider/spec.json' with { type: 'json' };
import { type ServiceDefinition, runMain } from '../../common/bootstrap.js';
import { writeProblem } from '../../common/http/errors.js';
import { problem } from '../../common/http/problem.js';
import { CodeCallbacks } from './code-callbacks.js';
import { DEV_PROVIDER_API_KEY, loadProviderConfig } from './provider-config.js';
import { VoucherProviderRepository, voucherProviderIndexes } from './provider-repository.js';
import { createVoucherRequestsDelegate } from './voucher-requests-delegate.js';
import { apiKeyAuth } from '../../common/auth/api-key.js';

export const voucherProviderService: ServiceDefinition = {
  name: 'voucher-provider',
  defaultPort: 8092,
  spec,
  indexes: voucherProviderIndexes,
  createApi({ env, db, log, routerOptions, reconcile, onShutdown }) {
    const settings = loadProviderConfig(env);
    if (env.NODE_ENV === 'production' && settings.PROVIDER_API_KEYS.includes(DEV_PROVIDER_API_KEY)) log.warn('the dev API key is in use: set PROVIDER_API_KEYS');
    const repository = new VoucherProviderRepository(db);
    const callbacks = new CodeCallbacks({
      repository,
      timeScale: settings.PROVIDER_TIME_SCALE,
      retryDelaysMs: settings.PROVIDER_CALLBACK_RETRY_DELAYS_MS,
      log: log.child({ component: 'code-callbacks' }),
    });
    // Callbacks a stop or a crash left owed: delivered by the reconciler.
    reconcile({ name: 'voucher-code-callbacks', pending: repository.pendingCallbacks, settle: (reference) => callbacks.settlePending(reference) });
    onShutdown(() => callbacks.stop());
    log.info({ timeScale: settings.PROVIDER_TIME_SCALE, latencyMs: settings.PROVIDER_LATENCY_MS, failureRate: settings.PROVIDER_FAILURE_RATE }, 'voucher provider opening');

    const api = express.Router();
    // Fault injection in front of the generated router: latency, and a share of 503s (nothing processed).
    api.use((req, res, next) => {
      const answer = () => {
        if (!(settings.PROVIDER_FAILURE_RATE > 0 && Math.random() < settings.PROVIDER_FAILURE_RATE)) return next();
        writeProblem(req, res, problem(503, 'provider-unavailable', 'The voucher provider is unavailable (injected failure); try again later.'), log, { 'retry-after': '1' });
      };
      if (settings.PROVIDER_LATENCY_MS > 0) setTimeout(answer, settings.PROVIDER_LATENCY_MS);
      else answer();
    });
    api.use(
      createVoucherProviderRouter(createVoucherRequestsDelegate({ repository, callbacks, timeScale: settings.PROVIDER_TIME_SCALE }), {
        ...routerOptions,
        security: { providerApiKey: apiKeyAuth(settings.PROVIDER_API_KEYS, { realm: 'voucher-provider', issuer: 'the provider' }) },
      }),
    );
    return api;
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(voucherProviderService);
