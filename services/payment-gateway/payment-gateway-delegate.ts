// The Payment Gateway API: one generated delegate, implemented by the gateway's parts
// (identity, wallet), each owning the operations of its tag in specs/payment-gateway.yaml.
import type { PaymentGatewayDelegate } from '../../generated/payment-gateway/delegate.js';
import { type IdentityDelegateDeps, createIdentityDelegate } from './identity/identity-delegate.js';
import { type WalletDelegateDeps, createWalletDelegate } from './wallet/wallet-delegate.js';

export type IdentityOperations = Pick<PaymentGatewayDelegate, 'signUp' | 'signIn' | 'refreshTokens' | 'signOut' | 'getProfile' | 'getJwks'>;
export type WalletOperations = Pick<PaymentGatewayDelegate, 'getWallet' | 'topUp' | 'transfer' | 'listTransactions'>;

export function createPaymentGatewayDelegate(deps: { identity: IdentityDelegateDeps; wallet: WalletDelegateDeps }): PaymentGatewayDelegate {
  return { ...createIdentityDelegate(deps.identity), ...createWalletDelegate(deps.wallet) };
}
