// Child process for voucher-crash.test.ts: the voucher service itself (the same ServiceDefinition
// main.ts runs, on the test's database, queues and port), SIGKILLed (no shutdown, no `finally`,
// nothing flushed) at one chosen point — what a crash or an OOM-kill leaves behind. The only thing
// swapped is the database handle given to createApi, wrapped so that one write kills the process
// before it reaches the database:
//
//   KILL_AT=code-received  the first insert into `voucher_outcomes`: the code came (the provider's
//                          answer, or its callback) and was not stored.
//   KILL_AT=code-stored    the first insert into `sms_messages`: the code is stored and
//                          voucher.issued published, and delivery (SMS, then webhook) has not begun.
//
// It prints `ready` on stdout once it listens; stderr says why when it could not start.
import type { Db } from 'mongodb';
import { type ServiceDefinition, startService } from '../../common/bootstrap.js';
import { voucherService } from '../main.js';

const KILL_ON: Record<string, string> = { 'code-received': 'voucher_outcomes', 'code-stored': 'sms_messages' };
const collection = KILL_ON[process.env.KILL_AT ?? ''];
if (!collection) {
  process.stderr.write(`voucher-and-die: KILL_AT must be one of ${Object.keys(KILL_ON).join(', ')}\n`);
  process.exit(1);
}

const die = (): never => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('still alive after SIGKILL');
};

function dyingOnInsert(db: Db): Db {
  return new Proxy(db, {
    get(target, prop) {
      if (prop !== 'collection') return Reflect.get(target, prop, target) as unknown;
      return (name: string, ...rest: unknown[]) => {
        const real = (target.collection as (...args: unknown[]) => object)(name, ...rest);
        if (name !== collection) return real;
        return new Proxy(real, { get: (c, p) => (p === 'insertOne' ? die : (Reflect.get(c, p, c) as unknown)) });
      };
    },
  });
}

const dying: ServiceDefinition = { ...voucherService, createApi: (deps) => voucherService.createApi({ ...deps, db: dyingOnInsert(deps.db) }) };
startService(dying).then(
  () => process.stdout.write('ready\n'),
  (err: unknown) => {
    process.stderr.write(`voucher-and-die: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
