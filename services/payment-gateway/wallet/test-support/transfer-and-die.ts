// Child process for wallet.test.ts: a transfer cut short by a crash. It begins a transfer with
// WalletRepository (the record is stored `pending`) and, with KILL_AT=after-debit, appends its
// debit leg; then it SIGKILLs itself, so neither the credit nor the completion is ever written.
//   env: MONGO_URL, WALLET_DB, WALLET_CURRENCY, TRANSFER (JSON: transferId, from, to, amount,
//        requestHash), KILL_AT (before-debit | after-debit)
import { Outbox } from '../../../common/events/outbox.js';
import { connectMongo, ensureIndexes } from '../../../common/mongo.js';
import { type Party, WalletRepository, walletIndexes } from '../wallet-repository.js';

interface TransferInput {
  transferId: string;
  from: Party;
  to: Party;
  amount: number;
  requestHash: string;
}

const input = JSON.parse(process.env.TRANSFER!) as TransferInput;
const killAt = process.env.KILL_AT;
if (killAt !== 'before-debit' && killAt !== 'after-debit') throw new Error(`KILL_AT must be before-debit or after-debit, not ${killAt}`);

const database = await connectMongo(process.env.MONGO_URL!, process.env.WALLET_DB!);
await ensureIndexes(database.db, walletIndexes);
const outbox = new Outbox(database.db);
const wallets = new WalletRepository(database.db, outbox);
outbox.register(wallets.outboxSources());
const now = () => new Date().toISOString();
const begun = await wallets.beginTransfer({
  _id: input.transferId,
  from: input.from,
  to: input.to,
  amount: input.amount,
  currency: process.env.WALLET_CURRENCY!,
  requestHash: input.requestHash,
  createdAt: now(),
});
if (!begun.created) throw new Error('the transfer was already there');
if (killAt === 'after-debit') {
  const debit = await wallets.debit(begun.transfer, now);
  if (!debit.debited) throw new Error(`the debit was refused: ${debit.reason}`);
}
process.kill(process.pid, 'SIGKILL');
