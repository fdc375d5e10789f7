/**
 * Small helpers for navigating a bundled OpenAPI 3.1 document.
 *
 * Specs arrive as plain JSON objects whose `$ref`s are all internal (`#/components/...`),
 * so we never need a general-purpose resolver: following JSON pointers inside the same
 * document is enough. Every helper also keeps track of *where* a node lives in the spec
 * (a JSON pointer) because ajv compiles subschemas by reference into the whole document;
 * that is what lets `$ref`s nested inside those subschemas keep working.
 */

/** Any OpenAPI 3.1 document as a JSON value. Kept as `object` so typed JSON imports fit too. */
export type OpenApiSpec = object;

export type JsonObject = { [key: string]: unknown };

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A node of the spec together with its JSON pointer inside the spec. */
export interface Located<T = JsonObject> {
  node: T;
  pointer: string;
}

export function escapePointerSegment(segment: string | number): string {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}

export function unescapePointerSegment(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

export function joinPointer(base: string, ...segments: Array<string | number>): string {
  return base + segments.map((s) => '/' + escapePointerSegment(s)).join('');
}

export function getAtPointer(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let current: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = unescapePointerSegment(raw);
    if (Array.isArray(current)) current = current[Number(key)];
    else if (isObject(current)) current = current[key];
    else return undefined;
  }
  return current;
}

/**
 * Follows `$ref` chains (internal refs only) starting at `located`. Returns undefined when a
 * ref cannot be resolved. Sibling keywords next to `$ref` are ignored here (walkers only need
 * the referenced shape; exact validation always goes through ajv, which honours siblings).
 */
export function resolveRef(spec: OpenApiSpec, located: Located<unknown>): Located | undefined {
  let current: Located<unknown> = located;
  for (let hops = 0; hops < 64; hops++) {
    const node = current.node;
    if (!isObject(node)) return undefined;
    const ref = node['$ref'];
    if (typeof ref !== 'string') return { node, pointer: current.pointer };
    if (!ref.startsWith('#')) return undefined; // external refs never appear in bundled specs
    const pointer = decodeURIComponent(ref.slice(1));
    current = { node: getAtPointer(spec, pointer), pointer };
  }
  return undefined; // ref cycle without any schema in between
}

/** Resolves a child (`parent.node[key]`) and follows refs. */
export function child(spec: OpenApiSpec, parent: Located, ...keys: Array<string | number>): Located | undefined {
  let node: unknown = parent.node;
  for (const key of keys) {
    if (Array.isArray(node)) node = node[Number(key)];
    else if (isObject(node)) node = node[String(key)];
    else return undefined;
  }
  if (node === undefined) return undefined;
  return resolveRef(spec, { node, pointer: joinPointer(parent.pointer, ...keys) });
}

export interface OperationInfo {
  /** Upper-case HTTP method. */
  method: string;
  pathTemplate: string;
  /** The declared operationId, or `METHOD /path` when the spec omits it. */
  operationId: string;
  operation: Located;
  pathItem: Located;
}

// Specs are treated as immutable, so the operation list is computed once per spec object.
const operationCache = new WeakMap<object, OperationInfo[]>();

export function listOperations(spec: OpenApiSpec): OperationInfo[] {
  const cached = operationCache.get(spec);
  if (cached) return cached;
  const out = collectOperations(spec);
  operationCache.set(spec, out);
  return out;
}

function collectOperations(spec: OpenApiSpec): OperationInfo[] {
  const root: Located = { node: spec as JsonObject, pointer: '' };
  const paths = child(spec, root, 'paths');
  if (!paths) return [];
  const out: OperationInfo[] = [];
  for (const pathTemplate of Object.keys(paths.node)) {
    const pathItem = child(spec, paths, pathTemplate);
    if (!pathItem) continue;
    for (const method of HTTP_METHODS) {
      const operation = child(spec, pathItem, method);
      if (!operation) continue;
      const declaredId = operation.node['operationId'];
      out.push({
        method: method.toUpperCase(),
        pathTemplate,
        operationId: typeof declaredId === 'string' ? declaredId : `${method.toUpperCase()} ${pathTemplate}`,
        operation,
        pathItem,
      });
    }
  }
  return out;
}

