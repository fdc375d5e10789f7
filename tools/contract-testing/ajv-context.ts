/**
 * One ajv instance per spec object, shared by the response validator and the negative-request
 * deriver.
 *
 * Why add the *whole* spec as a schema: OpenAPI schemas point at each other with
 * `#/components/schemas/X`, which only resolves against the document root. Registering the
 * spec under a synthetic `$id` and compiling `{ $ref: "<id>#<pointer>" }` makes every subschema
 * (inline or component) compile with its refs intact, without copying or rewriting anything.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { isObject, type OpenApiSpec } from './spec-utils.js';

// ajv-formats is CommonJS; under NodeNext the default import is `module.exports`, whose
// `.default` is the plugin itself (it sets `exports.default = formatsPlugin`).
const addFormats = addFormatsModule.default;

export interface SpecAjv {
  ajv: Ajv2020;
  /** `$id` under which the spec was registered. */
  id: string;
  /** Compiled validators (or the compile error) keyed by JSON pointer into the spec. */
  validators: Map<string, ValidateFunction | Error>;
}

const contexts = new WeakMap<object, SpecAjv>();
let counter = 0;

export function specAjv(spec: OpenApiSpec): SpecAjv {
  const existing = contexts.get(spec);
  if (existing) return existing;

  const ajv = new Ajv2020({
    strict: false, // OpenAPI keywords (example, discriminator, xml, ...) are not JSON Schema
    allErrors: true, // report every violation, and lets callers diff error sets
    validateSchema: false, // the spec is linted elsewhere; don't meta-validate an OpenAPI doc
    logger: false,
  });
  addFormats(ajv);
  // Formats are annotations in 2020-12; register unknown ones (int32-style or custom like
  // "decimal") as always-valid so they neither throw nor warn.
  for (const name of collectFormats(spec)) {
    if (!ajv.formats[name]) ajv.addFormat(name, true);
  }

  const id = `https://payspec.invalid/contract-testing/spec-${++counter}.json`;
  // Shallow copy so the caller's object is never mutated by adding `$id`.
  ajv.addSchema({ ...(spec as Record<string, unknown>), $id: id }, id, undefined, false);

  const ctx: SpecAjv = { ajv, id, validators: new Map() };
  contexts.set(spec, ctx);
  return ctx;
}

/** Same escaping ajv uses for fragments: JSON-pointer escape, then URI-encode each segment. */
function pointerToFragment(pointer: string): string {
  return pointer
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

/** Compiled validator for the (sub)schema at `pointer` in the spec; throws if it can't compile. */
export function validatorAt(spec: OpenApiSpec, pointer: string): ValidateFunction {
  const ctx = specAjv(spec);
  let entry = ctx.validators.get(pointer);
  if (!entry) {
    try {
      entry = ctx.ajv.compile({ $ref: `${ctx.id}#${pointerToFragment(pointer)}` });
    } catch (error) {
      entry = error instanceof Error ? error : new Error(String(error));
    }
    ctx.validators.set(pointer, entry);
  }
  if (entry instanceof Error) throw new Error(`cannot compile schema at #${pointer}: ${entry.message}`);
  return entry;
}

/** Validates and returns ajv errors (empty when valid). */
export function validateAt(spec: OpenApiSpec, pointer: string, value: unknown): ErrorObject[] {
  const validate = validatorAt(spec, pointer);
  if (validate(value)) return [];
  return [...(validate.errors ?? [])];
}

/** Human-readable ajv errors, e.g. `body/creditLimit must be integer`. */
export function formatAjvErrors(errors: readonly ErrorObject[], prefix: string, limit = 20): string[] {
  const lines = errors.slice(0, limit).map((e) => {
    const params = e.params as Record<string, unknown>;
    let detail = '';
    if (e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties') {
      detail = ` (${String(params['additionalProperty'] ?? params['unevaluatedProperty'])})`;
    } else if (e.keyword === 'enum' || e.keyword === 'const') {
      detail = ` (${JSON.stringify(params['allowedValues'] ?? params['allowedValue'])})`;
    }
    return `${prefix}${e.instancePath} ${e.message ?? e.keyword}${detail}`;
  });
  if (errors.length > limit) lines.push(`... and ${errors.length - limit} more schema errors`);
  return lines;
}

/** Stable identity of an ajv error, used to tell new errors from pre-existing ones. */
export function errorSignature(e: ErrorObject): string {
  return `${e.instancePath}|${e.schemaPath}|${e.keyword}|${JSON.stringify(e.params)}`;
}

function collectFormats(spec: OpenApiSpec): Set<string> {
  const found = new Set<string>();
  const seen = new Set<unknown>();
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (isObject(node)) {
      if (typeof node['format'] === 'string') found.add(node['format']);
      Object.values(node).forEach(visit);
    }
  };
  visit(spec);
  return found;
}
