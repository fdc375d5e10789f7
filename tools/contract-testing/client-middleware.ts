/**
 * openapi-fetch middleware that validates every response against the spec and records
 * coverage. A contract violation makes the client call reject, so any integration test that
 * goes through a generated client checks conformance without extra code.
 */
import type { Middleware } from 'openapi-fetch';
import { recordExercised, registerSpec } from './coverage.js';
import { createResponseValidator, type ResponseValidator } from './response-validator.js';
import { findOperation, isJsonMediaType, mediaTypeOf, type OpenApiSpec } from './spec-utils.js';

export interface ContractCheckingOptions {
  /** Name of the API in the coverage report. */
  api: string;
  spec: OpenApiSpec;
  /** Reuse a validator (and its compiled schemas) across clients. */
  validator?: ResponseValidator;
}

export class ContractViolationError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly violations: readonly string[],
  ) {
    super(
      `Contract violation: ${method} ${path} → ${status}\n` + violations.map((v) => `  - ${v}`).join('\n'),
    );
    this.name = 'ContractViolationError';
  }
}

export function createContractCheckingMiddleware(options: ContractCheckingOptions): Middleware {
  const { api, spec } = options;
  const validator = options.validator ?? createResponseValidator(spec);
  registerSpec(api, spec);

  return {
    async onResponse({ request, response, schemaPath }) {
      const method = request.method.toUpperCase();
      const contentType = response.headers.get('content-type');
      // Read a clone: the caller (openapi-fetch) still has to consume the original body.
      const text = await response.clone().text();
      let body: unknown = text === '' ? undefined : text;
      if (text !== '' && isJsonMediaType(mediaTypeOf(contentType))) {
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          body = text; // the validator reports "not valid JSON" for a JSON media type
        }
      }

      const op = findOperation(spec, method, schemaPath);
      if (op) recordExercised(api, op.operationId, response.status);

      const violations = validator.validate({
        method,
        pathTemplate: schemaPath,
        status: response.status,
        headers: response.headers,
        body,
        contentType,
      });
      if (violations.length > 0) {
        const url = new URL(request.url);
        throw new ContractViolationError(method, `${schemaPath} (${url.pathname}${url.search})`, response.status, violations);
      }
      // Returning nothing keeps the original (unread) response. Returning it explicitly would
      // also work, but openapi-fetch then insists on `instanceof Response`, which a custom
      // `fetch` (ClientOptions.fetch) may not satisfy.
      return undefined;
    },
  };
}
