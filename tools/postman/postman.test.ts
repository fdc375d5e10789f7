// The Postman collection: current with the specs, loadable by Postman's own SDK, and green against
// the whole platform started the way `make run` starts it (tools/testing/platform.ts), run by
// newman in-process. The environment's service URLs are pointed at the test platform's ports.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import newman from 'newman';
import { Collection } from 'postman-collection';
import { SERVICES, instancesOf } from '../../services/registry.js';
import { type Platform, platform, stopPlatform } from '../testing/platform.js';
import { COLLECTION_FILE, ENVIRONMENT_FILE, buildCollection } from './build.js';
import { baseUrlVariable } from './postman-items.js';

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
/** Each service instance's URL variable in the environment. */
const environmentUrls = () => SERVICES.flatMap((svc) => instancesOf(svc).map((i) => ({ key: baseUrlVariable(i.name), service: i.name })));

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
    let running: Platform;

    before(async () => {
      running = await platform();
    });

    // Its scenario bills this month, once per database: the next user of the platform gets a fresh one.
    after(() => stopPlatform());

    it('runs every request of the collection with every test passing', async () => {
      const summary = await new Promise<newman.NewmanRunSummary>((ok, fail) =>
        newman.run(
          {
            collection: readJson(COLLECTION_FILE) as never,
            environment: readJson(ENVIRONMENT_FILE) as never,
            // The environment names the services' default ports; the test platform runs on its own.
            envVar: environmentUrls().map(({ key, service }) => ({ key, value: running.url(service) })),
            reporters: ['cli'],
            timeoutRequest: 30_000,
          },
          (err, s) => (err ? fail(err) : ok(s)),
        ),
      );
      const failures = summary.run.failures.map((f) => `${f.source?.name ?? '?'}: ${f.error.message}`);
      expect(failures, failures.join('\n')).to.deep.equal([]);
      expect(summary.run.stats.requests.total).to.be.greaterThan(70);
    });
  });
});
