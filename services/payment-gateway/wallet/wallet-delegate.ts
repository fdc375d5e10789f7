// The wallet operations of the Payment Gateway API (tag `wallet` in specs/payment-gateway.yaml):
// balance, top-ups, transfers to another user by e-mail, transactions. HTTP, validation and
// security (customers and merchants only) are done when a method runs. Storage rules and the
// transfer's states are in wallet-repository.ts.
import type { Schemas, WalletDelegate } from '../../../generated/payment-gateway/delegate.js';
import type { AuthenticatedContext } from '../../common/http/context.js';
import { problem } from '../../common/http/problem.js';
import type { IdempotentCommands } from '../../common/data/idempotency.js';
import { requestHash } from '../../common/ids.js';
import { isKnownCurrency } from '../../common/money.js';
import { decodeCursor, seqPage } from '../../common/pagination.js';
import { type LedgerEntry, type Party, type TransferRecord, type WalletRepository, legKey } from './wallet-repository.js';

export interface WalletUser {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  role: string;
}

export interface WalletDelegateDeps {
  wallets: WalletRepository;
  /** Top-ups and transfers with an Idempotency-Key: one effect per key, the first answer replayed. */
  commands: IdempotentCommands;
  users: {
    findByEmail(email: string): Promise<WalletUser | undefined>;
    findById(id: string): Promise<WalletUser | undefined>;
  };
  /** Called after every stored top-up or transfer, so its event is relayed at once. */
  onChange: () => void;
  now?: () => Date;
}

/** Roles that hold a wallet (operators do not). */
const WALLET_ROLES = new Set(['customer', 'merchant']);

const refused = (code: 'insufficient-funds' | 'self-transfer' | 'unknown-recipient' | 'currency-mismatch' | 'unknown-currency', detail: string, pointer?: string) => ({
  status: 422 as const,
  body: problem(422, code, detail, pointer ? { errors: [{ pointer, message: detail }] } : {}),
});
const interrupted = () => ({
  status: 409 as const,
  body: problem(409, 'transfer-interrupted', 'This transfer was interrupted before any money moved and was cancelled; send it again with a new Idempotency-Key.'),
});
const insufficient = () => refused('insufficient-funds', 'The wallet balance is lower than the amount.', '/body/amount');

const partyOf = (user: WalletUser): Party => ({ userId: user.id, email: user.email, name: `${user.firstName} ${user.lastName}`.trim() });

export function toTransaction(entry: LedgerEntry): Schemas['Transaction'] {
  return {
    id: entry.transactionId,
    type: entry.type as Schemas['TransactionType'],
    amount: entry.amount,
    currency: entry.currency,
    balanceAfter: entry.balanceAfter,
    ...(entry.counterparty ? { counterparty: { email: entry.counterparty.email, name: entry.counterparty.name } } : {}),
    ...(entry.transferId !== undefined ? { transferId: entry.transferId } : {}),
    ...(entry.note !== undefined ? { note: entry.note } : {}),
    createdAt: entry.at,
  };
}

/** A date-time query value as the ledger stores times (UTC, milliseconds), so strings compare in time order. */
const normalizeTime = (value: string | undefined) => (value === undefined ? undefined : new Date(value).toISOString());

