// The generator's own tests, on the petstore fixture (tools/codegen/test/fixtures/petstore.yaml):
// deterministic output, refusal of specs that break the lint or the contract rules, the generated
// router + client serving every operation (routing, security, bodies, query values), and the
// compile-time guarantees of the generated delegates.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Config, loadConfig } from '@redocly/openapi-core';
import { expect } from 'chai';
import express from 'express';
import ts from 'typescript';
import { stringify } from 'yaml';
import type { Principal, Role } from '../../../services/common/http/context.js';
import { HttpProblem } from '../../../services/common/http/problem.js';
import { generateApi } from '../generate.js';
import { createPetstoreClient, type PetstoreClient } from './fixtures/generated/petstore/client.js';
import { createPetstoreRouter, petstoreOperations } from './fixtures/generated/petstore/router.js';
import petstoreSpec from './fixtures/generated/petstore/spec.json' with { type: 'json' };
import { BROKEN_PET_NAME, createPetstoreDelegate } from './petstore-delegate.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const fixtureSpec = join(here, 'fixtures/petstore.yaml');
const fixtureOut = join(here, 'fixtures/generated');
const run = promisify(execFile);

const lintConfig = (): Promise<Config> => loadConfig({ configPath: join(root, 'redocly.yaml') });

describe('codegen: generation', () => {
  let config: Config;
  before(async () => {
    config = await lintConfig();
  });

  it('is deterministic: two runs give the same files, byte for byte', async () => {
    const first = await generateApi(fixtureSpec, fixtureOut, config);
    const second = await generateApi(fixtureSpec, fixtureOut, config);
    expect([...first.files.keys()]).to.deep.equal(['spec.json', 'types.ts', 'delegate.ts', 'router.ts', 'client.ts']);
    for (const [name, text] of first.files) {
      expect(Buffer.from(second.files.get(name)!).equals(Buffer.from(text)), name).to.equal(true);
    }
  });

  it('emits one delegate interface per tag, and the whole API as their union for the router', async () => {
    const { files } = await generateApi(fixtureSpec, fixtureOut, config);
    const delegate = files.get('delegate.ts')!;
    const members = (name: string) => {
      const block = new RegExp(`export interface ${name} \\{\\n([\\s\\S]*?)\\n\\}`).exec(delegate)?.[1] ?? '';
      return [...block.matchAll(/^ {2}(\w+)\(/gm)].map((m) => m[1]);
    };
    expect(members('PetsDelegate')).to.deep.equal(['listPets', 'createPet', 'getPet', 'deletePet', 'exportPets', 'adoptPet']);
    expect(members('StoreDelegate')).to.deep.equal(['getStoreInfo', 'getStoreReport']);
    expect(delegate).to.contain('export interface PetstoreDelegate extends PetsDelegate, StoreDelegate {}');
    expect(files.get('router.ts')).to.contain('export function createPetstoreRouter(delegate: api.PetstoreDelegate,');
  });

  it('emits security requirements as data: AND, OR and a scope containing ":" come out as the spec says', () => {
    expect(petstoreOperations.exportPets.security).to.deep.equal([{ bearerAuth: ['pets:export'], apiKey: [] }]);
    expect(petstoreOperations.getStoreReport.security).to.deep.equal([{ bearerAuth: ['operator'] }, { apiKey: [] }]);
    expect(petstoreOperations.getStoreInfo.security).to.deep.equal([]);
    expect(petstoreOperations.createPet.body).to.deep.equal({ required: true, mediaTypes: ['application/json'] });
  });

  it('the committed fixture output is what the fixture spec produces', async () => {
    const fresh = await generateApi(fixtureSpec, fixtureOut, config);
    const dir = join(fixtureOut, fresh.api);
    expect(readdirSync(dir).sort()).to.deep.equal([...fresh.files.keys()].sort());
    for (const [name, text] of fresh.files) {
      expect(readFileSync(join(dir, name)).equals(Buffer.from(text)), `${name} is stale: run \`make generate\``).to.equal(true);
    }
  });
});

describe('codegen: refusing bad specs', function () {
  this.timeout(30_000);
  let dir: string;
  let config: Config;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'payspec-codegen-'));
    config = await lintConfig();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A minimal valid spec with one secured POST; `mutate` breaks it. */
  function writeSpec(name: string, mutate: (op: Record<string, unknown>, spec: Record<string, unknown>) => void = () => {}): { specs: string; out: string; file: string } {
    const problem = { description: 'A problem.', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
    const op: Record<string, unknown> = {
      operationId: 'createThing',
      tags: ['things'],
      summary: 'Create a thing',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string' } } },
          },
        },
      },
      responses: { '204': { description: 'Created.' }, '400': problem, '401': problem, '403': problem, '413': problem, '415': problem },
    };
    const spec: Record<string, unknown> = {
      openapi: '3.1.0',
      info: { title: 'Things', version: '1.0.0', license: { name: 'Apache-2.0', identifier: 'Apache-2.0' } },
      servers: [{ url: '/' }],
      security: [{ bearerAuth: ['operator'] }],
      paths: { '/things': { post: op } },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
        schemas: { Problem: { type: 'object', required: ['status'], properties: { status: { type: 'integer' } } } },
      },
    };
    mutate(op, spec);
    const specs = join(dir, name);
    const out = join(dir, `${name}-out`);
    rmSync(specs, { recursive: true, force: true });
    const file = join(specs, `${name}.yaml`);
    mkdirSync(specs, { recursive: true });
    writeFileSync(file, stringify(spec));
    return { specs, out, file };
  }

  /** Runs the generator's CLI; never rejects. */
  const cli = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', join(root, 'tools/codegen/generate.ts'), ...args], { cwd: root });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const openBody = (op: Record<string, unknown>) => {
    const body = op.requestBody as { content: Record<string, { schema: Record<string, unknown> }> };
    delete body.content['application/json']!.schema.additionalProperties;
  };

  it('the minimal spec itself generates (so each refusal below is for its one defect)', async () => {
    const { file } = writeSpec('good-in-process');
    const { api, files } = await generateApi(file, join(dir, 'unused'), config);
    expect(api).to.equal('good-in-process');
    expect(files.get('delegate.ts')).to.contain('export interface ThingsDelegate {');
    expect(files.get('delegate.ts')).to.contain('export interface GoodInProcessDelegate extends ThingsDelegate {}');
  });

  it('an operation without exactly one tag breaks a contract rule (the tag names its delegate)', async () => {
    const untagged = writeSpec('untagged', (op) => delete op.tags);
    await expectRejection(generateApi(untagged.file, join(dir, 'unused'), config), /createThing\): must have exactly one tag \(it names the delegate interface that implements the operation\), has none/);
    const twoTags = writeSpec('two-tags', (op) => {
      op.tags = ['things', 'stuff'];
    });
    await expectRejection(generateApi(twoTags.file, join(dir, 'unused'), config), /must have exactly one tag .*, has things, stuff/);
  });

  it('a tag that would name the whole API\'s delegate next to another tag is refused', async () => {
    const { file } = writeSpec('clash', (op, spec) => {
      op.tags = ['clash'];
      const other = structuredClone(op);
      other.operationId = 'createOther';
      other.tags = ['other'];
      (spec.paths as Record<string, unknown>)['/others'] = { post: other };
    });
    await expectRejection(generateApi(file, join(dir, 'unused'), config), /tag 'clash' would name ClashDelegate, the whole API's delegate/);
  });

  it('a date-time query parameter without allowReserved breaks a contract rule', async () => {
    const { file } = writeSpec('date-time-query', (op) => {
      op.parameters = [{ name: 'since', in: 'query', schema: { type: 'string', format: 'date-time' } }];
    });
    await expectRejection(generateApi(file, join(dir, 'unused'), config), /query parameter 'since' is a date-time, so it must set allowReserved: true/);
  });

  it('an open request body schema breaks a contract rule', async () => {
    const { file } = writeSpec('open-body', openBody);
    await expectRejection(generateApi(file, join(dir, 'unused'), config), /createThing\) request body: object schema must set additionalProperties: false/);
  });

  it('an error response in application/json breaks a contract rule', async () => {
    const { file } = writeSpec('json-error', (op) => {
      (op.responses as Record<string, unknown>)['400'] = {
        description: 'Bad.',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Problem' } } },
      };
    });
    await expectRejection(generateApi(file, join(dir, 'unused'), config), /400 must be application\/problem\+json, not application\/json/);
  });

  it('a role-restricted operation without 403 breaks a contract rule', async () => {
    const { file } = writeSpec('no-403', (op) => {
      delete (op.responses as Record<string, unknown>)['403'];
    });
    await expectRejection(generateApi(file, join(dir, 'unused'), config), /restricts roles, so it must declare 403/);
  });

  describe('through the CLI (--specs DIR --out DIR)', () => {
    type Result = Awaited<ReturnType<typeof cli>>;
    const runs: Record<string, Promise<Result>> = {};
    const outs: Record<string, string> = {};
    before(() => {
      // Each run is a separate node process (~1.5 s): start them all at once, each test awaits its own.
      const good = writeSpec('good');
      const openBodyCli = writeSpec('open-body-cli', openBody);
      const noOperationId = writeSpec('no-operation-id', (op) => delete op.operationId);
      const unchecked = writeSpec('unchecked');
      Object.assign(outs, { good: good.out, openBody: openBodyCli.out, noOperationId: noOperationId.out });
      runs.good = cli('--specs', good.specs, '--out', good.out);
      runs.goodChecked = runs.good.then(() => cli('--specs', good.specs, '--out', good.out, '--check'));
      runs.openBody = cli('--specs', openBodyCli.specs, '--out', openBodyCli.out);
      runs.noOperationId = cli('--specs', noOperationId.specs, '--out', noOperationId.out);
      runs.unchecked = cli('--specs', unchecked.specs, '--out', unchecked.out, '--check');
    });
    after(() => Promise.all(Object.values(runs)));

    it('writes the five files of an accepted spec, and --check then passes', async () => {
      const result = await runs.good!;
      expect(result.code, result.stderr).to.equal(0);
      expect(readdirSync(join(outs.good!, 'good')).sort()).to.deep.equal(['client.ts', 'delegate.ts', 'router.ts', 'spec.json', 'types.ts']);
      const checked = await runs.goodChecked!;
      expect(checked.code, checked.stderr).to.equal(0);
    });

    it('--check exits 1 when the output is missing', async () => {
      const result = await runs.unchecked!;
      expect(result.code).to.equal(1);
      expect(result.stderr).to.match(/missing .*unchecked\/delegate\.ts/);
    });

    it('refuses a contract-rule break with exit 1 and writes nothing', async () => {
      const result = await runs.openBody!;
      expect(result.code).to.equal(1);
      expect(result.stderr).to.match(/breaks Payspec's contract rules/).and.match(/additionalProperties: false/);
      expect(existsSync(outs.openBody!)).to.equal(false);
    });

    it('refuses a Redocly lint error (missing operationId) with exit 1 and writes nothing', async () => {
      const result = await runs.noOperationId!;
      expect(result.code).to.equal(1);
      expect(result.stderr).to.match(/Spec lint failed/).and.match(/\(operation-operationId\)/);
      expect(existsSync(outs.noOperationId!)).to.equal(false);
    });
  });
});

