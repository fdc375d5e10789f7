// docker-compose.yml and the Dockerfile against the registry (services/registry.ts) and the code,
// since no Docker engine runs where the tests do: one compose service per instance, named,
// published and started as the registry says; a healthcheck that asks the instance's own
// /health/ready (run here against a stand-in server); only variables its service reads
// (services/configuration-variables.ts), and enough of them that it starts on the image's
// environment (its settings steps run on it, NODE_ENV=production as the image sets); healthy
// dependencies; MongoDB as a replica set; the image built in stages.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { parse } from 'yaml';
import { SERVICE_SETTINGS, checkStartupSettings, variablesUsedBy, verifiesTokens } from './configuration-variables.js';
import { SERVICES, type ServiceEntry, type ServiceInstance, instancesOf } from './registry.js';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
}
type Compose = { services: Record<string, ComposeService> };

const INFRASTRUCTURE = ['mongodb', 'rabbitmq', 'mailpit'];

/** What someone running `make up` sets: a value for each variable docker-compose.yml requires (`${VAR:?…}`). */
const key = () => randomBytes(32).toString('base64url');
const REQUIRED_VALUES: Record<string, string> = {
  OPERATOR_PASSWORD: 'a compose test password',
  SIGNING_KEY_ENCRYPTION_KEY: key(),
  CARD_VAULT_KEY: key(),
  CARD_FINGERPRINT_KEY: key(),
  MANDATE_SEAL_KEY: key(),
  VOUCHER_SECRETS_KEY: key(),
};

/** What interpolation could not do: a variable without a default, or a required one without a value. */
const interpolationProblems: string[] = [];

/**
 * Docker Compose's interpolation of one value: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`. A variable used with neither a default
 * nor `?` is a problem: unset, Compose would quietly put an empty string there.
 */
function interpolate(text: string, vars: Readonly<Record<string, string>>, required: Set<string>): string {
  return text.replace(/\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (whole, dollar, braced, op, arg, bare) => {
    if (dollar) return '$';
    const name = (braced ?? bare) as string;
    const value = vars[name];
    const set = op?.startsWith(':') ? value !== undefined && value !== '' : value !== undefined;
    if (op === ':-' || op === '-') return set ? value! : (arg as string);
    if (op === ':?' || op === '?') {
      required.add(name);
      if (!set) interpolationProblems.push(`${whole}: required, and REQUIRED_VALUES (services/compose.test.ts) has no value for ${name}`);
      return value ?? '';
    }
    interpolationProblems.push(`${whole}: give it a default (\${${name}:-…}) or mark it required (\${${name}:?…})`);
    return '';
  });
}

/** The document with every string interpolated, as `docker compose` reads it. */
function interpolated<T>(value: T, vars: Readonly<Record<string, string>>, required: Set<string>): T {
  if (typeof value === 'string') return interpolate(value, vars, required) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => interpolated(v, vars, required)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolated(v, vars, required)])) as T;
  return value;
}

const raw = parse(read('docker-compose.yml'), { merge: true }) as Compose;
/** The variables docker-compose.yml requires (`${VAR:?…}`). */
const requiredVariables = new Set<string>();
const compose = interpolated(raw, REQUIRED_VALUES, requiredVariables);

/** A compose service's environment as the container gets it: strings. */
function environmentOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([name, value]) => [name, String(value ?? '')]));
}

/** The Dockerfile's stages: each one's base, name and instructions (continuation lines joined, comments dropped). */
function dockerStages(text: string) {
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line)!;
      return { keyword: keyword!.toUpperCase(), args: args! };
    });
  const stages: { base: string; name?: string; instructions: { keyword: string; args: string }[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [base, as, name] = instruction.args.split(/\s+/);
      stages.push({ base: base!, ...(as?.toUpperCase() === 'AS' ? { name } : {}), instructions: [] });
    } else stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

const stages = dockerStages(read('Dockerfile'));
const runtime = stages.at(-1)!;
const runs = (stage: (typeof stages)[number]) => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);

/** `ENV` arguments: `NAME=value …` (values optionally quoted), or the older `NAME value`. */
function envPairs(args: string): [string, string][] {
  if (!/^\S+=/.test(args)) {
    const [name, ...value] = args.split(/\s+/);
    return [[name!, value.join(' ')]];
  }
  return [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)].map(([, name, value]) => [name!, value!.replace(/^"|"$/g, '')]);
}

