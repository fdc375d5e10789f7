// The Payment Gateway API: one generated delegate per tag of specs/payment-gateway.yaml, each
// implemented by the gateway part of that name (identity/, wallet/, payments/); the router takes them together.
import type { PaymentGatewayDelegate } from '../../generated/payment-gateway/delegate.js';
import { type IdentityDelegateDeps, createIdentityDelegate } from './identity/identity-delegate.js';
import { type PaymentsDelegateDeps, createPaymentsDelegate } from './payments/payments-delegate.js';
import { type WalletDelegateDeps, createWalletDelegate } from './wallet/wallet-delegate.js';

export function createPaymentGatewayDelegate(deps: { identity: IdentityDelegateDeps; wallet: WalletDelegateDeps; payments: PaymentsDelegateDeps }): PaymentGatewayDelegate {
  return { ...createIdentityDelegate(deps.identity), ...createWalletDelegate(deps.wallet), ...createPaymentsDelegate(deps.payments) };
}
