// The Acquiring Bank API: one generated delegate per tag of specs/acquiring-bank.yaml (charges,
// direct-debits); the router takes them together.
import type { AcquiringBankDelegate } from '../../../generated/acquiring-bank/delegate.js';
import { type ChargesDelegateDeps, createChargesDelegate } from './charges-delegate.js';
import { type DirectDebitsDelegateDeps, createDirectDebitsDelegate } from './direct-debits-delegate.js';

export function createAcquiringBankDelegate(deps: { charges: ChargesDelegateDeps; directDebits: DirectDebitsDelegateDeps }): AcquiringBankDelegate {
  return { ...createChargesDelegate(deps.charges), ...createDirectDebitsDelegate(deps.directDebits) };
}