/** The environment the image gives every container (its runtime stage's ENV). */
const imageEnvironment = Object.fromEntries(runtime.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => envPairs(i.args)));

/** Each process the registry names, with its service and its compose service. */
const instances: { entry: ServiceEntry; instance: ServiceInstance; service: ComposeService }[] = SERVICES.flatMap((entry) =>
  instancesOf(entry).map((instance) => ({ entry, instance, service: compose.services[instance.name] ?? {} })),
);

/** Runs a healthcheck's command (`["CMD", …]` or `["CMD-SHELL", "…"]`) with `env`; its exit code. */
function runHealthcheck(test: string[] | string | undefined, env: Record<string, string>): Promise<number> {
  const argv = typeof test === 'string' ? ['CMD-SHELL', test] : (test ?? []);
  const [form, ...command] = argv;
  const [file, ...args] = form === 'CMD-SHELL' ? ['sh', '-c', command.join(' ')] : command;
  if (form !== 'CMD' && form !== 'CMD-SHELL') throw new Error(`not a command healthcheck: ${JSON.stringify(test)}`);
  // The image's node is this test's node.
  const executable = file === 'node' ? process.execPath : file!;
  return new Promise((resolve) => {
    execFile(executable, args, { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 }, (err) => {
      resolve(err ? (typeof err.code === 'number' ? err.code : -1) : 0);
    });
  });
}

/** An HTTP server answering `status` to everything, and the paths it was asked for. */
async function standIn(status: number): Promise<{ server: Server; port: number; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, paths };
}

