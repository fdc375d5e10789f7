/**
 * Checks one HTTP response against the OpenAPI operation it answers.
 *
 * Returns human-readable violations instead of throwing so callers can decide how to fail
 * (the client middleware throws, the negative-request runner collects).
 */
import { formatAjvErrors, validateAt } from './ajv-context.js';
import {
  child,
  coerceParameterValue,
  declaredResponseKeys,
  findOperation,
  isJsonMediaType,
  isObject,
  joinPointer,
  mediaTypeOf,
  selectResponseKey,
  type Located,
  type OpenApiSpec,
} from './spec-utils.js';

export interface ResponseValidationInput {
  method: string;
  /** The OpenAPI path template, e.g. `/accounts/{accountId}`. */
  pathTemplate: string;
  status: number;
  headers: Headers | Record<string, string>;
  /** Parsed JSON for JSON media types, text otherwise; `undefined` (or '') for no body. */
  body: unknown;
  contentType: string | null;
}

export interface ResponseValidator {
  validate(input: ResponseValidationInput): string[];
}

/** Statuses that by HTTP semantics never carry a body. */
const BODYLESS_STATUSES = new Set([204, 205, 304]);

export function createResponseValidator(spec: OpenApiSpec): ResponseValidator {
  return {
    validate(input) {
      try {
        return validateResponse(spec, input);
      } catch (error) {
        // e.g. a schema that ajv cannot compile: surface it as a violation, not a crash.
        return [`cannot validate response: ${error instanceof Error ? error.message : String(error)}`];
      }
    },
  };
}

function validateResponse(spec: OpenApiSpec, input: ResponseValidationInput): string[] {
  const method = input.method.toUpperCase();
  const op = findOperation(spec, method, input.pathTemplate);
  if (!op) return [`no operation ${method} ${input.pathTemplate} in the spec`];

  const keys = declaredResponseKeys(op);
  const key = selectResponseKey(keys, input.status);
  if (key === undefined) {
    return [`status ${input.status} is not declared and there is no default response (declared: ${keys.join(', ') || 'none'})`];
  }
  const response = child(spec, op.operation, 'responses', key);
  if (!response) return [`response '${key}' cannot be resolved in the spec`];

  const violations: string[] = [];
  const via = key === String(input.status) ? '' : ` (via '${key}' response)`;
  const empty = isEmptyBody(input.body, input.contentType);
  const content = isObject(response.node['content']) ? response.node['content'] : undefined;
  const mediaKeys = content ? Object.keys(content) : [];

  if (BODYLESS_STATUSES.has(input.status) || mediaKeys.length === 0) {
    if (!empty) {
      const why = BODYLESS_STATUSES.has(input.status) ? `status ${input.status} must not have a body` : `no content is declared${via}`;
      violations.push(`${why}, but the response has a body (${describeBody(input)})`);
    }
  } else {
    violations.push(...checkContent(spec, response, mediaKeys, input, empty, via));
  }

  violations.push(...checkHeaders(spec, response, input.headers));
  return violations;
}

function checkContent(
  spec: OpenApiSpec,
  response: Located,
  mediaKeys: string[],
  input: ResponseValidationInput,
  empty: boolean,
  via: string,
): string[] {
  const declared = mediaKeys.join(', ');
  const withSchema = mediaKeys.filter((k) => child(spec, response, 'content', k, 'schema') !== undefined);
  if (empty) {
    return withSchema.length > 0 ? [`a body is declared${via} (${declared}) but the response body is empty`] : [];
  }

  const mediaType = mediaTypeOf(input.contentType);
  if (!mediaType) return [`the response has a body but no Content-Type (declared: ${declared})`];
  const matched = matchMediaType(mediaKeys, mediaType);
  if (matched === undefined) return [`content type ${mediaType} is not declared${via} (declared: ${declared})`];
  if (!withSchema.includes(matched)) return [];

  let body = input.body;
  if (isJsonMediaType(mediaType) && typeof input.body === 'string') {
    try {
      body = JSON.parse(input.body) as unknown;
    } catch {
      return [`content type is ${mediaType} but the body is not valid JSON: ${truncate(input.body, 120)}`];
    }
  }
  const pointer = joinPointer(response.pointer, 'content', matched, 'schema');
  return formatAjvErrors(validateAt(spec, pointer, body), 'body');
}

function checkHeaders(spec: OpenApiSpec, response: Located, headers: Headers | Record<string, string>): string[] {
  const declared = response.node['headers'];
  if (!isObject(declared)) return [];
  const violations: string[] = [];
  for (const name of Object.keys(declared)) {
    // OpenAPI: a Content-Type entry in response headers "SHALL be ignored".
    if (name.toLowerCase() === 'content-type') continue;
    const header = child(spec, response, 'headers', name);
    if (!header) continue;
    const value = getHeader(headers, name);
    if (value === undefined) {
      if (header.node['required'] === true) violations.push(`missing required header ${name}`);
      continue;
    }
    const schema = child(spec, header, 'schema');
    if (!schema) continue; // `content`-style headers are rare; not checked
    const coerced = coerceParameterValue(schema.node, value);
    const errors = validateAt(spec, schema.pointer, coerced);
    violations.push(...formatAjvErrors(errors, `header ${name}`).map((line) => `${line} (got ${JSON.stringify(value)})`));
  }
  return violations;
}

/** Exact (case-insensitive) media-type key first, then `type/*` and `*\/*` wildcards. */
function matchMediaType(keys: string[], mediaType: string): string | undefined {
  const normalized = keys.map((k) => [k, mediaTypeOf(k) ?? k] as const);
  const exact = normalized.find(([, k]) => k === mediaType);
  if (exact) return exact[0];
  const major = mediaType.split('/')[0];
  const wildcard = normalized.find(([, k]) => k === `${major}/*`) ?? normalized.find(([, k]) => k === '*/*');
  return wildcard?.[0];
}

function getHeader(headers: Headers | Record<string, string>, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** `undefined`/'' is "no body"; `null` too when there is no content type (nothing was sent). */
function isEmptyBody(body: unknown, contentType: string | null): boolean {
  if (body === undefined || body === '') return true;
  return body === null && !contentType;
}

function describeBody(input: ResponseValidationInput): string {
  const text = typeof input.body === 'string' ? input.body : JSON.stringify(input.body);
  return `${input.contentType ?? 'no content type'}: ${truncate(text ?? '', 120)}`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
