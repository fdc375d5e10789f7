// make run: every service of the platform, each in its own process, on its default port (a
// service with instances, like the acquiring-bank simulator, runs each: one per bank).
// Local infrastructure comes first (Makefile: tools/infra/up.sh); tokens are signed with the
// dev key in .data/dev-keys (print one with `make token`). Ctrl-C stops everything gracefully.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CONSOLE_APIS, upstreamVariable } from '../../services/console/console-config.js';
import { SERVICES, instancesOf } from '../../services/registry.js';
import { devSigningKey } from './dev-keys.js';

/** The local platform's first operator (README); set OPERATOR_EMAIL / OPERATOR_PASSWORD to choose another. */
const LOCAL_OPERATOR = { OPERATOR_EMAIL: 'operator@payspec.local', OPERATOR_PASSWORD: 'local-operator-password' };
const offset = Number(process.env.PLATFORM_PORT_OFFSET ?? 0);
if (!Number.isInteger(offset) || offset < 0 || offset > 50_000) throw new Error(`PLATFORM_PORT_OFFSET: a whole number from 0 to 50000, not ${process.env.PLATFORM_PORT_OFFSET}`);
const urlOf = (name: string) => {
  const instance = SERVICES.flatMap(instancesOf).find((i) => i.name === name);
  if (!instance) throw new Error(`no service ${name} in services/registry.ts`);
  return `http://127.0.0.1:${instance.port + offset}`;
};

/** How the services reach each other (each one's defaults name the same addresses without an offset). */
const WIRING: Record<string, Record<string, string>> = {
  // Every service but the issuer verifies tokens against the issuer's JWKS, as in production.
  common: { AUTH_JWKS_URL: `${urlOf('payment-gateway')}/.well-known/jwks.json` },
  'payment-gateway': {
    // The console passes the browser's address on in X-Forwarded-For: its sign-in and sign-up
    // limits count each browser, not the console.
    TRUST_PROXY: 'loopback',
    // The banks call the gateway back when a pending charge settles.
    PAYMENTS_CALLBACK_BASE_URL: urlOf('payment-gateway'),
    ACQUIRING_BANKS: instancesOf(SERVICES.find((s) => s.name === 'acquiring-bank')!)
      .map((bank) => `${bank.name}=${urlOf(bank.name)}`)
      .join(','),
  },
  voucher: {
    IDENTITY_URL: urlOf('payment-gateway'),
    VOUCHER_PROVIDER_URL: urlOf('voucher-provider'),
    VOUCHER_PROVIDER_CALLBACK_URL: `${urlOf('voucher')}/provider-callbacks`,
  },
  console: Object.fromEntries(CONSOLE_APIS.map((api) => [upstreamVariable(api), urlOf(api)])),
};

const signingKey = await devSigningKey();
const children = new Map<string, ChildProcess>();
let stopping = false;

const processes = SERVICES.flatMap((svc) => instancesOf(svc).map((instance) => ({ svc, instance })));
for (const { svc, instance } of processes) {
  const child = spawn(process.execPath, ['--import', 'tsx', svc.entry], {
    env: {
      // Locally every answer is checked against the spec too: a drift shows up as a 500 at once.
      VALIDATE_RESPONSES: 'true',
      ...(svc.name === 'payment-gateway' ? { SIGNING_KEY: signingKey, ...LOCAL_OPERATOR } : WIRING.common),
      ...WIRING[svc.name],
      ...process.env,
      PORT: String(instance.port + offset),
      // PLATFORM_DB_PREFIX: every service on databases of its own run (tests of the whole platform).
      ...(process.env.PLATFORM_DB_PREFIX ? { MONGO_DB: `${process.env.PLATFORM_DB_PREFIX}_${svc.name.replace(/-/g, '_')}` } : {}),
      // What makes the instance itself (which bank it is) is not overridden by the environment.
      ...instance.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.set(instance.name, child);
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => console.log(`[${instance.name}] ${line}`));
  }
  child.on('exit', (code, signal) => {
    children.delete(instance.name);
    if (!stopping) {
      console.error(`[${instance.name}] exited (${signal ?? code}); stopping the platform`);
      stop(1);
    } else if (children.size === 0) process.exit(0);
  });
}

function stop(code = 0): void {
  stopping = true;
  for (const child of children.values()) child.kill('SIGTERM');
  if (children.size === 0) process.exit(code);
  setTimeout(() => process.exit(code), 15_000).unref();
}
process.on('SIGINT', () => stop());
process.on('SIGTERM', () => stop());

console.log(`
Payspec is starting:
${processes
  .map(({ svc, instance }) => `  ${(instance.name === svc.name ? svc.name : `${instance.name} (${svc.name})`).padEnd(31)} ${urlOf(instance.name)}   docs: ${urlOf(instance.name)}/docs`)
  .join('\n')}

The console (sign in as ${process.env.OPERATOR_EMAIL ?? LOCAL_OPERATOR.OPERATOR_EMAIL}, or sign up):  ${urlOf('console')}

Get a token to call them with:  export TOKEN=$(make -s token ROLE=operator)
The acquiring banks take the key in X-Api-Key instead:  -H 'x-api-key: dev-bank-key'
`);
