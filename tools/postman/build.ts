// `make postman`: the Postman collection users import, built from the bundled specs
// (generated/<api>/spec.json) — so it cannot drift from the APIs.
//
//   tsx tools/postman/build.ts          write postman/payspec.postman_collection.json and postman/local.postman_environment.json
//   tsx tools/postman/build.ts --check  exit 1 when they differ from what the specs produce (make check-generated)
//
// Each API's folder comes from Postman's own converter (openapi-to-postmanv2): paths, parameters,
// headers and bodies from the specs' examples. It is then made deterministic (no random ids) and
// runnable: a base-URL variable per service, the caller's credentials from variables (bearer tokens
// that the sign-in requests' test scripts set, API keys), a fresh `{{$guid}}` Idempotency-Key per
// write, optional query parameters off, and tests that the status is one the operation declares
// and the body matches that status's schema. The scenario folder (scenario.ts) runs the platform
// end to end and comes first.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import converter from 'openapi-to-postmanv2';
import { SERVICES, instancesOf } from '../../services/registry.js';
import { scenarioFolder } from './scenario.js';
import { type Item, type JsonObject, ROLE_TOKEN, apiKeyAuth, baseUrlVariable, bearer, jsonSchemaFor, testEvent } from './postman-items.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const COLLECTION_FILE = join(root, 'postman/payspec.postman_collection.json');
export const ENVIRONMENT_FILE = join(root, 'postman/local.postman_environment.json');

/** What each simulator's callers send in `X-Api-Key` locally (README). */
const LOCAL_API_KEYS = { bankApiKey: 'dev-bank-key', voucherProviderApiKey: 'dev-voucher-provider-key' };
const API_KEY_VARIABLE: Record<string, string> = { 'acquiring-bank': 'bankApiKey', 'voucher-provider': 'voucherProviderApiKey' };

interface ConvertedItem {
  name: string;
  request: JsonObject & { url: { host: string[]; path: string[]; query?: JsonObject[]; variable?: JsonObject[] }; header?: JsonObject[]; method: string };
  item?: ConvertedItem[];
}

async function convert(spec: JsonObject): Promise<ConvertedItem[]> {
  const result = await new Promise<{ result: boolean; reason?: string; output: { data: { item: ConvertedItem[] } }[] }>((ok, fail) =>
    converter.convertV2(
      { type: 'json', data: spec },
      { folderStrategy: 'Paths', requestParametersResolution: 'Example', exampleParametersResolution: 'Example', parametersResolution: 'Example', includeAuthInfoInExample: false },
      (err, res) => (err ? fail(err) : ok(res as never)),
    ),
  );
  if (!result.result) throw new Error(`openapi-to-postmanv2: ${result.reason}`);
  const flat: ConvertedItem[] = [];
  const walk = (items: ConvertedItem[]) => items.forEach((i) => (i.item ? walk(i.item) : flat.push(i)));
  walk(result.output[0]!.data.item);
  return flat;
}

interface SpecOperation {
  operationId: string;
  method: string;
  path: string;
  op: JsonObject;
}

function operationsOf(spec: JsonObject): SpecOperation[] {
  const ops: SpecOperation[] = [];
  for (const [path, item] of Object.entries(spec.paths as Record<string, JsonObject>)) {
    for (const [method, op] of Object.entries(item)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) ops.push({ operationId: (op as JsonObject).operationId as string, method, path, op: op as JsonObject });
    }
  }
  return ops;
}

/** The Postman path of an OpenAPI path: `{id}` becomes `:id`, as the converter writes it. */
const postmanPath = (path: string) => path.replace(/\{([^}]+)\}/g, ':$1');

/** Tests every API request carries: a declared status, and a body matching that status's schema. */
export function contractTests(spec: JsonObject, op: JsonObject, label: string): string[] {
  const schemas: Record<string, JsonObject | null> = {};
  for (const [status, raw] of Object.entries(op.responses as Record<string, JsonObject>)) {
    const response = resolve$ref(spec, raw);
    const content = (response.content ?? {}) as Record<string, JsonObject>;
    const media = content['application/json'] ?? content['application/problem+json'];
    schemas[status] = media?.schema ? jsonSchemaFor(spec, media.schema as JsonObject) : null;
  }
  return [
    `// ${label}: the status is one the spec declares, and the body matches that status's schema.`,
    `const declared = ${JSON.stringify(schemas)};`,
    `const status = String(pm.response.code);`,
    `pm.test('status ' + status + ' is declared by ${label}', () => pm.expect(Object.keys(declared)).to.include(status));`,
    `if (declared[status]) pm.test('body matches the ' + status + ' schema', () => pm.response.to.have.jsonSchema(declared[status]));`,
  ];
}

function resolve$ref(spec: JsonObject, node: JsonObject): JsonObject {
  let current = node;
  while (typeof current.$ref === 'string') {
    current = (current.$ref as string)
      .slice(2)
      .split('/')
      .reduce<unknown>((n, k) => (n as JsonObject)[k.replace(/~1/g, '/').replace(/~0/g, '~')], spec) as JsonObject;
  }
  return current;
}

