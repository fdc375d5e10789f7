// Payspec's own spec rules, on top of Redocly's recommended set. They make the generic contract
// tests sound: a request the schema forbids must be rejectable (closed bodies), every error the
// runtime produces must be declared, and every error body is problem+json. They also keep the
// generated code well-formed: one tag per operation (it names the delegate that implements it).
import { HTTP_METHODS, type HttpMethod, type JsonObject, type OperationModel, resolveRef } from './openapi-model.js';

const PROBLEM_JSON = 'application/problem+json';
/** Formats whose values contain `:` (RFC 3339), which curl, browsers and Swagger UI send unencoded. */
const COLON_FORMATS = new Set(['date-time', 'time']);

export function checkContractRules(doc: JsonObject, operations: OperationModel[]): string[] {
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const op of operations) {
    const where = `${op.method.toUpperCase()} ${op.path} (${op.operationId})`;
    if (!/^[a-z][A-Za-z0-9]*$/.test(op.operationId)) errors.push(`${where}: operationId must be lowerCamelCase`);
    if (seen.has(op.operationId)) errors.push(`${where}: duplicate operationId`);
    seen.add(op.operationId);
    if (op.tags.length !== 1) {
      errors.push(`${where}: must have exactly one tag (it names the delegate interface that implements the operation), has ${op.tags.length === 0 ? 'none' : op.tags.join(', ')}`);
    } else if (!/^[A-Za-z][A-Za-z0-9 _-]*$/.test(op.tags[0]!)) {
      errors.push(`${where}: tag '${op.tags[0]}' must start with a letter and hold only letters, digits, spaces, '-' or '_' (it becomes an interface name)`);
    }
    for (const p of op.parameters.filter((p) => p.in === 'query' && !p.allowReserved)) {
      // express-openapi-validator refuses an unencoded reserved character unless allowReserved is set.
      const items = p.schema.items ? resolveRef(doc, p.schema.items) : undefined;
      const format = [p.schema.format, items?.format].find((f) => typeof f === 'string' && COLON_FORMATS.has(f));
      if (format) {
        errors.push(`${where}: query parameter '${p.name}' is a ${String(format)}, so it must set allowReserved: true (its values contain ':', which clients send unencoded)`);
      }
    }
    const statuses = new Set(op.responses.map((r) => r.status));
    const has = (status: string) => statuses.has(status) || statuses.has('default');

    for (const response of op.responses) {
      const code = Number(response.status);
      const isError = response.status === 'default' || code >= 400;
      if (isError && response.media && response.media.contentType !== PROBLEM_JSON) {
        errors.push(`${where}: ${response.status} must be ${PROBLEM_JSON}, not ${response.media.contentType}`);
      }
    }
    const validates = op.parameters.length > 0 || op.requestBody !== undefined;
    if (validates && !has('400')) errors.push(`${where}: has parameters or a body, so it must declare 400`);
    if (op.security.some((req) => Object.keys(req).length > 0) && !has('401')) {
      errors.push(`${where}: is secured, so it must declare 401`);
    }
    if (op.security.some((req) => Object.values(req).some((scopes) => scopes.length > 0)) && !has('403')) {
      errors.push(`${where}: restricts roles, so it must declare 403`);
    }
    if (op.requestBody) {
      // The runtime answers these for every body; the spec says so, so clients can expect them.
      for (const status of ['413', '415']) {
        if (!has(status)) errors.push(`${where}: has a request body, so it must declare ${status}`);
      }
      const { contentType, schema } = op.requestBody.media;
      if (contentType !== 'application/json') errors.push(`${where}: request bodies are application/json`);
      if (schema) checkClosed(doc, schema, `${where} request body`, errors, new Set());
    }
  }
  return errors;
}

/** Every object schema in a request body must say `additionalProperties: false`, so unknown fields are refused. */
function checkClosed(doc: JsonObject, raw: JsonObject, where: string, errors: string[], visited: Set<JsonObject>): void {
  const schema = resolveRef(doc, raw);
  if (visited.has(schema)) return;
  visited.add(schema);
  const isObject = schema.type === 'object' || schema.properties !== undefined;
  const composed = ['allOf', 'oneOf', 'anyOf'].some((k) => Array.isArray(schema[k]));
  if (isObject && !composed && schema.additionalProperties !== false && schema.unevaluatedProperties !== false) {
    errors.push(`${where}: object schema${titleOf(raw)} must set additionalProperties: false`);
  }
  for (const child of Object.values((schema.properties ?? {}) as Record<string, JsonObject>)) {
    checkClosed(doc, child, where, errors, visited);
  }
  if (schema.items && typeof schema.items === 'object') checkClosed(doc, schema.items as JsonObject, where, errors, visited);
  for (const key of ['allOf', 'oneOf', 'anyOf'] as const) {
    for (const branch of (schema[key] ?? []) as JsonObject[]) checkClosed(doc, branch, where, errors, visited);
  }
}

function titleOf(raw: JsonObject): string {
  return typeof raw.$ref === 'string' ? ` ${raw.$ref}` : '';
}

/**
 * Every parameter, request body and response body carries an example, so tools that build requests
 * from the spec (the Postman collection of `make postman`, Prism, Dredd) work unaided and readers see
 * a realistic value. A request body needs its own (media-level) example: converters fake one from
 * the schema otherwise. Parameters and responses may take theirs from their schema (`examples`).
 * tools/codegen/examples.test.ts checks that each example validates against its own schema.
 */
export function checkExamples(doc: JsonObject): string[] {
  const errors: string[] = [];
  const hasExample = (node: JsonObject | undefined) => node !== undefined && (node.example !== undefined || node.examples !== undefined);
  const schemaHasExample = (schema: unknown) => schema !== undefined && hasExample(resolveRef(doc, schema));
  for (const [path, rawItem] of Object.entries((doc.paths ?? {}) as Record<string, JsonObject>)) {
    const item = resolveRef(doc, rawItem);
    for (const [method, raw] of Object.entries(item)) {
      if (!HTTP_METHODS.includes(method as HttpMethod)) continue;
      const op = raw as JsonObject;
      const where = `${method.toUpperCase()} ${path} (${String(op.operationId)})`;
      const parameters = [...((item.parameters ?? []) as unknown[]), ...((op.parameters ?? []) as unknown[])];
      for (const p of parameters.map((p) => resolveRef(doc, p))) {
        if (!hasExample(p) && !schemaHasExample(p.schema)) errors.push(`${where}: parameter '${String(p.name)}' needs an example`);
      }
      if (op.requestBody) {
        const body = resolveRef(doc, op.requestBody);
        for (const [type, media] of Object.entries((body.content ?? {}) as Record<string, JsonObject>)) {
          if (!hasExample(media)) errors.push(`${where}: request body ${type} needs an example (on the media type)`);
        }
      }
      for (const [status, rawResponse] of Object.entries((op.responses ?? {}) as Record<string, unknown>)) {
        const response = resolveRef(doc, rawResponse);
        for (const [type, media] of Object.entries((response.content ?? {}) as Record<string, JsonObject>)) {
          if (!hasExample(media) && !schemaHasExample(media.schema)) errors.push(`${where}: response ${status} ${type} needs an example`);
        }
      }
    }
  }
  return errors;
}
