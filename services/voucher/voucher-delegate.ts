// The Voucher API: one generated delegate per tag of specs/voucher.yaml (vouchers, webhooks,
// provider-callbacks); the router takes them together.
import type { VoucherDelegate } from '../../generated/voucher/delegate.js';
import { createProviderCallbacksDelegate } from './provider-callbacks-delegate.js';
import { type VouchersDelegateDeps, createVouchersDelegate } from './vouchers-delegate.js';
import { createWebhooksDelegate } from './webhooks-delegate.js';
import type { VoucherWorker } from './voucher-worker.js';

export function createVoucherDelegate(deps: VouchersDelegateDeps & { worker: VoucherWorker }): VoucherDelegate {
  return {
    ...createVouchersDelegate(deps),
    ...createWebhooksDelegate({ repository: deps.repository, ...(deps.now ? { now: deps.now } : {}) }),
    ...createProviderCallbacksDelegate({ repository: deps.repository, worker: deps.worker }),
  };
}
