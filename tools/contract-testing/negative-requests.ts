/**
 * Derives invalid requests for one operation from its OpenAPI schema, and runs them against a
 * live server, checking that each is rejected with the right status and an RFC 9457 problem.
 *
 * Soundness rule: a body or parameter mutation is only emitted when ajv confirms it introduces
 * a schema violation the valid request did not have. So a case never expects a 400 for a
 * request the spec actually allows — false alarms would teach people to ignore the checker.
 */
import { errorSignature, validateAt } from './ajv-context.js';
import { recordExercised, registerSpec } from './coverage.js';
import { createResponseValidator } from './response-validator.js';
import {
  child,
  coerceParameterValue,
  escapePointerSegment,
  findOperationById,
  getAtPointer,
  isJsonMediaType,
  isObject,
  jsonTypeOf,
  mediaTypeOf,
  operationParameters,
  resolveRef,
  schemaTypes,
  typeAllowed,
  type JsonObject,
  type Located,
  type OpenApiSpec,
  type OperationInfo,
} from './spec-utils.js';

export type InvalidRequestKind =
  | 'missing-required'
  | 'wrong-type'
  | 'out-of-range'
  | 'bad-enum'
  | 'bad-pattern'
  | 'bad-format'
  | 'unknown-field'
  | 'malformed-json'
  | 'wrong-content-type'
  | 'oversized-body'
  | 'missing-token'
  | 'forged-token'
  | 'bad-parameter';

