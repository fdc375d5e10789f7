// The payment gateway: identity (the platform's token issuer) and wallets, serving
// specs/payment-gateway.yaml through createPaymentGatewayDelegate.
import { fileURLToPath } from 'node:url';
import { createPaymentGatewayRouter } from '../../generated/payment-gateway/router.js';
import spec from '../../generated/payment-gateway/spec.json' with { type: 'json' };
import { bearerJwt } from '../common/auth/bearer-jwt.js';
import { type ServiceDefinition, runMain } from '../common/bootstrap.js';
import { Reconciler } from '../common/data/reconciler.js';
import { Outbox, outboxIndexes } from '../common/events/outbox.js';
import { OutboxRelay } from '../common/events/outbox-relay.js';
import { loadGatewayConfig } from './gateway-config.js';
import { IdentityRepository, ensureFirstOperator, identityIndexes } from './identity/identity-repository.js';
import { SigningKeys } from './identity/signing-keys.js';
import { createPaymentGatewayDelegate } from './payment-gateway-delegate.js';
import { WalletRepository, walletIndexes } from './wallet/wallet-repository.js';

export const paymentGatewayService: ServiceDefinition = {
  name: 'payment-gateway',
  defaultPort: 8080,
  spec,
  indexes: { ...identityIndexes, ...walletIndexes, ...outboxIndexes },
  issuesTokens: true,
  async createApi({ env, db, log, config, routerOptions, bus, onShutdown }) {
    const settings = loadGatewayConfig(env);
    const keys = await SigningKeys.load(db, settings.SIGNING_KEY, log, { accessTokenTtlS: settings.ACCESS_TOKEN_TTL_S });
    // Registrations, top-ups and transfers owe events: markers in the outbox, built from the
    // stored state by each repository's sources and relayed to the bus.
    const outbox = new Outbox(db);
    const users = new IdentityRepository(db, outbox);
    const wallets = new WalletRepository(db, settings.WALLET_CURRENCY, outbox);
    outbox.register(users.outboxSources()).register(wallets.outboxSources());
    await ensureFirstOperator(users, settings, log);
    const relay = new OutboxRelay(bus, outbox, log.child({ component: 'outbox-relay' }));
    relay.start();
    onShutdown(() => relay.stop());
    const announce = () => relay.notify();

    // A transfer left pending (a crash, a request that died midway) is completed when its debit
    // was written and refused when it was not — by whichever instance leases it, once it is old
    // enough that no request is still working on it.
    const reconciler = new Reconciler(db, {
      name: 'wallet-transfers',
      pending: wallets.pendingTransfers,
      settle: async (id) => {
        await wallets.settle(id);
        announce();
      },
      minAgeMs: settings.RECONCILE_AFTER_MS,
      intervalMs: settings.RECONCILE_INTERVAL_MS,
      log: log.child({ component: 'reconciler' }),
    });
    reconciler.start();
    onShutdown(() => reconciler.stop());

    const delegate = createPaymentGatewayDelegate({
      identity: { users, keys, settings, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, onChange: announce },
      wallet: { wallets, users, onChange: announce },
    });
    const security = { bearerAuth: bearerJwt({ issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, getKey: keys.getKey }) };
    return createPaymentGatewayRouter(delegate, { ...routerOptions, security });
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(paymentGatewayService);
