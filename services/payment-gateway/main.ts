// The payment gateway: identity (the platform's token issuer) and wallets, serving
// specs/payment-gateway.yaml through createPaymentGatewayDelegate.
import { fileURLToPath } from 'node:url';
import { createPaymentGatewayRouter } from '../../generated/payment-gateway/router.js';
import spec from '../../generated/payment-gateway/spec.json' with { type: 'json' };
import { bearerJwt } from '../common/auth/bearer-jwt.js';
import { type ServiceDefinition, runMain } from '../common/bootstrap.js';
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
  indexes: { ...identityIndexes, ...walletIndexes },
  issuesTokens: true,
  async createApi({ env, db, log, config, routerOptions, bus, onShutdown }) {
    const settings = loadGatewayConfig(env);
    const keys = await SigningKeys.load(db, settings.SIGNING_KEY, log, { accessTokenTtlS: settings.ACCESS_TOKEN_TTL_S });
    const users = new IdentityRepository(db);
    await ensureFirstOperator(users, settings, log);
    const wallets = new WalletRepository(db, settings.WALLET_CURRENCY);
    // A transfer a crash interrupted is completed (its debit was written) or refused (it was not).
    const recovered = await wallets.recoverTransfers();
    if (recovered > 0) log.warn({ recovered }, 'settled transfers left by an interrupted run');

    // Registrations, top-ups and transfers are announced through their records (the outbox).
    const relays = [users, wallets].map((store) => new OutboxRelay(bus, store, log.child({ component: 'outbox-relay' })));
    for (const relay of relays) {
      relay.start();
      onShutdown(() => relay.stop());
    }
    const announce = () => relays.forEach((relay) => relay.notify());

    const delegate = createPaymentGatewayDelegate({
      identity: { users, keys, settings, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, onChange: announce },
      wallet: { wallets, users, onChange: announce },
    });
    const security = { bearerAuth: bearerJwt({ issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, getKey: keys.getKey }) };
    return createPaymentGatewayRouter(delegate, { ...routerOptions, security });
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(paymentGatewayService);
