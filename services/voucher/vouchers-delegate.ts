// Requesting and reading vouchers: the generated VouchersDelegate, implemented. HTTP, validation
// and the token are done when a method runs. A request is accepted at once (202) and stored with
// its events owed (voucher.requested now; voucher.issued or .failed when it ends); the worker does
// the rest. Customers see their own vouchers only.
import type { Schemas, VouchersDelegate } from '../../generated/voucher/delegate.js';
import type { IdempotentCommands } from '../common/data/idempotency.js';
import type { AuthenticatedContext } from '../common/http/context.js';
import { problem } from '../common/http/problem.js';
import { decodeCursor, toPage } from '../common/pagination.js';
import type { CallbackUrlGuard } from './callback-url-guard.js';
import type { Identity } from './identity-client.js';
import { ACCEPTED_MESSAGE, type StoredVoucher, toApiVoucher } from './voucher-domain.js';
import type { VoucherRepository } from './voucher-repository.js';

export interface VouchersDelegateDeps {
  repository: VoucherRepository;
  commands: IdempotentCommands;
  identity: Identity;
  guard: CallbackUrlGuard;
  deadlineMs: number;
  /** Called after a request is stored, so its event goes out now. */
  announce: () => void;
  now?: () => Date;
}

const notFound = (id: string) => ({ status: 404 as const, body: problem(404, 'voucher-not-found', `No voucher ${id}.`) });
const unprocessable = (code: string, detail: string, pointer: string, message: string) => ({
  status: 422 as const,
  body: problem(422, code, detail, { errors: [{ pointer, message }] }),
});

export function createVouchersDelegate({ repository, commands, identity, guard, deadlineMs, announce, now = () => new Date() }: VouchersDelegateDeps): VouchersDelegate {
  async function view(voucher: StoredVoucher): Promise<Schemas['Voucher']> {
    const [outcome, delivery] = await Promise.all([repository.outcome(voucher._id), voucher.callbackUrl !== undefined ? repository.delivery(voucher._id) : undefined]);
    return toApiVoucher(voucher, outcome, delivery);
  }

  return {
    async requestVoucher({ headers, body }, ctx: AuthenticatedContext) {
      const phone = await identity.phoneOf(ctx);
      if (phone === 'unavailable') {
        return { status: 503, body: problem(503, 'identity-unavailable', 'Your phone number cannot be checked right now; try again shortly.') };
      }
      if (phone !== body.phoneNumber) {
        return unprocessable('phone-number-not-yours', 'Vouchers are sent to the phone number of your own account.', '/body/phoneNumber', 'is not the phone number of your account');
      }
      if (body.callbackUrl !== undefined) {
        const verdict = await guard.check(body.callbackUrl);
        if (!verdict.allowed) return unprocessable('callback-url-refused', `The callbackUrl ${verdict.reason}.`, '/body/callbackUrl', verdict.reason);
        if (!(await repository.hasSecret(ctx.principal.subject))) {
          return unprocessable('webhook-secret-required', 'Make a webhook secret first (POST /webhook-secrets): webhooks to your callbackUrl are signed with it.', '/body/callbackUrl', 'needs a webhook secret');
        }
      }
      return commands.run('vch', { operation: 'requestVoucher', principal: ctx.principal.subject, key: headers['idempotency-key'], body }, async (id) => {
        const at = now();
        const voucher = await repository.create({
          _id: id,
          userId: ctx.principal.subject,
          phoneNumber: body.phoneNumber,
          ...(body.callbackUrl !== undefined ? { callbackUrl: body.callbackUrl } : {}),
          createdAt: at.toISOString(),
          deadlineAt: new Date(at.getTime() + deadlineMs).toISOString(),
          requestId: ctx.requestId,
          correlationId: ctx.correlationId,
        });
        announce();
        ctx.log.info({ voucherId: id, hasCallbackUrl: body.callbackUrl !== undefined }, 'voucher requested');
        return { status: 202 as const, headers: { location: `/vouchers/${id}` }, body: { id, status: 'PENDING' as const, message: ACCEPTED_MESSAGE, createdAt: voucher.createdAt } };
      });
    },

    async listVouchers({ query }, ctx) {
      const limit = query.limit ?? 20;
      const after = decodeCursor<{ createdAt: string; id: string }>(query.cursor, { createdAt: 'string', id: 'string' });
      const rows = await repository.list({ userId: ctx.principal.subject, ...(query.phoneNumber !== undefined ? { phoneNumber: query.phoneNumber } : {}), ...(after ? { after } : {}), limit });
      const page = toPage(rows, limit, (row) => row, (row) => ({ createdAt: row.createdAt, id: row._id }));
      return { status: 200, body: { ...page, data: await Promise.all(page.data.map(view)) } };
    },

    async getVoucher({ path }, ctx) {
      const voucher = await repository.get(path.voucherId);
      if (!voucher || voucher.userId !== ctx.principal.subject) return notFound(path.voucherId);
      return { status: 200, body: await view(voucher) };
    },
  };
}
