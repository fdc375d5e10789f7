// The payment gateway: identity (the platform's token issuer), wallets and card payments, serving
// specs/payment-gateway.yaml through createPaymentGatewayDelegate; and direct debits authorizing
// billing operations (billing.payment-requested → payment.authorized / payment.declined).
import { fileURLToPath } from 'node:url';
import { createPaymentGatewayRouter } from '../../generated/payment-gateway/router.js';
import spec from '../../generated/payment-gateway/spec.json' with { type: 'json' };
import { bearerJwt } from '../common/auth/bearer-jwt.js';
import { type ServiceDefinition, runMain } from '../common/bootstrap.js';
import { loadConfig } from '../common/config.js';
import { MANDATE_SEAL_DEV_KEY_WARNING, mandateSealSpecs, mandateSealer } from '../common/sealed-values.js';
import { DirectDebits } from './direct-debits/direct-debits-handler.js';
import { DirectDebitsRepository, directDebitIndexes } from './direct-debits/direct-debits-repository.js';
import { loadGatewayConfig, signingKeyEncryption } from './gateway-config.js';
import { IdentityRepository, ensureFirstOperator, identityIndexes } from './identity/identity-repository.js';
import { SigningKeys } from './identity/signing-keys.js';
import { createPaymentGatewayDelegate } from './payment-gateway-delegate.js';
import { Banks, parseNamedList } from './payments/bank-client.js';
import { CARD_VAULT_DEV_KEYS_WARNING, CardVault, cardVaultIndexes, parseVaultKeys } from './payments/card-vault.js';
import { settlePendingPayment } from './payments/payment-settlement.js';
import { PaymentsRepository, paymentIndexes } from './payments/payments-repository.js';
import { WalletRepository, walletIndexes } from './wallet/wallet-repository.js';

export const paymentGatewayService: ServiceDefinition = {
  name: 'payment-gateway',
  defaultPort: 8080,
  spec,
  indexes: { ...identityIndexes, ...walletIndexes, ...paymentIndexes, ...cardVaultIndexes, ...directDebitIndexes },
  issuesTokens: true,
  async createApi({ env, db, log, config, routerOptions, bus, outbox, idempotency, announce, reconcile, clock }) {
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

    // Card payments: each merchant's acquiring bank from configuration; cards in the vault; a
    // pending payment (bank slow, down, or still processing) settled by the bank's callback or
    // by the reconciler asking the bank.
    const vaultKeys = parseVaultKeys(env, { production: settings.NODE_ENV === 'production' });
    if (vaultKeys.devKeys) log.warn(CARD_VAULT_DEV_KEYS_WARNING);
    const vault = new CardVault(db, vaultKeys);
    const banks = new Banks({
      urls: parseNamedList(settings.ACQUIRING_BANKS, 'ACQUIRING_BANKS'),
      apiKeys: parseNamedList(settings.ACQUIRING_BANK_KEYS, 'ACQUIRING_BANK_KEYS'),
      timeoutMs: settings.BANK_TIMEOUT_MS,
      ...(settings.PAYMENTS_CALLBACK_BASE_URL ? { callbackBaseUrl: settings.PAYMENTS_CALLBACK_BASE_URL } : {}),
    });
    const payments = new PaymentsRepository(db, outbox);
    outbox.register(payments.outboxSources());
    reconcile({ name: 'payments', pending: payments.pendingPayments(), settle: (id, now) => settlePendingPayment(id, payments, banks, log, now) });

    // Billing operations' direct debits: the mandate's IBAN arrives sealed (the contract service
    // seals it under the same key) and is opened only for the bank call; a debit the bank did not
    // answer stays pending and the reconciler asks the bank by its reference.
    if (!banks.has(settings.DIRECT_DEBIT_BANK)) throw new Error(`DIRECT_DEBIT_BANK: no bank named ${settings.DIRECT_DEBIT_BANK} in ACQUIRING_BANKS`);
    const { sealer, devKey } = mandateSealer(loadConfig(mandateSealSpecs(), env), env);
    if (devKey) log.warn(MANDATE_SEAL_DEV_KEY_WARNING);
    const directDebitRecords = new DirectDebitsRepository(db, outbox);
    outbox.register(directDebitRecords.outboxSources());
    const directDebits = new DirectDebits({
      repository: directDebitRecords,
      banks,
      sealer,
      bank: settings.DIRECT_DEBIT_BANK,
      log: log.child({ component: 'direct-debits' }),
      now: clock,
      onChange: announce,
    });
    bus.subscribe('billing.payment-requested', (event) => directDebits.authorize(event));
    reconcile({ name: 'direct-debits', pending: directDebitRecords.pendingDebits(), settle: (id) => directDebits.settlePending(id) });

    const delegate = createPaymentGatewayDelegate({
      identity: { users, keys, settings, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, onChange: announce, now: clock },
      wallet: { wallets, commands: idempotency, users, onChange: announce },
      payments: {
        payments,
        vault,
        banks,
        commands: idempotency,
        bankOf: async (merchantId) => (await users.getProfile(merchantId))?.business?.acquiringBank,
        maxAmount: settings.PAYMENT_MAX_AMOUNT,
        webhookSecrets: parseNamedList(settings.BANK_WEBHOOK_SECRETS, 'BANK_WEBHOOK_SECRETS'),
        onChange: announce,
      },
    });
    const security = { bearerAuth: bearerJwt({ issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, getKey: keys.getKey }) };
    return createPaymentGatewayRouter(delegate, { ...routerOptions, security });
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) runMain(paymentGatewayService);
