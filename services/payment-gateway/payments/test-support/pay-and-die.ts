// Child process for payments-crash.test.ts: a gateway instance that dies at one chosen point of a
// card payment, SIGKILLed (no shutdown, no `finally`, nothing flushed): what a crash or an
// OOM-kill leaves behind. It builds the same pieces main.ts builds, on the same database — the
// PaymentsRepository with its Outbox, the CardVault (dev keys unless configured), the Banks from
// ACQUIRING_BANKS, IdempotentCommands — and runs the production code itself: the payments
// delegate's createPayment (so the Idempotency-Key record is written by the kit, as a request
// would), or the reconciler's settlePendingPayment. The only thing swapped is the edge where it
// must die, wrapped here rather than hooked in production code:
//
//   KILL_AT=before-charge   Banks.charge kills the process before anything is sent: the payment is
//                           stored pending, the bank never hears of it.
//   KILL_AT=after-charge    Banks.charge sends the charge, receives the bank's answer (which must be
//                           `succeeded`) and kills the process before returning it: the bank has
//                           charged the card, the gateway's payment is still pending.
//   KILL_AT=settle-after-claim  settlePendingPayment(PAYMENT_ID) asks the bank and settles; the
//                           `payments` collection's replaceOne kills the process, i.e. after the
//                           settlement is claimed in `payment_settlements`, before the payment
//                           itself is written.
//
//   env: the gateway's (MONGO_URL, MONGO_DB, ACQUIRING_BANKS, ACQUIRING_BANK_KEYS, BANK_TIMEOUT_MS,
//        CARD_VAULT_*), KILL_AT, and PAYMENT (JSON: merchantId, bank, idempotencyKey, body — the
//        POST /payments body exactly as the client sends it) or PAYMENT_ID.
// It writes nothing to stdout; stderr says why when it could not reach its kill point (then it
// exits 1, and the test, which expects SIGKILL, shows it).
import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import { pino } from 'pino';
import type { Schemas } from '../../../../generated/payment-gateway/delegate.js';
import { IdempotentCommands } from '../../../common/data/idempotency.js';
import { Outbox } from '../../../common/events/outbox.js';
import { connectMongo } from '../../../common/mongo.js';
import { loadGatewayConfig } from '../../gateway-config.js';
import { type BankAnswer, Banks, type ChargeInput, parseNamedList } from '../bank-client.js';
import { CardVault, parseVaultKeys } from '../card-vault.js';
import { settlePendingPayment } from '../payment-settlement.js';
import { createPaymentsDelegate } from '../payments-delegate.js';
import { PaymentsRepository } from '../payments-repository.js';

export type KillAt = 'before-charge' | 'after-charge' | 'settle-after-claim';

export interface PaymentToDieFor {
  merchantId: string;
  bank: string;
  idempotencyKey: string;
  body: Schemas['PaymentRequest'];
}

const die = (): never => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('still alive after SIGKILL');
};
const giveUp = (why: string): never => {
  process.stderr.write(`pay-and-die (${process.env.KILL_AT}): ${why}\n`);
  process.exit(1);
};

const killAt = process.env.KILL_AT as KillAt | undefined;
if (killAt !== 'before-charge' && killAt !== 'after-charge' && killAt !== 'settle-after-claim') giveUp(`KILL_AT must be before-charge, after-charge or settle-after-claim, not ${killAt}`);

/** Banks whose charge dies before sending (before-charge) or after the answer came (after-charge). */
class DyingBanks extends Banks {
  override async charge(bank: string, input: ChargeInput): Promise<BankAnswer> {
    if (killAt === 'before-charge') return die();
    const answer = await super.charge(bank, input);
    if (answer.status !== 'succeeded') giveUp(`the bank answered ${JSON.stringify(answer)}, not succeeded`);
    return die();
  }
}

/** The database, except that writing a payment document kills the process first. */
function dyingOnPaymentWrite(db: Db): Db {
  return new Proxy(db, {
    get(target, prop) {
      if (prop !== 'collection') return Reflect.get(target, prop, target) as unknown;
      return (name: string, ...rest: unknown[]) => {
        const collection = (target.collection as (...args: unknown[]) => object)(name, ...rest);
        if (name !== 'payments') return collection;
        return new Proxy(collection, {
          get(c, p) {
            if (p === 'replaceOne') return die;
            const value = Reflect.get(c, p, c) as unknown;
            return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(c) : value;
          },
        });
      };
    },
  });
}

const settings = loadGatewayConfig(process.env);
const database = await connectMongo(process.env.MONGO_URL!, process.env.MONGO_DB!);
const db = killAt === 'settle-after-claim' ? dyingOnPaymentWrite(database.db) : database.db;
const outbox = new Outbox(db);
const payments = new PaymentsRepository(db, outbox);
outbox.register(payments.outboxSources());
const bankSettings = {
  urls: parseNamedList(settings.ACQUIRING_BANKS, 'ACQUIRING_BANKS'),
  apiKeys: parseNamedList(settings.ACQUIRING_BANK_KEYS, 'ACQUIRING_BANK_KEYS'),
  timeoutMs: settings.BANK_TIMEOUT_MS,
};
const log = pino({ level: 'error' }, process.stderr);

if (killAt === 'settle-after-claim') {
  const paymentId = process.env.PAYMENT_ID ?? giveUp('PAYMENT_ID is not set');
  await settlePendingPayment(paymentId, payments, new Banks(bankSettings), log);
  giveUp(`settling ${paymentId} never wrote the payment (was it pending, and final at the bank?)`);
}

const input = JSON.parse(process.env.PAYMENT ?? giveUp('PAYMENT is not set')) as PaymentToDieFor;
const delegate = createPaymentsDelegate({
  payments,
  vault: new CardVault(db, parseVaultKeys(process.env, { production: false })),
  banks: new DyingBanks(bankSettings),
  commands: new IdempotentCommands(db, 'payment-gateway'),
  bankOf: async () => input.bank,
  maxAmount: settings.PAYMENT_MAX_AMOUNT,
  webhookSecrets: {},
  onChange: () => {},
});
const requestId = `req_${randomUUID()}`;
const answer = await delegate.createPayment(
  { headers: { 'idempotency-key': input.idempotencyKey }, body: input.body },
  { principal: { subject: input.merchantId, roles: ['merchant'] }, requestId, correlationId: requestId, log, signal: new AbortController().signal },
);
giveUp(`createPayment answered ${answer.status} without reaching the bank call`);
