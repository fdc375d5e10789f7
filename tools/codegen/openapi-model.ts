// Reads a bundled OpenAPI 3.1 document into the small model the emitters need: one entry per
// operation with its parameters, request body, responses and effective security.
// Only internal `#/components/...` refs remain after bundling, so resolving is a pointer walk.

export type JsonObject = Record<string, unknown>;
export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface ParameterModel {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: JsonObject;
  /** `Foo` when the schema is `$ref: '#/components/schemas/Foo'`. */
  schemaName?: string;
  /** Query only: reserved characters (`:` in a date-time) may come unencoded. */
  allowReserved: boolean;
}

export interface MediaModel {
  contentType: string;
  /** `Foo` when the schema is `$ref: '#/components/schemas/Foo'`, so emitters can name it. */
  schemaName?: string;
  schema?: JsonObject;
}

export interface ResponseModel {
  /** '200', '404', … or 'default'. */
  status: string;
  description: string;
  media?: MediaModel;
  headers: { name: string; required: boolean; schema: JsonObject }[];
}

export interface OperationModel {
  operationId: string;
  method: HttpMethod;
  path: string;
  summary?: string;
  /** The operation's tags; the contract rules require exactly one, which names its delegate interface. */
  tags: string[];
  parameters: ParameterModel[];
  requestBody?: { required: boolean; media: MediaModel };
  responses: ResponseModel[];
  /** Alternatives (OR) of requirements (AND of schemes), each scheme with its scopes (roles). */
  security: Record<string, string[]>[];
}

export function resolveRef<T = JsonObject>(doc: JsonObject, value: unknown): T {
  let current = value as JsonObject;
  for (let depth = 0; current && typeof current.$ref === 'string'; depth++) {
    if (depth > 20) throw new Error(`ref cycle at ${String(current.$ref)}`);
    const ref = current.$ref as string;
    if (!ref.startsWith('#/')) throw new Error(`unbundled external $ref ${ref}`);
    current = ref
      .slice(2)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((node, key) => (node as JsonObject | undefined)?.[key], doc) as JsonObject;
    if (current === undefined) throw new Error(`unresolved $ref ${ref}`);
  }
  return current as T;
}

export function schemaNameOf(schema: unknown): string | undefined {
  const ref = (schema as JsonObject | undefined)?.$ref;
  const match = typeof ref === 'string' ? /^#\/components\/schemas\/([^/]+)$/.exec(ref) : null;
  return match?.[1];
}

function mediaOf(doc: JsonObject, content: unknown): MediaModel | undefined {
  const entries = Object.entries((content ?? {}) as Record<string, JsonObject>);
  if (entries.length === 0) return undefined;
  if (entries.length > 1) throw new Error(`only one media type per body is supported, got ${entries.map((e) => e[0]).join(', ')}`);
  const [contentType, media] = entries[0]!;
  const schemaName = schemaNameOf(media.schema);
  return {
    contentType,
    ...(schemaName ? { schemaName } : {}),
    ...(media.schema ? { schema: resolveRef(doc, media.schema) } : {}),
  };
}

export function readOperations(doc: JsonObject): OperationModel[] {
  const operations: OperationModel[] = [];
  const globalSecurity = (doc.security ?? []) as Record<string, string[]>[];
  for (const [path, rawItem] of Object.entries((doc.paths ?? {}) as Record<string, JsonObject>)) {
    const item = resolveRef(doc, rawItem);
    const shared = ((item.parameters ?? []) as unknown[]).map((p) => resolveRef<JsonObject>(doc, p));
    for (const method of HTTP_METHODS) {
      const op = item[method] as JsonObject | undefined;
      if (!op) continue;
      const operationId = op.operationId as string;
      if (!operationId) throw new Error(`${method.toUpperCase()} ${path} has no operationId`);
      const own = ((op.parameters ?? []) as unknown[]).map((p) => resolveRef<JsonObject>(doc, p));
      // An operation's parameter overrides a path-level one with the same name and location.
      const merged = [...shared.filter((s) => !own.some((o) => o.name === s.name && o.in === s.in)), ...own];
      const parameters = merged.map((p) => {
        const schemaName = schemaNameOf(p.schema);
        return {
          name: p.name as string,
          in: p.in as ParameterModel['in'],
          required: p.in === 'path' || p.required === true,
          schema: resolveRef(doc, p.schema ?? {}),
          ...(schemaName ? { schemaName } : {}),
          allowReserved: p.allowReserved === true,
        };
      });
      const body = op.requestBody ? resolveRef(doc, op.requestBody) : undefined;
      const bodyMedia = body ? mediaOf(doc, body.content) : undefined;
      const responses = Object.entries(resolveRef(doc, op.responses ?? {})).map(([status, raw]) => {
        const response = resolveRef(doc, raw);
        const media = mediaOf(doc, response.content);
        return {
          status,
          description: (response.description as string) ?? '',
          ...(media ? { media } : {}),
          headers: Object.entries((response.headers ?? {}) as Record<string, unknown>).map(([name, h]) => {
            const header = resolveRef(doc, h);
            return { name, required: header.required === true, schema: resolveRef(doc, header.schema ?? {}) };
          }),
        };
      });
      operations.push({
        operationId,
        method,
        path,
        ...(typeof op.summary === 'string' ? { summary: op.summary } : {}),
        tags: Array.isArray(op.tags) ? (op.tags as unknown[]).map(String) : [],
        parameters,
        ...(body && bodyMedia ? { requestBody: { required: body.required === true, media: bodyMedia } } : {}),
        responses,
        security: (op.security ?? globalSecurity) as Record<string, string[]>[],
      });
    }
  }
  return operations;
}

/**
 * Whether any schema marks a property `readOnly` or `writeOnly`. Such an API's types are generated with
 * openapi-typescript's read/write markers, so a readOnly property is absent from request types and a
 * writeOnly one from response types (otherwise a required readOnly `id` would be required in requests too).
 */
export function usesReadWrite(doc: JsonObject): boolean {
  const walk = (node: unknown): boolean =>
    Array.isArray(node)
      ? node.some(walk)
      : typeof node === 'object' && node !== null
        ? Object.entries(node).some(([k, v]) => ((k === 'readOnly' || k === 'writeOnly') && v === true) || walk(v))
        : false;
  return walk(doc.components) || walk(doc.paths);
}