/** A request the server must accept; every case is this request with exactly one defect. */
export interface ValidRequest {
  path?: Record<string, string>;
  query?: Record<string, string | number | boolean>;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface InvalidRequestCase {
  name: string;
  kind: InvalidRequestKind;
  /** Upper-case HTTP method. */
  method: string;
  pathTemplate: string;
  path: Record<string, string>;
  query: Record<string, string>;
  /** Request headers, without Authorization (the runner adds it according to `auth`). */
  headers: Record<string, string>;
  rawBody?: string;
  contentType?: string;
  expectedStatus: 400 | 401 | 413 | 415;
  /** Which bearer token the runner sends: the valid one, none, or the forged one. */
  auth: 'valid' | 'none' | 'forged';
  /** Where the defect is, as a JSON pointer into `{ body, query, path, headers }` (informational). */
  pointer?: string;
  /** For schema mutations: the mutated JSON body (`rawBody` is its serialization). */
  body?: unknown;
}

/** Bodies larger than any sane JSON limit (servers here cap at ~1 MB or less). */
const OVERSIZED_BYTES = 2 * 1024 * 1024;
/** Nesting depth limit for recursive schemas. */
const MAX_DEPTH = 12;
/** Don't build absurd strings/arrays just to exceed a huge max. */
const MAX_GENERATED_LENGTH = 100_000;
const MAX_GENERATED_ITEMS = 1_000;
/** Headers OpenAPI says to ignore when declared as parameters (they are controlled elsewhere). */
const IGNORED_HEADER_PARAMS = new Set(['authorization', 'content-type', 'accept']);

const FORMAT_CANDIDATES: Record<string, string[]> = {
  date: ['not-a-date', '2024-13-45'],
  'date-time': ['not-a-date-time', '2024-13-45T99:99:99Z'],
  time: ['not-a-time'],
  email: ['not-an-email', 'missing-at.example.com'],
  uuid: ['not-a-uuid', '00000000-0000-0000-0000-00000000000Z'],
  uri: ['not a uri'],
};

const PATTERN_CANDIDATES = ['!!!', '###', '', 'ZZZ', '0', 'a', '-', '~~~'];

type ValueKind = 'wrong-type' | 'out-of-range' | 'bad-enum' | 'bad-pattern' | 'bad-format';

/** A way to break one value: try candidates in order, keep the first that ajv rejects. */
interface ValueMutation {
  kind: ValueKind;
  label: string;
  candidates: unknown[];
}

interface BodyMutation {
  kind: Exclude<InvalidRequestKind, 'bad-parameter'>;
  /** JSON pointer into the body. */
  pointer: string;
  label: string;
  /** `remove` deletes the property at `pointer`; otherwise set it to the first working candidate. */
  remove: boolean;
  candidates: unknown[];
}

interface RequestBodyInfo {
  mediaType: string;
  /** Pointer of the JSON schema in the spec, when one is declared. */
  schemaPointer?: string;
  /** Whether the operation also accepts text/plain (then wrong-content-type is meaningless). */
  acceptsTextPlain: boolean;
}

export function deriveInvalidRequests(spec: OpenApiSpec, operationId: string, valid: ValidRequest): InvalidRequestCase[] {
  const op = findOperationById(spec, operationId);
  if (!op) throw new Error(`deriveInvalidRequests: no operation '${operationId}' in the spec`);

  const params = operationParameters(spec, op);
  const basePath = stringifyValues(valid.path ?? {});
  for (const p of params) {
    const name = p.node['name'];
    if (p.node['in'] === 'path' && typeof name === 'string' && basePath[name] === undefined) {
      throw new Error(`deriveInvalidRequests(${operationId}): valid.path.${name} is required`);
    }
  }
  const base: Omit<InvalidRequestCase, 'name' | 'kind' | 'expectedStatus'> = {
    method: op.method,
    pathTemplate: op.pathTemplate,
    path: basePath,
    query: stringifyValues(valid.query ?? {}),
    headers: withoutHeader(valid.headers ?? {}, 'authorization'),
    auth: 'valid',
  };
  const bodyInfo = requestBodyInfo(spec, op);
  if (bodyInfo && valid.body !== undefined) {
    base.rawBody = JSON.stringify(valid.body);
    base.contentType = bodyInfo.mediaType;
  }

  const cases: InvalidRequestCase[] = [];
  const add = (kind: InvalidRequestKind, expectedStatus: InvalidRequestCase['expectedStatus'], label: string, extra: Partial<InvalidRequestCase>): void => {
    cases.push({ ...base, ...extra, name: `${operationId}: ${label}`, kind, expectedStatus });
  };

  if (requiresBearerAuth(spec, op)) {
    add('missing-token', 401, 'missing Authorization header', { auth: 'none' });
    add('forged-token', 401, 'forged bearer token', { auth: 'forged' });
  }

  if (bodyInfo) {
    if (!bodyInfo.acceptsTextPlain) {
      add('wrong-content-type', 415, 'body sent as text/plain', {
        rawBody: base.rawBody ?? '{}',
        contentType: 'text/plain',
      });
    }
    add('malformed-json', 400, 'malformed JSON body', { rawBody: '{"a":', contentType: bodyInfo.mediaType, pointer: '/body' });
    add('oversized-body', 413, `oversized body (~${OVERSIZED_BYTES / 1024 / 1024} MB)`, {
      rawBody: JSON.stringify({ padding: 'x'.repeat(OVERSIZED_BYTES) }),
      contentType: bodyInfo.mediaType,
    });
  }

  for (const c of deriveParameterCases(spec, params, base)) add(c.kind, 400, c.label, c.extra);

  if (bodyInfo?.schemaPointer !== undefined && valid.body !== undefined) {
    for (const c of deriveBodyCases(spec, bodyInfo.schemaPointer, valid.body)) {
      add(c.kind, 400, c.label, {
        rawBody: JSON.stringify(c.body),
        contentType: bodyInfo.mediaType,
        pointer: `/body${c.pointer}`,
        body: c.body,
      });
    }
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Request body

function requestBodyInfo(spec: OpenApiSpec, op: OperationInfo): RequestBodyInfo | undefined {
  const requestBody = child(spec, op.operation, 'requestBody');
  if (!requestBody) return undefined;
  const content = requestBody.node['content'];
  if (!isObject(content)) return undefined;
  const keys = Object.keys(content);
  const jsonKey = keys.find((k) => isJsonMediaType(mediaTypeOf(k)));
  if (jsonKey === undefined) return undefined; // only JSON bodies are modelled
  const schema = child(spec, requestBody, 'content', jsonKey, 'schema');
  const accepting = keys.map((k) => mediaTypeOf(k));
  const info: RequestBodyInfo = {
    mediaType: mediaTypeOf(jsonKey) ?? 'application/json',
    acceptsTextPlain: accepting.some((k) => k === 'text/plain' || k === 'text/*' || k === '*/*'),
  };
  // Pointer of the schema *as written* (possibly a $ref): ajv follows refs itself.
  if (schema) info.schemaPointer = `${requestBody.pointer}/content/${escapePointerSegment(jsonKey)}/schema`;
  return info;
}

interface DerivedBodyCase {
  kind: BodyMutation['kind'];
  label: string;
  pointer: string;
  body: unknown;
}

function deriveBodyCases(spec: OpenApiSpec, schemaPointer: string, validBody: unknown): DerivedBodyCase[] {
  const mutations: BodyMutation[] = [];
  walkBodySchema(spec, { node: getAtPointer(spec, schemaPointer), pointer: schemaPointer }, validBody, '', 0, mutations);

  // Errors the valid body already has (e.g. required readOnly properties) don't count.
  const baseline = new Set(validateAt(spec, schemaPointer, validBody).map(errorSignature));
  const introducesError = (body: unknown): boolean =>
    validateAt(spec, schemaPointer, body).some((e) => !baseline.has(errorSignature(e)));

  const seen = new Set<string>();
  const out: DerivedBodyCase[] = [];
  for (const m of mutations) {
    const key = `${m.kind}|${m.pointer}|${m.remove ? '-' : JSON.stringify(m.candidates)}`;
    if (seen.has(key)) continue; // allOf branches can yield the same mutation twice
    seen.add(key);
    const candidates = m.remove ? [undefined] : m.candidates;
    for (const candidate of candidates) {
      const body = applyMutation(validBody, m.pointer, m.remove, candidate);
      if (body === NOT_APPLICABLE || !introducesError(body)) continue;
      const where = m.pointer === '' ? 'body' : `body ${m.pointer}`;
      const shown = m.remove ? '' : ` (${preview(candidate)})`;
      out.push({ kind: m.kind, label: `${where}: ${m.label}${shown}`, pointer: m.pointer, body });
      break;
    }
  }
  return out;
}

/**
 * Walks a schema alongside the valid value at the same place, collecting mutations. Nested
 * objects/arrays are only entered where the valid body has a value to mutate.
 */
function walkBodySchema(
  spec: OpenApiSpec,
  located: Located<unknown>,
  value: unknown,
  pointer: string,
  depth: number,
  out: BodyMutation[],
): void {
  if (depth > MAX_DEPTH) return;
  const resolved = resolveRef(spec, located);
  if (!resolved) return;
  const schema = resolved.node;

  // allOf: breaking any branch breaks the whole, so walk each branch with the same value.
  if (Array.isArray(schema['allOf'])) {
    schema['allOf'].forEach((branch, i) => {
      walkBodySchema(spec, { node: branch, pointer: `${resolved.pointer}/allOf/${i}` }, value, pointer, depth + 1, out);
    });
  }
  // anyOf/oneOf: walk the branch the valid value matches; ajv later drops mutations that
  // merely switch to another branch.
  for (const keyword of ['oneOf', 'anyOf'] as const) {
    const branches = schema[keyword];
    if (!Array.isArray(branches) || value === undefined) continue;
    const index = branches.findIndex((_, i) => safeValid(spec, `${resolved.pointer}/${keyword}/${i}`, value));
    if (index >= 0) {
      walkBodySchema(spec, { node: branches[index], pointer: `${resolved.pointer}/${keyword}/${index}` }, value, pointer, depth + 1, out);
    }
  }

  for (const m of valueMutations(schema, value, 'body')) {
    out.push({ kind: m.kind, pointer, label: m.label, remove: false, candidates: m.candidates });
  }

  if (isObject(value)) {
    const properties = isObject(schema['properties']) ? schema['properties'] : {};
    const required = Array.isArray(schema['required']) ? schema['required'].filter((r): r is string => typeof r === 'string') : [];
    for (const name of required) {
      if (!(name in value) || isReadOnly(spec, resolved, name)) continue;
      out.push({ kind: 'missing-required', pointer: `${pointer}/${escapePointerSegment(name)}`, label: 'missing required property', remove: true, candidates: [] });
    }
    for (const name of Object.keys(properties)) {
      if (isReadOnly(spec, resolved, name)) continue; // servers may ignore or reject these: not guaranteed
      walkBodySchema(
        spec,
        { node: properties[name], pointer: `${resolved.pointer}/properties/${escapePointerSegment(name)}` },
        value[name],
        `${pointer}/${escapePointerSegment(name)}`,
        depth + 1,
        out,
      );
    }
    if (schema['additionalProperties'] === false || schema['unevaluatedProperties'] === false) {
      let extra = 'unexpectedField';
      while (extra in properties || extra in value) extra += '_';
      out.push({ kind: 'unknown-field', pointer: `${pointer}/${extra}`, label: 'unknown property', remove: false, candidates: ['unexpected', 1] });
    }
  }

  if (Array.isArray(value)) {
    const minItems = schema['minItems'];
    if (typeof minItems === 'number' && minItems > 0 && value.length >= minItems) {
      out.push({ kind: 'out-of-range', pointer, label: `fewer than minItems ${minItems}`, remove: false, candidates: [value.slice(0, minItems - 1)] });
    }
    const maxItems = schema['maxItems'];
    if (typeof maxItems === 'number' && maxItems < MAX_GENERATED_ITEMS && value.length > 0) {
      const longer = Array.from({ length: maxItems + 1 }, (_, i) => value[i % value.length] as unknown);
      out.push({ kind: 'out-of-range', pointer, label: `more than maxItems ${maxItems}`, remove: false, candidates: [longer] });
    }
    if (value.length > 0 && schema['items'] !== undefined && typeof schema['items'] === 'object') {
      walkBodySchema(spec, { node: schema['items'], pointer: `${resolved.pointer}/items` }, value[0], `${pointer}/0`, depth + 1, out);
    }
  }
}

function isReadOnly(spec: OpenApiSpec, objectSchema: Located, property: string): boolean {
  const properties = objectSchema.node['properties'];
  if (!isObject(properties)) return false;
  const raw = properties[property];
  if (isObject(raw) && raw['readOnly'] === true) return true; // `$ref` + sibling readOnly (3.1)
  const resolved = child(spec, objectSchema, 'properties', property);
  return resolved?.node['readOnly'] === true;
}

const NOT_APPLICABLE = Symbol('not applicable');

function applyMutation(body: unknown, pointer: string, remove: boolean, candidate: unknown): unknown {
  if (pointer === '') return remove ? NOT_APPLICABLE : structuredClone(candidate);
  const copy = structuredClone(body);
  const cut = pointer.lastIndexOf('/');
  const parent = getAtPointer(copy, pointer.slice(0, cut));
  const key = pointer.slice(cut + 1).replace(/~1/g, '/').replace(/~0/g, '~');
  if (isObject(parent)) {
    if (remove) delete parent[key];
    else parent[key] = structuredClone(candidate);
    return copy;
  }
  if (Array.isArray(parent) && !remove) {
    parent[Number(key)] = structuredClone(candidate);
    return copy;
  }
  return NOT_APPLICABLE;
}

function safeValid(spec: OpenApiSpec, pointer: string, value: unknown): boolean {
  try {
    return validateAt(spec, pointer, value).length === 0;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Value-level mutations (shared by body properties and parameters)

/**
 * Ways to break a single value given its (resolved) schema. In `param` mode candidates are
 * strings, since that's all a URL or header can carry.
 */
function valueMutations(schema: JsonObject, current: unknown, mode: 'body' | 'param'): ValueMutation[] {
  const out: ValueMutation[] = [];
  const types = schemaTypes(schema).length > 0 ? schemaTypes(schema) : inferTypes(schema);
  const isString = types.includes('string');
  const isNumeric = types.includes('number') || types.includes('integer');

  if (types.length > 0) {
    const pool: unknown[] =
      mode === 'param'
        ? isString ? [] : ['abc', 'not-a-value']
        : isString ? [12345, true, {}, [], null] : ['wrong-type', 12345, 1.5, true, {}, [], null];
    const wrong = pool.filter((c) => (mode === 'param' ? !isString : !typeAllowed(types, c)));
    if (wrong.length > 0) out.push({ kind: 'wrong-type', label: `wrong type (expected ${types.join('|')})`, candidates: wrong });
  }

  if (isNumeric) {
    const step = typeof schema['multipleOf'] === 'number' && schema['multipleOf'] > 0 ? schema['multipleOf'] : 1;
    const min = schema['minimum'];
    const max = schema['maximum'];
    const exMin = schema['exclusiveMinimum'];
    const exMax = schema['exclusiveMaximum'];
    if (typeof min === 'number') {
      // OpenAPI 3.0-style boolean exclusiveMinimum makes the bound itself invalid.
      out.push({ kind: 'out-of-range', label: `below minimum ${min}`, candidates: exMin === true ? [min, min - step] : [min - step] });
    }
    if (typeof max === 'number') {
      out.push({ kind: 'out-of-range', label: `above maximum ${max}`, candidates: exMax === true ? [max, max + step] : [max + step] });
    }
    if (typeof exMin === 'number') out.push({ kind: 'out-of-range', label: `not above exclusiveMinimum ${exMin}`, candidates: [exMin, exMin - step] });
    if (typeof exMax === 'number') out.push({ kind: 'out-of-range', label: `not below exclusiveMaximum ${exMax}`, candidates: [exMax, exMax + step] });
  }

  if (isString) {
    const base = typeof current === 'string' ? current : '';
    const minLength = schema['minLength'];
    if (typeof minLength === 'number' && minLength > 0) {
      const shorter = base.length >= minLength - 1 ? [...base].slice(0, minLength - 1).join('') : base.padEnd(minLength - 1, 'a');
      out.push({ kind: 'out-of-range', label: `shorter than minLength ${minLength}`, candidates: [shorter] });
    }
    const maxLength = schema['maxLength'];
    if (typeof maxLength === 'number' && maxLength < MAX_GENERATED_LENGTH) {
      const seed = base.length > 0 ? base : 'a';
      out.push({ kind: 'out-of-range', label: `longer than maxLength ${maxLength}`, candidates: [seed.padEnd(maxLength + 1, seed.at(-1) ?? 'a')] });
    }
    const pattern = schema['pattern'];
    if (typeof pattern === 'string') {
      const regex = tryRegExp(pattern);
      // Fit candidates to the length limits so the case is about the pattern, when possible.
      const candidates = regex ? PATTERN_CANDIDATES.map((c) => fitLength(c, schema)).filter((c) => !regex.test(c)) : [];
      if (candidates.length > 0) out.push({ kind: 'bad-pattern', label: `not matching pattern ${pattern}`, candidates: unique(candidates) });
    }
    const format = schema['format'];
    if (typeof format === 'string' && FORMAT_CANDIDATES[format]) {
      out.push({ kind: 'bad-format', label: `invalid ${format}`, candidates: FORMAT_CANDIDATES[format].map((c) => fitLength(c, schema)) });
    }
  }

  const allowed = Array.isArray(schema['enum']) ? schema['enum'] : 'const' in schema ? [schema['const']] : undefined;
  if (allowed && allowed.length > 0) {
    const allowedJson = new Set(allowed.map((v) => JSON.stringify(v)));
    const candidates = enumCandidates(allowed).filter((c) => !allowedJson.has(JSON.stringify(c)));
    if (candidates.length > 0) {
      const shown = allowed.length > 5 ? `${JSON.stringify(allowed.slice(0, 5)).slice(0, -1)},…]` : JSON.stringify(allowed);
      out.push({ kind: 'bad-enum', label: `not one of ${shown}`, candidates });
    }
  }

  if (mode === 'param') {
    // Only scalars travel in URLs/headers; stringify and drop anything else.
    return out
      .map((m) => ({ ...m, candidates: m.candidates.filter((c) => ['string', 'number', 'integer', 'boolean'].includes(jsonTypeOf(c))).map(String) }))
      .filter((m) => m.candidates.length > 0);
  }
  return out;
}

/** Same-typed values that are unlikely to be in an enum. */
function enumCandidates(allowed: unknown[]): unknown[] {
  if (allowed.every((v) => typeof v === 'string')) return ['__not_in_enum__', 'NOT_AN_ENUM_VALUE'];
  if (allowed.every((v) => typeof v === 'number')) {
    const numbers = allowed as number[];
    return [Math.max(...numbers) + 1, Math.min(...numbers) - 1];
  }
  if (allowed.every((v) => typeof v === 'boolean')) return [true, false];
  return ['__not_in_enum__', 987654321];
}

/** Type implied by keywords when `type` is absent (enum/const values, string/number keywords). */
function inferTypes(schema: JsonObject): string[] {
  const values = Array.isArray(schema['enum']) ? schema['enum'] : 'const' in schema ? [schema['const']] : [];
  if (values.length > 0) return unique(values.map((v) => (jsonTypeOf(v) === 'integer' ? 'number' : jsonTypeOf(v))));
  if (['pattern', 'minLength', 'maxLength', 'format'].some((k) => k in schema)) return ['string'];
  if (['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'].some((k) => k in schema)) return ['number'];
  if ('properties' in schema) return ['object'];
  if ('items' in schema) return ['array'];
  return [];
}

function fitLength(candidate: string, schema: JsonObject): string {
  let out = candidate;
  const min = schema['minLength'];
  const max = schema['maxLength'];
  if (typeof min === 'number' && out.length < min) out = out.padEnd(min, out.at(-1) ?? 'x');
  if (typeof max === 'number' && out.length > max) out = out.slice(0, max);
  return out;
}

function tryRegExp(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return undefined; // ajv would not compile it either; no guaranteed-invalid value known
  }
}

// ---------------------------------------------------------------------------------------------
// Parameters

interface DerivedParameterCase {
  kind: 'missing-required' | 'bad-parameter';
  label: string;
  extra: Partial<InvalidRequestCase>;
}

function deriveParameterCases(
  spec: OpenApiSpec,
  params: Located[],
  base: Pick<InvalidRequestCase, 'path' | 'query' | 'headers'>,
): DerivedParameterCase[] {
  const out: DerivedParameterCase[] = [];
  for (const param of params) {
    const name = param.node['name'];
    const where = param.node['in'];
    if (typeof name !== 'string' || (where !== 'query' && where !== 'header' && where !== 'path')) continue;
    if (where === 'header' && IGNORED_HEADER_PARAMS.has(name.toLowerCase())) continue;

    const target = where === 'query' ? 'query' : where === 'header' ? 'headers' : 'path';
    const values = base[target];
    const key = where === 'header' ? (Object.keys(values).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name) : name;
    const pointer = `/${target}/${escapePointerSegment(where === 'header' ? name.toLowerCase() : name)}`;
    const label = `${where} parameter ${name}`;

    // Removing a path parameter changes the route (404/405), so only query/header qualify.
    if (param.node['required'] === true && where !== 'path' && values[key] !== undefined) {
      const { [key]: _removed, ...rest } = values;
      out.push({ kind: 'missing-required', label: `missing required ${label}`, extra: { [target]: rest, pointer } });
    }

    const schema = child(spec, param, 'schema');
    if (!schema) continue;
    const types = schemaTypes(schema.node);
    if (types.includes('array') || types.includes('object')) continue; // serialization styles not modelled
    const current = values[key];
    for (const m of valueMutations(schema.node, current === undefined ? undefined : coerceParameterValue(schema.node, current), 'param')) {
      const chosen = m.candidates.find((c) => {
        const text = String(c);
        // An empty path segment reroutes; an empty header may read as "absent" (valid if optional).
        if (text === '' && where !== 'query') return false;
        if (where === 'header' && text.trim() !== text) return false;
        return !safeValid(spec, schema.pointer, coerceParameterValue(schema.node, text));
      });
      if (chosen === undefined) continue;
      out.push({
        kind: 'bad-parameter',
        label: `${label}: ${m.label} (${preview(chosen)})`,
        extra: { [target]: { ...values, [key]: String(chosen) }, pointer },
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Security

/** True when every security alternative needs a bearer token (and none is anonymous `{}`). */
function requiresBearerAuth(spec: OpenApiSpec, op: OperationInfo): boolean {
  const root = spec as JsonObject;
  const security = Array.isArray(op.operation.node['security']) ? op.operation.node['security'] : Array.isArray(root['security']) ? root['security'] : [];
  if (security.length === 0) return false;
  const rootLocated: Located = { node: root, pointer: '' };
  return security.every((requirement) => {
    if (!isObject(requirement)) return false;
    return Object.keys(requirement).some((schemeName) => {
      const scheme = child(spec, rootLocated, 'components', 'securitySchemes', schemeName)?.node;
      if (!scheme) return false;
      const type = scheme['type'];
      if (type === 'oauth2' || type === 'openIdConnect') return true;
      return type === 'http' && typeof scheme['scheme'] === 'string' && scheme['scheme'].toLowerCase() === 'bearer';
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Runner

export interface RunInvalidRequestsOptions {
  /** Server origin plus any base path, e.g. `http://127.0.0.1:3000/v1`. */
  baseUrl: string;
  spec: OpenApiSpec;
  operationId: string;
  valid: ValidRequest;
  tokens: { valid: string; forged: string };
  /** API name for the coverage report. */
  api: string;
  /** Run these instead of deriving (e.g. a filtered `deriveInvalidRequests` result). */
  cases?: InvalidRequestCase[];
  /** Also validate each error response against the operation's declared responses. Default false. */
  validateResponses?: boolean;
  /** Per-request timeout. Default 30 s. */
  timeoutMs?: number;
}

export interface RunInvalidRequestsResult {
  cases: number;
  failures: string[];
}

export async function runInvalidRequests(options: RunInvalidRequestsOptions): Promise<RunInvalidRequestsResult> {
  const { spec, operationId, api, tokens } = options;
  const cases = options.cases ?? deriveInvalidRequests(spec, operationId, options.valid);
  registerSpec(api, spec);
  const validator = options.validateResponses ? createResponseValidator(spec) : undefined;
  const failures: string[] = [];

  // Sequential on purpose: deterministic order, and no self-inflicted rate limiting.
  for (const c of cases) {
    const url = buildUrl(options.baseUrl, c);
    const label = `[${c.name}] ${c.method} ${url.pathname}${url.search.length > 80 ? `${url.search.slice(0, 80)}…` : url.search}`;
    const headers = new Headers(c.headers);
    headers.delete('authorization');
    if (c.auth === 'valid') headers.set('authorization', `Bearer ${tokens.valid}`);
    if (c.auth === 'forged') headers.set('authorization', `Bearer ${tokens.forged}`);
    if (c.rawBody !== undefined && c.contentType) headers.set('content-type', c.contentType);
    if (!headers.has('accept')) headers.set('accept', 'application/json, application/problem+json');

    let response: Response;
    let text: string;
    try {
      const init: RequestInit = { method: c.method, headers, signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) };
      if (c.rawBody !== undefined) init.body = c.rawBody;
      response = await fetch(url, init);
      text = await response.text();
    } catch (error) {
      failures.push(`${label}: request failed: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    recordExercised(api, operationId, response.status);
    const contentType = response.headers.get('content-type');
    for (const problem of checkProblemResponse(c, response.status, contentType, text)) failures.push(`${label}: ${problem}`);

    if (validator) {
      let body: unknown = text === '' ? undefined : text;
      if (text !== '' && isJsonMediaType(mediaTypeOf(contentType))) body = parseJson(text) ?? text;
      const violations = validator.validate({ method: c.method, pathTemplate: c.pathTemplate, status: response.status, headers: response.headers, body, contentType });
      for (const v of violations) failures.push(`${label}: response violates the spec: ${v}`);
    }
  }
  return { cases: cases.length, failures };
}

/** What an error response must look like; returns the problems found (empty = fine). */
function checkProblemResponse(c: InvalidRequestCase, status: number, contentType: string | null, text: string): string[] {
  const problems: string[] = [];
  if (status >= 500) problems.push(`server error ${status} (expected ${c.expectedStatus}); body: ${snippet(text)}`);
  else if (status !== c.expectedStatus) problems.push(`expected status ${c.expectedStatus}, got ${status}; body: ${snippet(text)}`);

  const mediaType = mediaTypeOf(contentType);
  if (mediaType !== 'application/problem+json') problems.push(`content type must be application/problem+json, got ${contentType ?? 'none'}`);

  const body = parseJson(text);
  if (!isObject(body)) {
    problems.push(`body is not a JSON problem object: ${snippet(text)}`);
    return problems;
  }
  if (typeof body['type'] !== 'string' || body['type'] === '') problems.push('problem is missing a string "type"');
  if (typeof body['title'] !== 'string' || body['title'] === '') problems.push('problem is missing a string "title"');
  if (typeof body['status'] !== 'number') problems.push('problem is missing a numeric "status"');
  else if (body['status'] !== status) problems.push(`problem.status ${body['status']} differs from the HTTP status ${status}`);

  if (status === 400) {
    const errors = body['errors'];
    if (!Array.isArray(errors) || errors.length === 0) {
      problems.push('a 400 problem must have a non-empty "errors" array');
    } else {
      errors.forEach((e, i) => {
        if (!isObject(e) || typeof e['pointer'] !== 'string' || typeof e['message'] !== 'string') {
          problems.push(`problem.errors[${i}] must have string "pointer" and "message": ${snippet(JSON.stringify(e))}`);
        }
      });
    }
  }
  return problems;
}

function buildUrl(baseUrl: string, c: InvalidRequestCase): URL {
  const path = c.pathTemplate.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(c.path[name] ?? ''));
  const url = new URL(baseUrl.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(c.query)) url.searchParams.set(k, v);
  return url;
}

// ---------------------------------------------------------------------------------------------
// Small utilities

function stringifyValues(record: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, String(v)]));
}

function withoutHeader(headers: Record<string, string>, name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== name));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

function snippet(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text || '(empty)';
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