describe('codegen: the generated router and client', () => {
  const TOKENS: Record<string, Principal> = {
    'operator-token': { subject: 'operator-1', roles: ['operator'] },
    'customer-token': { subject: 'customer-1', roles: ['customer'] },
    // Scopes are any strings in a spec; Role names only the platform's three, hence the cast.
    'exporter-token': { subject: 'exporter-1', roles: ['operator', 'pets:export' as Role] },
  };
  const API_KEYS: Record<string, Principal> = { 'partner-key': { subject: 'partner-1', roles: [] } };
  let server: Server;
  let baseUrl: string;
  let operator: PetstoreClient;
  let customer: PetstoreClient;
  let anonymous: PetstoreClient;

  before(async () => {
    const app = express();
    app.use(
      createPetstoreRouter(createPetstoreDelegate({ now: () => new Date('2025-05-01T10:00:00.000Z') }), {
        security: {
          bearerAuth: async (req) => {
            const token = /^Bearer (\S+)$/.exec(req.header('authorization') ?? '')?.[1];
            if (!token) throw new HttpProblem(401, 'missing-token', 'A bearer token is required.', { headers: { 'www-authenticate': 'Bearer' } });
            const principal = TOKENS[token];
            if (!principal) throw new HttpProblem(401, 'invalid-token', 'The bearer token is not valid.', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
            return principal;
          },
          apiKey: async (req) => {
            const key = req.header('x-api-key');
            if (!key) throw new HttpProblem(401, 'missing-api-key', 'An API key is required.');
            const principal = API_KEYS[key];
            if (!principal) throw new HttpProblem(401, 'invalid-api-key', 'The API key is not valid.');
            return principal;
          },
        },
        validateResponses: true,
      }),
    );
    server = createServer(app);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    operator = createPetstoreClient({ baseUrl, token: 'operator-token' });
    customer = createPetstoreClient({ baseUrl, token: () => 'customer-token' });
    anonymous = createPetstoreClient({ baseUrl });
  });
  after(async () => {
    await new Promise<void>((done) => server.close(() => done()));
  });

  const idem = (key: string) => ({ header: { 'Idempotency-Key': key } });
  /** A client sending `token` (if any) and the partner API key `key` (if any). */
  const client = (token?: string, key?: string) => createPetstoreClient({ baseUrl, ...(token ? { token } : {}), ...(key ? { headers: { 'x-api-key': key } } : {}) });
  /** A raw request, for what the typed client would not send (no body, another media type, an unencoded ':'). */
  const raw = (path: string, init: { method?: string; token?: string; headers?: Record<string, string>; body?: string } = {}) =>
    fetch(`${baseUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...init.headers },
      // Bytes, not a string: fetch would label a string text/plain.
      ...(init.body !== undefined ? { body: new TextEncoder().encode(init.body) } : {}),
    });
  let catId: string;
  let dogId: string;

  it('public operation: no token needed, nullable field answered as null', async () => {
    const { data, response } = await anonymous.GET('/store');
    expect(response.status).to.equal(200);
    expect(data).to.deep.equal({ name: 'Payspec Pets', motto: null, petCount: 0 });
  });

  it('201 with Location; nullable accepted; readOnly set by the server; writeOnly accepted and never answered', async () => {
    const { data, error, response } = await operator.POST('/pets', {
      params: idem('cat-1'),
      body: { petType: 'cat', name: 'Tom', nickname: null, tags: ['lazy', 'orange'], indoor: true, secret: '4321' },
    });
    expect(error).to.equal(undefined);
    expect(response.status).to.equal(201);
    expect(response.headers.get('content-type')).to.match(/^application\/json/);
    expect(data).to.deep.equal({
      id: data!.id,
      petType: 'cat',
      name: 'Tom',
      nickname: null,
      tags: ['lazy', 'orange'],
      indoor: true,
      createdAt: '2025-05-01T10:00:00.000Z',
    });
    expect(data!.id).to.match(/^pet_[0-9a-z]{8}$/);
    expect(response.headers.get('location')).to.equal(`/pets/${data!.id}`);
    catId = data!.id!;
  });

  it('oneOf + discriminator: a Dog goes in and comes back as a Dog (header parameter too)', async () => {
    const created = await operator.POST('/pets', {
      params: { header: { 'Idempotency-Key': 'dog-1', 'X-Shelter': 'north' } },
      body: { petType: 'dog', name: 'Rex', nickname: 'Rexy', tags: ['good-boy'], breed: 'beagle' },
    });
    expect(created.response.status).to.equal(201);
    dogId = created.data!.id!;

    const { data, response } = await customer.GET('/pets/{petId}', { params: { path: { petId: dogId } } });
    expect(response.status).to.equal(200);
    if (data?.petType !== 'dog') throw new Error(`expected a dog, got ${JSON.stringify(data)}`);
    expect(data.breed).to.equal('beagle'); // narrowed by the discriminator: only a Dog has `breed`
    expect(data).to.not.have.property('secret');
  });

  it('idempotency: the same key and body replays the 201; another body is a 409 problem', async () => {
    const replay = await operator.POST('/pets', {
      params: idem('cat-1'),
      body: { petType: 'cat', name: 'Tom', nickname: null, tags: ['lazy', 'orange'], indoor: true, secret: '4321' },
    });
    expect(replay.response.status).to.equal(201);
    expect(replay.data!.id).to.equal(catId);

    const conflict = await operator.POST('/pets', {
      params: idem('cat-1'),
      body: { petType: 'cat', name: 'Felix', nickname: null, tags: [], indoor: false },
    });
    expect(conflict.response.status).to.equal(409);
    expect(conflict.response.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(conflict.error).to.include({ status: 409, code: 'idempotency-key-reused', instance: '/pets' });
  });

  it('200 with query (enum, array, integer) and header parameters, and an optional response header', async () => {
    const all = await customer.GET('/pets');
    expect(all.response.status).to.equal(200);
    expect(all.data!.items.map((p) => p.id)).to.deep.equal([catId, dogId]);
    expect(all.response.headers.get('x-total-count')).to.equal('2');

    const cats = await customer.GET('/pets', { params: { query: { petType: 'cat', tags: ['lazy', 'orange'], limit: 5 } } });
    expect(cats.data!.items.map((p) => p.name)).to.deep.equal(['Tom']);

    const none = await customer.GET('/pets', { params: { query: { tags: ['lazy', 'good-boy'] } } });
    expect(none.data!.items).to.deep.equal([]);

    const north = await customer.GET('/pets', { params: { header: { 'X-Shelter': 'north' } } });
    expect(north.data!.items.map((p) => p.name)).to.deep.equal(['Rex']);

    const limited = await operator.GET('/pets', { params: { query: { limit: 1 } } });
    expect(limited.data!.items).to.have.length(1);
    expect(limited.response.headers.get('x-total-count')).to.equal('2');
  });

  it('a templated path declared first does not capture a literal one: GET /pets/export reaches exportPets and its security', async () => {
    const paths = Object.keys(petstoreSpec.paths);
    expect(paths.indexOf('/pets/{petId}')).to.be.lessThan(paths.indexOf('/pets/export')); // the order that used to misroute

    // getPet lets a customer in; exportPets needs the exporter scope and the API key, so this is exportPets' 401.
    const asCustomer = await customer.GET('/pets/export');
    expect(asCustomer.response.status).to.equal(401);
    expect(asCustomer.error).to.include({ code: 'missing-api-key', instance: '/pets/export' });

    const exported = await client('exporter-token', 'partner-key').GET('/pets/export');
    expect(exported.response.status).to.equal(200);
    expect(exported.data!.exportedBy).to.equal('exporter-1');
    expect(exported.data!.items.map((p) => p.id)).to.deep.equal([catId, dogId]);

    // …and the templated path still serves everything else.
    const cat = await customer.GET('/pets/{petId}', { params: { path: { petId: catId } } });
    expect(cat.response.status).to.equal(200);
    expect(cat.data!.id).to.equal(catId);
  });

  it('AND: a requirement combining two schemes needs both (missing either is a 401), then its scope (403)', async () => {
    const status = async (token?: string, key?: string) => {
      const { response, error } = await client(token, key).GET('/pets/export');
      return `${response.status}${error ? ` ${error.code}` : ''}`;
    };
    expect(await status('exporter-token', 'partner-key')).to.equal('200');
    expect(await status('exporter-token')).to.equal('401 missing-api-key');
    expect(await status(undefined, 'partner-key')).to.equal('401 missing-token');
    expect(await status('exporter-token', 'stolen-key')).to.equal('401 invalid-api-key');
    expect(await status('forged', 'partner-key')).to.equal('401 invalid-token');
    // Both schemes verify, but an operator without the `pets:export` scope is not allowed.
    expect(await status('operator-token', 'partner-key')).to.equal('403 forbidden');
  });

  it('OR: any one requirement will do; 403 when one failed only on the role, else the first one\'s 401', async () => {
    const report = async (token?: string, key?: string) => {
      const { response, data, error } = await client(token, key).GET('/store/report');
      return `${response.status} ${data ? data.reportedTo : error!.code}`;
    };
    expect(await report('operator-token')).to.equal('200 operator-1');
    expect(await report(undefined, 'partner-key')).to.equal('200 partner-1');
    expect(await report('customer-token', 'partner-key')).to.equal('200 partner-1');
    expect(await report('forged', 'partner-key')).to.equal('200 partner-1');
    expect(await report('customer-token')).to.equal('403 forbidden');
    expect(await report()).to.equal('401 missing-token');
    expect(await report(undefined, 'stolen-key')).to.equal('401 missing-token');
  });

  it('a date-time query value may carry an unencoded ":" (allowReserved)', async () => {
    const since = async (value: string) => {
      const response = await raw(`/pets?since=${value}`, { token: 'customer-token' });
      const body = (await response.json()) as { items?: { id: string }[]; code?: string };
      return `${response.status} ${body.items ? body.items.map((p) => p.id).join(',') : body.code}`;
    };
    expect(await since('2025-05-01T10:00:00Z')).to.equal(`200 ${catId},${dogId}`);
    expect(await since('2025-05-01T10:00:01Z')).to.equal('200 ');
    expect(await since('2025-05-01T10%3A00%3A00Z')).to.equal(`200 ${catId},${dogId}`); // encoded still works
    expect(await since('yesterday')).to.equal('400 validation-failed');
  });

  it('a required body that is missing is a 400 pointing at /body; a body in another media type is a 415 naming both', async () => {
    const headers = { 'idempotency-key': 'no-body' };
    for (const sent of [{}, { headers: { 'content-type': 'application/json' } }]) {
      const response = await raw('/pets', { method: 'POST', token: 'operator-token', headers: { ...headers, ...sent.headers } });
      expect(response.status).to.equal(400);
      expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
      const problem = (await response.json()) as { code: string; errors: unknown[] };
      expect(problem).to.include({ code: 'body-required' });
      expect(problem.errors).to.deep.equal([{ pointer: '/body', message: 'request body is required' }]);
    }

    const text = await raw('/pets', { method: 'POST', token: 'operator-token', headers: { ...headers, 'content-type': 'text/plain' }, body: 'a cat' });
    expect(text.status).to.equal(415);
    const problem = (await text.json()) as { code: string; detail: string };
    expect(problem.code).to.equal('unsupported-media-type');
    expect(problem.detail).to.equal('The request body is text/plain; this operation accepts application/json.');

    const untyped = await raw('/pets', { method: 'POST', token: 'operator-token', headers, body: '{}' });
    expect(untyped.status).to.equal(415);
    expect(((await untyped.json()) as { detail: string }).detail).to.equal('The request body has no Content-Type; this operation accepts application/json.');

    // Security still comes first: an anonymous caller learns nothing about the body.
    expect((await raw('/pets', { method: 'POST', headers })).status).to.equal(401);
  });

  it('POST without a body: 200, then the `default` response (an undeclared 409) as problem+json', async () => {
    const first = await customer.POST('/pets/{petId}/adoption', { params: { path: { petId: catId } } });
    expect(first.response.status).to.equal(200);
    expect(first.data).to.deep.equal({ petId: catId, adopter: 'customer-1', adoptedAt: '2025-05-01T10:00:00.000Z' });

    const again = await customer.POST('/pets/{petId}/adoption', { params: { path: { petId: catId } } });
    expect(again.response.status).to.equal(409);
    expect(again.response.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(again.error).to.include({ status: 409, code: 'already-adopted', instance: `/pets/${catId}/adoption` });
  });

  it('204 with an empty body, then 404', async () => {
    const { data, error, response } = await operator.DELETE('/pets/{petId}', { params: { path: { petId: dogId } } });
    expect(response.status).to.equal(204);
    expect(data).to.equal(undefined);
    expect(error).to.equal(undefined);
    expect(await response.text()).to.equal('');
    expect(response.headers.get('content-type')).to.equal(null);

    const gone = await operator.GET('/pets/{petId}', { params: { path: { petId: dogId } } });
    expect(gone.response.status).to.equal(404);
    expect(gone.error).to.include({ status: 404, code: 'pet-not-found', title: 'Not Found' });
  });

  it('a readOnly property in a request is refused: 400 problem+json', async () => {
    const { error, response } = await operator.POST('/pets', {
      params: idem('read-only'),
      // @ts-expect-error the typed client will not even build it: `id` is readOnly
      body: { id: 'pet_0000000z', petType: 'cat', name: 'Tom', nickname: null, tags: [], indoor: true },
    });
    expect(response.status).to.equal(400);
    expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(error).to.include({ status: 400, code: 'validation-failed' });
    // express-openapi-validator validates a discriminated body on its own and leaves out `/body`;
    // the runtime puts it back (services/common/http/errors.ts toPointer).
    expect(error!.errors).to.have.length(1);
    expect(error!.errors![0]).to.include({ message: 'is read-only' });
    expect(error!.errors![0]!.pointer).to.equal('/body/id');
  });

  it('an unknown field is refused: 400 problem+json pointing at it', async () => {
    const { error, response } = await operator.POST('/pets', {
      params: idem('unknown-field'),
      // @ts-expect-error the typed client will not build it either: a Cat has no `colour`
      body: { petType: 'cat', name: 'Tom', nickname: null, tags: [], indoor: true, colour: 'orange' },
    });
    expect(response.status).to.equal(400);
    expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(error).to.include({ status: 400, code: 'validation-failed' });
    expect(error!.errors).to.have.length(1);
    expect(error!.errors![0]).to.include({ message: 'must NOT have additional properties' });
    expect(error!.errors![0]!.pointer).to.equal('/body/colour');
  });

  it('a discriminator value outside the oneOf, a bad path parameter and a missing required header are 400s', async () => {
    const hamster = await operator.POST('/pets', {
      params: idem('hamster'),
      body: { petType: 'hamster', name: 'Hammy', nickname: null, tags: [], indoor: true } as never,
    });
    expect(hamster.response.status).to.equal(400);
    expect(hamster.error).to.include({ code: 'validation-failed' });

    const badId = await operator.GET('/pets/{petId}', { params: { path: { petId: 'not-a-pet-id' } } });
    expect(badId.response.status).to.equal(400);
    expect(badId.error!.errors!.map((e) => e.pointer)).to.include('/path/petId');

    const noKey = await operator.POST('/pets', {
      params: { header: {} as { 'Idempotency-Key': string } },
      body: { petType: 'cat', name: 'Tom', nickname: null, tags: [], indoor: true },
    });
    expect(noKey.response.status).to.equal(400);
    expect(noKey.error).to.include({ code: 'validation-failed' });
  });

  it('a missing or forged token is a 401 problem+json, before the body is even read', async () => {
    const missing = await anonymous.GET('/pets');
    expect(missing.response.status).to.equal(401);
    expect(missing.response.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(missing.response.headers.get('www-authenticate')).to.equal('Bearer');
    expect(missing.error).to.include({ status: 401, code: 'missing-token' });

    const forged = createPetstoreClient({ baseUrl, token: 'forged' });
    const invalid = await forged.POST('/pets', { params: idem('forged'), body: { colour: 'x' } as never });
    expect(invalid.response.status).to.equal(401);
    expect(invalid.error).to.include({ status: 401, code: 'invalid-token' });
  });

  it('a role the operation does not allow is a 403 problem+json', async () => {
    const customerCreates = await customer.POST('/pets', {
      params: idem('customer'),
      body: { petType: 'cat', name: 'Tom', nickname: null, tags: [], indoor: true },
    });
    expect(customerCreates.response.status).to.equal(403);
    expect(customerCreates.response.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(customerCreates.error).to.include({ status: 403, code: 'forbidden' });

    const operatorAdopts = await operator.POST('/pets/{petId}/adoption', { params: { path: { petId: catId } } });
    expect(operatorAdopts.response.status).to.equal(403);
  });

  it('a response that breaks the spec is a 500 problem+json that reveals nothing', async () => {
    const created = await operator.POST('/pets', {
      params: idem('broken'),
      body: { petType: 'cat', name: BROKEN_PET_NAME, nickname: null, tags: [], indoor: false, secret: 'hunter22' },
    });
    expect(created.response.status).to.equal(201);

    const { data, error, response } = await operator.GET('/pets/{petId}', { params: { path: { petId: created.data!.id! } } });
    expect(data).to.equal(undefined);
    expect(response.status).to.equal(500);
    expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(error).to.have.all.keys('type', 'title', 'status', 'code', 'detail', 'instance', 'requestId');
    expect(error).to.include({ status: 500, code: 'internal-error', title: 'Internal Server Error' });
    expect(error!.requestId).to.equal(response.headers.get('x-request-id'));
    const text = JSON.stringify(error);
    for (const secret of ['hunter22', 'secret', 'write', '.response', 'stack', 'Error:', 'node_modules', '    at ']) {
      expect(text, `the 500 body mentions ${secret}`).to.not.contain(secret);
    }
  });
});

describe('codegen: compile-time guarantees of the generated delegate', function () {
  this.timeout(30_000);
  const delegateFile = join(here, 'petstore-delegate.ts');
  const variantFile = join(here, 'petstore-delegate.tmp.ts');
  /** Each `@ts-expect-error [case]` in petstore-delegate.ts, the error TypeScript gives without it, and a word of its message. */
  const CASES: Record<string, { code: number; mentions: string }> = {
    'undeclared-status': { code: 2322, mentions: '418' },
    'wrong-body': { code: 2322, mentions: 'not assignable' },
    'wrong-error-body': { code: 2322, mentions: 'not assignable' },
    'missing-location': { code: 2322, mentions: "'headers'" },
    'body-on-204': { code: 2353, mentions: "'body'" },
    'write-only-in-response': { code: 2322, mentions: "'secret' does not exist" },
    'default-not-2xx': { code: 2322, mentions: '201' },
    'unknown-query-field': { code: 2339, mentions: "'sort'" },
    'unknown-body-field': { code: 2339, mentions: "'colour'" },
    'read-only-in-request': { code: 2322, mentions: "'undefined' is not assignable to type 'string'" },
    'public-principal': { code: 18048, mentions: 'ctx.principal' },
    'public-ctx-for-secured': { code: 2345, mentions: "'principal'" },
    'missing-method': { code: 2741, mentions: "'getStoreInfo'" },
    'missing-method-literal': { code: 2741, mentions: "'getStoreInfo'" },
    'undeclared-status-in-literal': { code: 2322, mentions: '200' },
    'other-tag-method': { code: 2353, mentions: "'listPets'" },
  };
  const source = readFileSync(delegateFile, 'utf8');
  const lines = source.split('\n');
  const directiveLine = (name: string) => lines.findIndex((l) => l.includes(`@ts-expect-error [${name}]`));

  let options: ts.CompilerOptions;
  let program: ts.Program | undefined;
  before(() => {
    const { config, error } = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
    if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
    options = { ...ts.parseJsonConfigFileContent(config, ts.sys, root).options, noEmit: true };
  });
  afterEach(() => {
    if (existsSync(variantFile)) unlinkSync(variantFile);
  });

  /** Compiles `file` (and what it imports) with the project's options; the diagnostics in `file` itself, plus any global ones. */
  function compile(file: string) {
    program = ts.createProgram({ rootNames: [file], options, ...(program ? { oldProgram: program } : {}) });
    return ts.getPreEmitDiagnostics(program).map((d) => ({
      file: d.file?.fileName,
      line: d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1,
      code: d.code,
      message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
    }));
  }

  it('every case in petstore-delegate.ts is marked, and the file compiles with zero diagnostics', () => {
    const marked = [...source.matchAll(/@ts-expect-error \[([a-z0-9-]+)\]/g)].map((m) => m[1]);
    expect(marked).to.have.members(Object.keys(CASES));
    expect(source.match(/@ts-expect-error/g)).to.have.length(marked.length);
    expect(compile(delegateFile)).to.deep.equal([]);
  });

  it('control: without one directive, exactly that error appears, on that line', () => {
    const at = directiveLine('undeclared-status');
    writeFileSync(variantFile, lines.filter((_, i) => i !== at).join('\n'));
    const diagnostics = compile(variantFile);
    expect(diagnostics.map(({ file, line, code }) => ({ file, line, code }))).to.deep.equal([
      { file: variantFile.replace(/\\/g, '/'), line: at, code: 2322 },
    ]);
    const [, statuses] = /^Type '418' is not assignable to type '([^']+)'/.exec(diagnostics[0]!.message) ?? [];
    expect(statuses?.split(' | ').sort()).to.deep.equal(['200', '400', '401', '403', '404']);
  });

  it('without every directive, each case gives its own expected error and nothing else', () => {
    const directives = new Set(Object.keys(CASES).map(directiveLine));
    const kept = lines.map((l, i) => ({ l, i })).filter(({ i }) => !directives.has(i));
    writeFileSync(variantFile, kept.map(({ l }) => l).join('\n'));
    // Line (0-based) in the variant where each case's offending line now is: the line after its directive.
    const lineOf = (name: string) => kept.findIndex(({ i }) => i === directiveLine(name) + 1);
    const diagnostics = compile(variantFile);
    const got = Object.fromEntries(
      Object.keys(CASES).map((name) => {
        const here = diagnostics.filter((d) => d.line === lineOf(name));
        return [name, here.map((d) => ({ code: d.code, mentions: d.message.includes(CASES[name]!.mentions) }))];
      }),
    );
    const expected = Object.fromEntries(Object.entries(CASES).map(([name, c]) => [name, [{ code: c.code, mentions: true }]]));
    expect(got).to.deep.equal(expected);
    expect(diagnostics).to.have.length(Object.keys(CASES).length);
  });
});

async function expectRejection(promise: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    expect((err as Error).message).to.match(message);
    return;
  }
  expect.fail(`expected a rejection matching ${message}`);
}