function authFor(api: string, spec: JsonObject, op: JsonObject): JsonObject {
  const security = (op.security ?? spec.security ?? []) as Record<string, string[]>[];
  if (security.length === 0 || security.every((s) => Object.keys(s).length === 0)) return { type: 'noauth' };
  if (API_KEY_VARIABLE[api]) return apiKeyAuth(API_KEY_VARIABLE[api]!);
  // The first role allowed calls it: operators for back-office operations, customers for their own.
  const role = Object.values(security[0]!)[0]?.[0] ?? 'customer';
  return bearer(ROLE_TOKEN[role] ?? ROLE_TOKEN.customer!);
}

async function apiFolder(api: string, title: string, variable: string): Promise<Item> {
  const spec = JSON.parse(readFileSync(join(root, 'generated', api, 'spec.json'), 'utf8')) as JsonObject;
  const converted = await convert(spec);
  const items: Item[] = operationsOf(spec).map(({ operationId, method, path, op }) => {
    const match = converted.find((c) => c.request.method === method.toUpperCase() && `/${c.request.url.path.join('/')}` === postmanPath(path));
    if (!match) throw new Error(`${api}: the converter produced no request for ${method.toUpperCase()} ${path}`);
    const { url } = match.request;
    const header = (match.request.header ?? [])
      .map((h) => (String(h.key).toLowerCase() === 'idempotency-key' ? { key: h.key, value: '{{$guid}}' } : { key: h.key, value: h.value }));
    const body = match.request.body as JsonObject | undefined;
    const tests = contractTests(spec, op, `${operationId}`);
    if (operationId === 'signIn') {
      tests.push(`// Later requests of this folder call as the account that signed in.`, `if (pm.response.code === 200) pm.collectionVariables.set('${ROLE_TOKEN.customer}', pm.response.json().accessToken);`);
    }
    return {
      name: `${operationId} — ${(op.summary as string | undefined) ?? `${method.toUpperCase()} ${path}`}`,
      request: {
        method: method.toUpperCase(),
        header,
        url: {
          raw: `{{${variable}}}${postmanPath(path)}`,
          host: [`{{${variable}}}`],
          path: url.path,
          ...(url.query?.length ? { query: url.query.map((q) => ({ key: q.key, value: q.value, disabled: !isRequiredQuery(op, spec, String(q.key)) })) } : {}),
          ...(url.variable?.length ? { variable: url.variable.map((v) => ({ key: v.key, value: v.value })) } : {}),
        },
        ...(body && body.mode === 'raw' ? { body: { mode: 'raw', raw: body.raw, options: { raw: { language: 'json' } } } } : {}),
        auth: authFor(api, spec, op),
        ...(typeof op.description === 'string' ? { description: op.description } : {}),
      },
      event: [testEvent(tests)],
    };
  });
  return { name: title, description: `${(spec.info as JsonObject).title as string}: every operation, its request built from the spec's examples.`, item: items };
}

function isRequiredQuery(op: JsonObject, spec: JsonObject, name: string): boolean {
  return ((op.parameters ?? []) as JsonObject[]).map((p) => resolve$ref(spec, p)).some((p) => p.name === name && p.in === 'query' && p.required === true);
}

export async function buildCollection(): Promise<{ collection: JsonObject; environment: JsonObject }> {
  const variables: { key: string; value: string }[] = [];
  const folders: Item[] = [];
  for (const svc of SERVICES) {
    const instances = instancesOf(svc);
    for (const instance of instances) variables.push({ key: baseUrlVariable(instance.name), value: `http://127.0.0.1:${instance.port}` });
    // A service with several instances (the banks) gets one folder, on its first instance.
    folders.push(await apiFolder(svc.name, svc.name, baseUrlVariable(instances[0]!.name)));
  }
  const environmentValues = [
    ...variables,
    // No token variables here: an environment value would shadow the collection variables the sign-ins set.
    { key: 'operatorEmail', value: 'operator@payspec.local' },
    { key: 'operatorPassword', value: 'local-operator-password' },
    ...Object.entries(LOCAL_API_KEYS).map(([key, value]) => ({ key, value })),
  ];
  const collection = {
    info: {
      name: 'Payspec',
      description: 'Generated by `make postman` from specs/*.yaml — do not edit by hand. Import it with postman/local.postman_environment.json; run it with newman (README, "Postman").',
      schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    },
    item: [scenarioFolder(), ...folders],
  };
  const environment = {
    name: 'Payspec local (make run)',
    values: environmentValues.map((v) => ({ ...v, type: /Token$|Password$|ApiKey$/.test(v.key) ? 'secret' : 'default', enabled: true })),
  };
  return { collection, environment };
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const { collection, environment } = await buildCollection();
  const differences: string[] = [];
  for (const [file, value] of [
    [COLLECTION_FILE, collection],
    [ENVIRONMENT_FILE, environment],
  ] as const) {
    const text = `${JSON.stringify(value, null, 2)}\n`;
    if (existsSync(file) && readFileSync(file, 'utf8') === text) continue;
    differences.push(file.slice(root.length + 1));
    if (!check) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
  }
  if (check && differences.length > 0) {
    console.error(`the Postman collection is out of date with the specs (run \`make postman\`):\n  ${differences.join('\n  ')}`);
    process.exit(1);
  }
  console.log(check ? 'postman/ matches the specs' : `postman/: ${differences.length} files written`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  });
}