export function createWalletDelegate({ wallets, commands, users, onChange, now = () => new Date() }: WalletDelegateDeps): WalletDelegate {
  const at = () => now().toISOString();
  const currencyMismatch = (held: string, currency: string) => refused('currency-mismatch', `This wallet holds ${held}, not ${currency}.`, '/body/currency');
  const unknownCurrency = (currency: string) => refused('unknown-currency', `${currency} is not an ISO 4217 currency.`, '/body/currency');

  /** Settlements under way in this process: concurrent retries of one transfer share one (the ledger guards across processes). */
  const settling = new Map<string, ReturnType<typeof drive>>();

  function settle(transfer: TransferRecord, ctx: AuthenticatedContext) {
    if (transfer.status !== 'pending') return drive(transfer, ctx);
    let running = settling.get(transfer._id);
    if (!running) {
      running = drive(transfer, ctx).finally(() => settling.delete(transfer._id));
      settling.set(transfer._id, running);
    }
    return running;
  }

  /** Drives a transfer from wherever it stands to completed or failed, and answers as its first answer did. */
  async function drive(transfer: TransferRecord, ctx: AuthenticatedContext) {
    if (transfer.status === 'failed') return transfer.failureReason === 'interrupted' ? interrupted() : insufficient();
    if (transfer.status === 'completed') {
      const entry = await wallets.findLeg(legKey(transfer._id, 'debit'));
      if (entry && entry.type !== 'refused') return { status: 201 as const, body: toTransaction(entry) };
    }
    const debit = await wallets.debit(transfer, at);
    if (!debit.debited) {
      ctx.log.info({ transferId: transfer._id, reason: debit.reason }, 'transfer refused');
      return debit.reason === 'interrupted' ? interrupted() : insufficient();
    }
    if (transfer.status !== 'completed') {
      await wallets.credit(transfer, at);
      await wallets.complete(transfer, at());
      onChange();
    }
    ctx.log.info({ transferId: transfer._id, amount: transfer.amount }, 'transfer completed');
    return { status: 201 as const, body: toTransaction(debit.entry) };
  }

  /**
   * Only a registered customer or merchant holds a wallet: a valid token whose subject is no such
   * account (deleted, or never signed up) is refused like an operator's.
   */
  async function walletOwner(ctx: AuthenticatedContext): Promise<WalletUser | ReturnType<typeof noWallet>> {
    const owner = await users.findById(ctx.principal.subject);
    return owner && WALLET_ROLES.has(owner.role) ? owner : noWallet();
  }
  const noWallet = () => ({ status: 403 as const, body: problem(403, 'no-wallet', 'This account holds no wallet: only signed-up customers and merchants do.') });
  const isRefusal = (owner: WalletUser | ReturnType<typeof noWallet>): owner is ReturnType<typeof noWallet> => 'status' in owner;

  return {
    async getWallet(_request, ctx) {
      const owner = await walletOwner(ctx);
      if (isRefusal(owner)) return owner;
      const [account, { balance, updatedAt }] = await Promise.all([wallets.account(ctx.principal.subject), wallets.balance(ctx.principal.subject)]);
      return { status: 200, body: { ...(account ? { currency: account.currency } : {}), balance, ...(updatedAt !== undefined ? { updatedAt } : {}) } };
    },

    async topUp({ headers, body }, ctx) {
      const owner = await walletOwner(ctx);
      if (isRefusal(owner)) return owner;
      if (!isKnownCurrency(body.currency)) return unknownCurrency(body.currency);
      return commands.run('top', { operation: 'topUp', principal: ctx.principal.subject, key: headers['idempotency-key'], body }, async (topUpId) => {
        // The first top-up fixes the wallet's currency.
        const account = await wallets.open(ctx.principal.subject, body.currency, at());
        if (account.currency !== body.currency) return currencyMismatch(account.currency, body.currency);
        const result = await wallets.topUp({
          topUpId,
          accountId: ctx.principal.subject,
          amount: body.amount,
          currency: body.currency,
          requestHash: requestHash(body),
          at,
          requestId: ctx.requestId,
          correlationId: ctx.correlationId,
        });
        if (result.created) onChange();
        ctx.log.info({ transactionId: result.entry.transactionId, concurrentRetry: !result.created }, 'wallet topped up');
        return { status: 201 as const, body: toTransaction(result.entry) };
      });
    },

    async transfer({ headers, body }, ctx) {
      const owner = await walletOwner(ctx);
      if (isRefusal(owner)) return owner;
      const subject = ctx.principal.subject;
      return commands.run('trf', { operation: 'transfer', principal: subject, key: headers['idempotency-key'], body }, async (transferId) => {
        // Begun by a concurrent retry, or by a call that died midway: driven to its end from where it stands.
        const existing = await wallets.findTransfer(transferId);
        if (existing) return settle(existing, ctx);

        const sender = owner;
        const [recipient, account] = await Promise.all([users.findByEmail(body.toEmail), wallets.account(subject)]);
        // A wallet never topped up holds nothing (and no currency yet).
        if (!account) return insufficient();
        if (account.currency !== body.currency) return currencyMismatch(account.currency, body.currency);
        if (recipient?.id === subject || sender.email.toLowerCase() === body.toEmail.toLowerCase()) {
          return refused('self-transfer', 'A wallet cannot pay itself.', '/body/toEmail');
        }
        if (!recipient || !WALLET_ROLES.has(recipient.role)) {
          return refused('unknown-recipient', `No wallet belongs to ${body.toEmail}.`, '/body/toEmail');
        }
        // The recipient's wallet takes the transfer's currency if it has none yet, before any money moves.
        const recipientAccount = await wallets.open(recipient.id, body.currency, at());
        if (recipientAccount.currency !== body.currency) {
          return refused('currency-mismatch', `The wallet of ${body.toEmail} holds ${recipientAccount.currency}, not ${body.currency}.`, '/body/currency');
        }
        const from = partyOf(sender);
        const begun = await wallets.beginTransfer({
          _id: transferId,
          from,
          to: partyOf(recipient),
          amount: body.amount,
          currency: body.currency,
          ...(body.note !== undefined ? { note: body.note } : {}),
          requestHash: requestHash(body),
          createdAt: at(),
          requestId: ctx.requestId,
          correlationId: ctx.correlationId,
        });
        return settle(begun.transfer, ctx);
      });
    },

    async listTransactions({ query }, ctx) {
      const owner = await walletOwner(ctx);
      if (isRefusal(owner)) return owner;
      const limit = query.limit ?? 20;
      const after = decodeCursor<{ seq: number }>(query.cursor, { seq: 'number' });
      const from = normalizeTime(query.from);
      const to = normalizeTime(query.to);
      const page = await wallets.list({
        accountId: ctx.principal.subject,
        ...(query.type !== undefined ? { type: query.type } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(after ? { beforeSeq: after.seq } : {}),
        limit,
      });
      return { status: 200, body: seqPage(page.entries.map(toTransaction), page.nextBeforeSeq) };
    },
  };
}
