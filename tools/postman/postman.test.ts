// The Postman collection: current with the specs, loadable by Postman's own SDK, and green against
// the whole platform started the way `make run` starts it (tools/dev/platform.ts), run by newman
// in-process. The platform uses the default ports (the collection's environment names them), its own
// AMQP prefix, and the voucher provider ten times faster than real time.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import newman from 'newman';
import { Collection } from 'postman-collection';
import { SERVICES, instancesOf } from '../../services/registry.js';
import { deleteTopology, withMongo } from '../testing/service-harness.js';
import { eventually } from '../testing/wait.js';
import { COLLECTION_FILE, ENVIRONMENT_FILE, buildCollection } from './build.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const ports = SERVICES.flatMap((svc) => instancesOf(svc).map((i) => i.port));

describe('Postman collection', function () {
  this.timeout(180_000);

  it('is what make postman builds from the specs (make check-generated checks it too)', async () => {
    const { collection, environment } = await buildCollection();
    expect(readJson(COLLECTION_FILE)).to.deep.equal(JSON.parse(JSON.stringify(collection)));
    expect(readJson(ENVIRONMENT_FILE)).to.deep.equal(JSON.parse(JSON.stringify(environment)));
  });

  it('loads in the postman-collection SDK as a v2.1 collection: every folder and request, each URL on a service variable', () => {
    const json = readJson(COLLECTION_FILE);
    expect((json.info as Record<string, unknown>).schema).to.equal('https://schema.getpostman.com/json/collection/v2.1.0/collection.json');
    const collection = new Collection(json as never);
    const requests: string[] = [];
    collection.forEachItem((item) => requests.push(item.request.url.getHost()));
    const folders = (json.item as unknown[]).length;
    expect(folders).to.equal(SERVICES.length + 1);
    expect(requests.length).to.be.greaterThan(70);
    const variables = new Set((readJson(ENVIRONMENT_FILE).values as { key: string }[]).map((v) => `{{${v.key}}}`));
    for (const host of requests) expect(variables, host).to.include(host);
    // A round trip through the SDK keeps every request.
    let again = 0;
    new Collection(collection.toJSON()).forEachItem(() => again++);
    expect(again).to.equal(requests.length);
  });

  describe('run by newman against the whole platform', () => {
    let platform: ChildProcess | undefined;
    let output = '';
    const runPrefix = `postman${process.pid}${Date.now()}`;

    before(async function () {
      const busy = (await Promise.all(ports.map((port) => fetch(`http://127.0.0.1:${port}/health/live`).then(() => port, () => undefined)))).filter(Boolean);
      if (busy.length > 0) throw new Error(`ports ${busy.join(', ')} are in use (is make run going?): the collection's environment needs them free`);
      platform = spawn(process.execPath, ['--import', 'tsx', 'tools/dev/platform.ts'], {
        cwd: root,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          AMQP_PREFIX: runPrefix,
          // Databases of this run's own, dropped after: the scenario's billing run is once per period and database.
          PLATFORM_DB_PREFIX: runPrefix,
          BILLING_SCHEDULE: 'off',
          PROVIDER_TIME_SCALE: '0.1',
          LOG_LEVEL: 'warn',
        },
      });
      platform.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      platform.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      const ready = async () => {
        if (platform!.exitCode !== null) return `stopped:\n${output.slice(-3000)}`;
        const answers = await Promise.all(ports.map((port) => fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false)));
        return answers.every(Boolean) ? 'ready' : 'starting';
      };
      expect(await eventually(ready, (state) => state !== 'starting', 'the platform', 90_000, 250)).to.equal('ready');
    });

    after(async () => {
      if (platform && platform.exitCode === null) {
        const stopped = new Promise((ok) => platform!.once('exit', ok));
        process.kill(-platform.pid!, 'SIGTERM');
        await Promise.race([stopped, new Promise((ok) => setTimeout(ok, 20_000))]);
        if (platform.exitCode === null) process.kill(-platform.pid!, 'SIGKILL');
      }
      // The run's databases and queues go with it.
      await withMongo(async (client) => {
        const { databases } = await client.db('admin').admin().listDatabases({ nameOnly: true });
        for (const { name } of databases.filter((db) => db.name.startsWith(`${runPrefix}_`))) await client.db(name).dropDatabase();
      });
      for (const svc of SERVICES) await deleteTopology(runPrefix, svc.name, [1_000, 5_000, 30_000]).catch(() => undefined); // the platform's default retry delays
    });

    it('runs every request of the collection with every test passing', async () => {
      const summary = await new Promise<newman.NewmanRunSummary>((ok, fail) =>
        newman.run({ collection: readJson(COLLECTION_FILE) as never, environment: readJson(ENVIRONMENT_FILE) as never, reporters: ['cli'], timeoutRequest: 30_000 }, (err, s) => (err ? fail(err) : ok(s))),
      );
      const failures = summary.run.failures.map((f) => `${f.source?.name ?? '?'}: ${f.error.message}`);
      expect(failures, failures.join('\n')).to.deep.equal([]);
      expect(summary.run.stats.requests.total).to.be.greaterThan(70);
    });
  });
});