export function findOperation(spec: OpenApiSpec, method: string, pathTemplate: string): OperationInfo | undefined {
  const upper = method.toUpperCase();
  return listOperations(spec).find((op) => op.method === upper && op.pathTemplate === pathTemplate);
}

export function findOperationById(spec: OpenApiSpec, operationId: string): OperationInfo | undefined {
  return listOperations(spec).find((op) => op.operationId === operationId);
}

/** Path-item parameters merged with operation parameters (operation wins on same name+in). */
export function operationParameters(spec: OpenApiSpec, op: OperationInfo): Located[] {
  const byKey = new Map<string, Located>();
  for (const owner of [op.pathItem, op.operation]) {
    const list = owner.node['parameters'];
    if (!Array.isArray(list)) continue;
    list.forEach((_, i) => {
      const param = child(spec, owner, 'parameters', i);
      if (!param) return;
      const name = param.node['name'];
      const where = param.node['in'];
      if (typeof name !== 'string' || typeof where !== 'string') return;
      byKey.set(`${where}:${where === 'header' ? name.toLowerCase() : name}`, param);
    });
  }
  return [...byKey.values()];
}

/** Declared response keys of an operation ("200", "4XX", "default", ...). */
export function declaredResponseKeys(op: OperationInfo): string[] {
  const responses = op.operation.node['responses'];
  return isObject(responses) ? Object.keys(responses) : [];
}

/**
 * Which declared response key a concrete status falls under: exact code first, then an
 * OpenAPI range key (`4XX`), then `default`. Undefined when nothing covers it.
 */
export function selectResponseKey(keys: readonly string[], status: number): string | undefined {
  const exact = keys.find((k) => k === String(status));
  if (exact !== undefined) return exact;
  const range = keys.find((k) => k.toUpperCase() === `${Math.floor(status / 100)}XX`);
  if (range !== undefined) return range;
  return keys.includes('default') ? 'default' : undefined;
}

/** `application/json; charset=utf-8` → `application/json` (lower-cased). */
export function mediaTypeOf(contentType: string | null | undefined): string | null {
  if (!contentType) return null;
  const base = contentType.split(';')[0]?.trim().toLowerCase();
  return base ? base : null;
}

export function isJsonMediaType(mediaType: string | null): boolean {
  if (!mediaType) return false;
  return mediaType === 'application/json' || mediaType.endsWith('+json') || mediaType.endsWith('/json');
}

/** Schema `type` as a list (OpenAPI 3.1 allows `type: ['string', 'null']`). */
export function schemaTypes(schema: JsonObject): string[] {
  const type = schema['type'];
  if (typeof type === 'string') return [type];
  if (Array.isArray(type)) return type.filter((t): t is string => typeof t === 'string');
  return [];
}

/** JSON Schema type name of a JSON value ("integer" for whole numbers). */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Whether `value`'s JSON type is one of `types` (integer counts as number). */
export function typeAllowed(types: readonly string[], value: unknown): boolean {
  const t = jsonTypeOf(value);
  if (types.includes(t)) return true;
  return t === 'integer' && types.includes('number');
}

/**
 * Header/query/path values are always strings on the wire; coerce them to what the schema
 * wants before validating (the same thing a server-side validator does).
 */
export function coerceParameterValue(schema: JsonObject | undefined, raw: string): unknown {
  const types = schema ? schemaTypes(schema) : [];
  if (types.length === 0 || types.includes('string')) return raw;
  if (types.includes('integer') && /^[+-]?\d+$/.test(raw.trim())) return Number(raw);
  if (types.includes('number') && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
  if (types.includes('boolean') && (raw === 'true' || raw === 'false')) return raw === 'true';
  if (types.includes('null') && raw === 'null') return null;
  return raw;
}