describe('docker-compose.yml', () => {
  it('gives every variable it takes from the shell a default, or marks it required', () => {
    expect(interpolationProblems).to.deep.equal([]);
  });

  it('has one service per instance of the registry, besides MongoDB, RabbitMQ and mailpit', () => {
    const listed = Object.keys(compose.services).filter((name) => !INFRASTRUCTURE.includes(name));
    expect(listed.sort()).to.deep.equal(instances.map(({ instance }) => instance.name).sort());
  });

  it("gives each its SERVICE, PORT, the instance's own settings, its published port and its entry point", () => {
    for (const { entry, instance, service } of instances) {
      const env = environmentOf(service);
      expect(env.SERVICE, instance.name).to.equal(entry.name);
      expect(env.PORT, instance.name).to.equal(String(instance.port));
      for (const [name, value] of Object.entries(instance.env)) expect(env[name], `${instance.name} ${name}`).to.equal(value);
      expect(service.ports, instance.name).to.deep.equal([`${instance.port}:${instance.port}`]);
      // The image runs services/${SERVICE}/main.js (compiled); a service elsewhere names its own.
      const compiled = entry.entry.replace(/\.ts$/, '.js');
      if (entry.entry === `services/${entry.name}/main.ts`) expect(service.command, instance.name).to.equal(undefined);
      else expect(service.command, instance.name).to.deep.equal(['node', compiled]);
    }
    const cmd = runtime.instructions.filter((i) => i.keyword === 'CMD').at(-1)?.args;
    expect(cmd, "the image's command").to.include('node services/${SERVICE}/main.js');
  });

  it('builds every service from the one Dockerfile and the infrastructure from mongo:7, rabbitmq 3.x management and mailpit', () => {
    for (const { instance, service } of instances) {
      expect(service.build, instance.name).to.equal('.');
      expect(service.image, instance.name).to.equal(undefined);
    }
    expect(compose.services.mongodb?.image).to.equal('mongo:7');
    expect(compose.services.rabbitmq?.image).to.match(/^rabbitmq:3(\.\d+)*-management$/);
    expect(compose.services.mailpit?.image).to.match(/^axllent\/mailpit(:[\w.-]+)?$/);
    for (const name of INFRASTRUCTURE) {
      const healthcheck = compose.services[name]?.healthcheck;
      expect(healthcheck?.test, `${name}'s healthcheck`).to.be.an('array').with.length.above(1);
      expect(healthcheck?.disable, name).to.not.equal(true);
    }
  });

  it('runs MongoDB as a replica set that its healthcheck initiates, and points every MONGO_URL at it', () => {
    const mongodb = compose.services.mongodb!;
    const command = mongodb.command ?? [];
    const replicaSet = command[command.indexOf('--replSet') + 1];
    expect(command, "mongod's command").to.include('--replSet');
    expect(replicaSet).to.be.a('string').and.match(/^\w+$/);
    // Initiated on first start with this node as the only member, under the name clients use.
    const check = [mongodb.healthcheck?.test ?? []].flat().join(' ');
    expect(check).to.include('rs.initiate(');
    expect(check).to.match(new RegExp(`_id: *'${replicaSet}'`));
    expect(check).to.match(/host: *'mongodb:27017'/);
    for (const { instance, service } of instances) {
      const url = new URL(environmentOf(service).MONGO_URL ?? 'mongodb://unset');
      expect(url.host, instance.name).to.equal('mongodb:27017');
      expect(url.searchParams.get('replicaSet'), `${instance.name}: MONGO_URL names the replica set`).to.equal(replicaSet);
      expect(new URL(environmentOf(service).AMQP_URL ?? 'amqp://unset').host, instance.name).to.equal('rabbitmq:5672');
    }
  });

  it('waits for healthy MongoDB and RabbitMQ, the gateway when it verifies tokens, the SMTP server it mails through', () => {
    const gateway = instances.find(({ entry }) => entry.name === 'payment-gateway')!;
    for (const { entry, instance, service } of instances) {
      const dependsOn = service.depends_on;
      expect(dependsOn, `${instance.name}: depends_on with conditions`).to.be.an('object').and.not.be.an('array');
      const conditions = Object.fromEntries(Object.entries(dependsOn ?? {}).map(([name, d]) => [name, (d as { condition?: string }).condition]));
      const needs = ['mongodb', 'rabbitmq'];
      const env = environmentOf(service);
      if (verifiesTokens(SERVICE_SETTINGS[entry.name]!.definition)) {
        // Its tokens' keys come from the gateway's JWKS.
        expect(new URL(env.AUTH_JWKS_URL ?? 'http://unset').host, `${instance.name} AUTH_JWKS_URL`).to.equal(`${gateway.instance.name}:${gateway.instance.port}`);
        needs.push(gateway.instance.name);
      }
      if (env.SMTP_URL) needs.push(new URL(env.SMTP_URL).hostname);
      for (const name of needs) expect(conditions[name], `${instance.name} depends on ${name}`).to.equal('service_healthy');
      for (const [name, condition] of Object.entries(conditions)) {
        expect(condition, `${instance.name} depends on ${name}`).to.equal('service_healthy');
        expect(compose.services[name]?.healthcheck, `${name}, which ${instance.name} waits for, has a healthcheck`).to.be.an('object');
      }
    }
  });

  it('addresses the other services by their compose name and their PORT', () => {
    const ports = new Map(instances.map(({ instance }) => [instance.name, String(instance.port)]));
    for (const { instance, service } of instances) {
      for (const [name, value] of Object.entries(environmentOf(service))) {
        for (const [address, host, port] of value.matchAll(/\bhttps?:\/\/([a-z0-9-]+)(?::(\d+))?/g)) {
          if (!ports.has(host!)) continue;
          expect(port ?? '80', `${instance.name} ${name}: ${address}`).to.equal(ports.get(host!));
        }
      }
    }
  });

  it('checks each service through its own /health/ready on its PORT (the healthcheck run against a stand-in server)', async () => {
    for (const { instance, service } of instances) {
      expect(service.healthcheck?.test, `${instance.name}'s healthcheck`).to.be.an('array').with.length.above(1);
      expect(service.healthcheck?.disable, instance.name).to.not.equal(true);
    }
    // Each distinct command once per answer (they share one here), with the environment of an
    // instance that has it and PORT pointing at a stand-in server of its own: it must ask that
    // port's /health/ready, pass on 200 and fail on 503.
    const commands = new Map(instances.map(({ instance, service }) => [JSON.stringify(service.healthcheck?.test), { instance, service }]));
    const outcomes = await Promise.all(
      [...commands.values()].flatMap(({ instance, service }) =>
        [200, 503].map(async (answer) => {
          const { server, port, paths } = await standIn(answer);
          try {
            const code = await runHealthcheck(service.healthcheck?.test, { ...imageEnvironment, ...environmentOf(service), PORT: String(port) });
            return { instance, answer, code, paths };
          } finally {
            await new Promise((resolve) => server.close(resolve));
          }
        }),
      ),
    );
    for (const { instance, answer, code, paths } of outcomes) {
      expect(paths, `${instance.name}: what its healthcheck asked for`).to.deep.equal(['/health/ready']);
      if (answer === 200) expect(code, `${instance.name}: healthy when ready`).to.equal(0);
      else expect(code, `${instance.name}: unhealthy when not ready`).to.not.equal(0);
    }
  });

  it('sets only variables its service reads', async () => {
    for (const { entry, instance, service } of instances) {
      const used = await variablesUsedBy(entry.name);
      // SERVICE names what the image starts (its CMD).
      const unread = Object.keys(environmentOf(service)).filter((name) => name !== 'SERVICE' && !used.has(name));
      expect(unread, `${instance.name}: variables ${entry.name} does not read`).to.deep.equal([]);
    }
  });

  it("lets every service start on the image's environment (NODE_ENV=production) and its own", async () => {
    expect(imageEnvironment).to.include({ NODE_ENV: 'production', HOST: '0.0.0.0' });
    for (const { entry, instance, service } of instances) {
      const env = { ...imageEnvironment, ...environmentOf(service) };
      await checkStartupSettings(entry.name, env).catch((err: unknown) => {
        throw new Error(`${instance.name} would not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
    }
  });

  it('requires (${VAR:?…}) exactly what a service cannot start without in production', async () => {
    expect(requiredVariables.size, 'variables marked required').to.be.above(0);
    for (const { entry, instance } of instances) {
      const rawEnv = raw.services[instance.name]?.environment ?? {};
      for (const [name, value] of Object.entries(rawEnv)) {
        if (!/\$\{[A-Za-z_][A-Za-z0-9_]*:?\?/.test(String(value))) continue;
        const env: NodeJS.ProcessEnv = { ...imageEnvironment, ...environmentOf(compose.services[instance.name]!) };
        delete env[name];
        const refused = await checkStartupSettings(entry.name, env).then(
          () => false,
          () => true,
        );
        expect(refused, `${instance.name} starts without ${name}: it need not be required`).to.equal(true);
      }
    }
  });
});

describe('Dockerfile', () => {
  it('builds in stages: everything in a build stage, production dependencies only in the image', () => {
    expect(stages.length, 'stages').to.be.at.least(2);
    const build = stages.find((s) => s.name === 'build');
    expect(build, 'a stage named build').to.not.equal(undefined);
    expect(runs(build!).some((r) => /\bnpm ci\b/.test(r) && !/--omit[= ]dev/.test(r)), 'the build stage installs dev dependencies').to.equal(true);
    expect(runs(build!).some((r) => r.includes('services/console/build.ts')), "the build stage builds the console's bundle").to.equal(true);

    // The image's node_modules: from a stage that installed production dependencies only.
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY');
    const modules = copies.find((c) => /\bnode_modules\b/.test(c.args));
    const from = /--from=(\S+)/.exec(modules?.args ?? '')?.[1];
    const source = from ? stages.find((s) => s.name === from) : runtime;
    expect(source, "the stage the image's node_modules come from").to.not.equal(undefined);
    expect(runs(source!).some((r) => /\bnpm ci\b.*--omit[= ]dev/.test(r)), 'node_modules installed with npm ci --omit=dev').to.equal(true);
    expect(runs(runtime).some((r) => /\bnpm (ci|install)\b/.test(r) && !/--omit[= ]dev/.test(r)), 'the image installs no dev dependency').to.equal(false);
    // services/ from the build stage: compiled, with the console's bundle.
    expect(copies.some((c) => /--from=build\s+\S*services\b/.test(c.args)), 'services/ copied from the build stage').to.equal(true);
    // package.json's "type": "module" makes node load the compiled .js as ES modules.
    expect(copies.some((c) => /\bpackage\.json\b/.test(c.args)), 'package.json copied into the image').to.equal(true);
    expect(runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args, 'runs as').to.equal('node');
  });
});
