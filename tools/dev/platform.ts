// make run: every service of the platform, each in its own process, on its default port (a
// service with instances, like the acquiring-bank simulator, runs each: one per bank).
// Local infrastructure comes first (Makefile: tools/infra/up.sh); tokens are signed with the
// dev key in .data/dev-keys (print one with `make token`). Ctrl-C stops everything gracefully.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { SERVICES, instancesOf } from '../../services/registry.js';
import { devSigningKey } from './dev-keys.js';

/** The local platform's first operator (README); set OPERATOR_EMAIL / OPERATOR_PASSWORD to choose another. */
const LOCAL_OPERATOR = { OPERATOR_EMAIL: 'operator@payspec.local', OPERATOR_PASSWORD: 'local-operator-password' };
/** Every service verifies tokens against the issuer's JWKS, as in production. */
const ISSUER_JWKS_URL = 'http://127.0.0.1:8080/.well-known/jwks.json';

const signingKey = await devSigningKey();
const children = new Map<string, ChildProcess>();
let stopping = false;

const processes = SERVICES.flatMap((svc) => instancesOf(svc).map((instance) => ({ svc, instance })));
for (const { svc, instance } of processes) {
  const child = spawn(process.execPath, ['--import', 'tsx', svc.entry], {
    env: {
      PORT: String(instance.port),
      // Locally every answer is checked against the spec too: a drift shows up as a 500 at once.
      VALIDATE_RESPONSES: 'true',
      ...(svc.name === 'payment-gateway'
        ? // The banks call the gateway back when a pending charge settles.
          { SIGNING_KEY: signingKey, ...LOCAL_OPERATOR, PAYMENTS_CALLBACK_BASE_URL: `http://127.0.0.1:${instance.port}` }
        : { AUTH_JWKS_URL: ISSUER_JWKS_URL }),
      ...process.env,
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
  .map(({ svc, instance }) => `  ${(instance.name === svc.name ? svc.name : `${instance.name} (${svc.name})`).padEnd(31)} http://127.0.0.1:${instance.port}   docs: http://127.0.0.1:${instance.port}/docs`)
  .join('\n')}

Get a token to call them with:  export TOKEN=$(make -s token ROLE=operator)
The acquiring banks take the key in X-Api-Key instead:  -H 'x-api-key: dev-bank-key'
`);
