// The payment gateway: identity (the platform's token issuer) and wallets, serving
// specs/payment-gateway.yaml through createPaymentGatewayDelegate.
import { fileURLToPath } from 'node:url';
import { createPaymentGatewayRouter } from '../../generated/payment-gateway/router.js';
import spec from '../../generated/payment-gateway/spec.json' with { type: 'json' };
import { bearerJwt } from '../common/auth/bearer-jwt.js';
import { type ServiceDefinition, runMain } from '../common/bootstrap.js';
import { loadGatewayConfig, signingKeyEncryption } from './gateway-config.js';
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
  async createApi({ env, db, log, config, routerOptions, outbox, idempotency, announce, reconcile }) {
    const settings = loadGatewayConfig(env);
    const keys = await SigningKeys.load(db, settings.SIGNING_KEY, log, { accessTokenTtlS: settings.ACCESS_TOKEN_TTL_S, encryption: signingKeyEncryption(settings) });
    // Registrations, top-ups and transfers owe events: the repositories write outbox markers and
    // build the events from what they stored.
    const users = new IdentityRepository(db, outbox);
    const wallets = new WalletRepository(db, outbox);
    outbox.register(users.outboxSources()).register(wallets.outboxSources());
    await ensureFirstOperator(users, settings, log);
    // A transfer left pending (a crash, a request that died midway) is completed when its debit
    // was written and refused when it was not — by whichever instance leases it, once it is old
    // enough that no request is still working on it.
    reconcile({ name: 'wallet-transfers', pending: wallets.pendingTransfers, settle: (id) => wallets.settle(id) });

    const delegate = createPaymentGatewayDelegate({
      identity: { users, keys, settings, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, onChange: announce },
      wallet: { wallets, commands: idempotency, users, onChange: announce },
    });
    const security = { bearerAuth: bearerJwt({ issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, getKey: keys.getKey }) };
    return createPaymentGatewayRouter(delegate, { ...routerOptions, security });
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(paymentGatewayService);
