// The customer's webhook signing secret: the generated WebhooksDelegate, implemented. A new
// secret replaces the old one and is shown in this answer only; it is kept sealed
// (VOUCHER_SECRETS_KEY) because every webhook is signed with it.
import { randomBytes } from 'node:crypto';
import type { WebhooksDelegate } from '../../generated/voucher/delegate.js';
import type { VoucherRepository } from './voucher-repository.js';

export function createWebhooksDelegate({ repository, now = () => new Date() }: { repository: VoucherRepository; now?: () => Date }): WebhooksDelegate {
  return {
    async createWebhookSecret(_request, ctx) {
      const secret = `whsec_${randomBytes(32).toString('base64')}`;
      const at = now();
      await repository.saveSecret(ctx.principal.subject, secret, at);
      ctx.log.info('webhook secret replaced');
      return { status: 201, body: { secret, createdAt: at.toISOString() } };
    },
  };
}
