import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import createClient from 'openapi-fetch';
import {
  ContractViolationError,
  createContractCheckingMiddleware,
  createResponseValidator,
  deriveInvalidRequests,
  forgetApi,
  formatCoverageReport,
  getCoverageSummary,
  recordExercised,
  registerSpec,
  runInvalidRequests,
  type InvalidRequestKind,
  type ResponseValidationInput,
  type ValidRequest,
} from './index.js';
import { mochaHooks } from './mocha-hooks.js';
import { partialRunReason, runScopeOf } from './run-scope.js';
import Mocha from 'mocha';

const addFormats = addFormatsModule.default;

// ---------------------------------------------------------------------------------------------
// A tiny OpenAPI 3.1 spec exercising the constructs the library has to understand.

const problemRef = { $ref: '#/components/responses/Problem' };

const spec = {
  openapi: '3.1.0',
  info: { title: 'Widgets', version: '1.0.0' },
  security: [{ bearerAuth: [] }],
  paths: {
    '/widgets': {
      post: {
        operationId: 'createWidget',
        parameters: [
          { name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9-]{8,64}$' } },
        ],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/WidgetInput' } } },
        },
        responses: {
          '201': {
            description: 'created',
            headers: {
              Location: { required: true, schema: { type: 'string' } },
              'X-RateLimit-Remaining': { $ref: '#/components/headers/RateLimitRemaining' },
            },
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Widget' } } },
          },
          '400': problemRef,
          '401': problemRef,
          '413': problemRef,
          '415': problemRef,
        },
      },
      get: {
        operationId: 'listWidgets',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 50 } },
          { name: 'status', in: 'query', required: true, schema: { type: 'string', enum: ['active', 'archived'] } },
          { name: 'cursor', in: 'query', schema: { type: 'string', pattern: '^c_[0-9]+$' } },
        ],
        responses: {
          '200': {
            description: 'page',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/WidgetPage' } } },
          },
          default: problemRef,
        },
      },
    },
    '/widgets/{widgetId}': {
      parameters: [{ name: 'widgetId', in: 'path', required: true, schema: { type: 'string', pattern: '^w_[0-9]+$' } }],
      get: {
        operationId: 'getWidget',
        responses: {
          '200': { description: 'ok', content: { 'application/json': { schema: { $ref: '#/components/schemas/Widget' } } } },
          '400': problemRef,
          '401': problemRef,
          '404': problemRef,
        },
      },
      delete: {
        operationId: 'deleteWidget',
        responses: { '204': { description: 'deleted' }, '400': problemRef, '401': problemRef, '404': problemRef },
      },
    },
    '/health': {
      get: {
        operationId: 'health',
        security: [],
        responses: {
          '200': {
            description: 'ok',
            content: { 'application/json': { schema: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } } },
          },
        },
      },
    },
  },
  components: {
    securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    headers: {
      RateLimitRemaining: { required: true, schema: { type: 'integer', minimum: 0 } },
    },
    responses: {
      Problem: {
        description: 'problem',
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      },
    },
    schemas: {
      Problem: {
        type: 'object',
        required: ['type', 'title', 'status'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          instance: { type: 'string' },
          code: { type: 'string' },
          requestId: { type: 'string' },
          errors: {
            type: 'array',
            items: { type: 'object', required: ['pointer', 'message'], properties: { pointer: { type: 'string' }, message: { type: 'string' } } },
          },
        },
      },
      Dimensions: {
        type: 'object',
        additionalProperties: false,
        required: ['width'],
        properties: { width: { type: 'integer', minimum: 1 }, height: { type: 'integer', exclusiveMinimum: 0 } },
      },
      WidgetCore: {
        type: 'object',
        required: ['name', 'quantity'],
        properties: {
          id: { type: 'string', readOnly: true },
          name: { type: 'string', minLength: 3, maxLength: 20, pattern: '^[a-z ]+$' },
          quantity: { type: 'integer', minimum: 1, maximum: 100 },
        },
      },
      // allOf + unevaluatedProperties: the 2020-12 way to close a composed object.
      WidgetInput: {
        allOf: [
          { $ref: '#/components/schemas/WidgetCore' },
          {
            type: 'object',
            properties: {
              price: { type: 'number', exclusiveMinimum: 0 },
              color: { type: 'string', enum: ['red', 'green', 'blue'] },
              tags: { type: 'array', minItems: 1, maxItems: 3, items: { type: 'string', maxLength: 10 } },
              dimensions: { $ref: '#/components/schemas/Dimensions' },
              contactEmail: { type: 'string', format: 'email' },
              releaseDate: { type: 'string', format: 'date' },
              externalId: { type: 'string', format: 'uuid' },
              nickname: { type: ['string', 'null'], maxLength: 10 },
              kind: { const: 'widget' },
              note: { type: 'string', pattern: '^.*$' }, // accepts everything: no bad-pattern case possible
              amount: { type: 'string', format: 'decimal' }, // unknown format: annotation only
            },
          },
        ],
        unevaluatedProperties: false,
      },
      Widget: {
        type: 'object',
        required: ['id', 'name', 'quantity', 'createdAt', 'nickname'],
        properties: {
          id: { type: 'string', pattern: '^w_[0-9]+$', readOnly: true },
          name: { type: 'string' },
          quantity: { type: 'integer' },
          createdAt: { type: 'string', format: 'date-time' },
          nickname: { type: ['string', 'null'] },
          secret: { type: 'string', writeOnly: true },
        },
      },
      WidgetPage: {
        type: 'object',
        required: ['items', 'nextCursor'],
        properties: {
          items: { type: 'array', items: { $ref: '#/components/schemas/Widget' } },
          nextCursor: { type: ['string', 'null'] },
        },
      },
    },
  },
} as const;

const widget = { id: 'w_1', name: 'blue widget', quantity: 5, createdAt: '2024-01-31T10:00:00Z', nickname: null };

const validCreate: ValidRequest = {
  headers: { 'Idempotency-Key': 'key-12345678' },
  body: {
    name: 'blue widget',
    quantity: 5,
    price: 9.99,
    color: 'red',
    tags: ['a'],
    dimensions: { width: 10, height: 5 },
    contactEmail: 'someone@example.com',
    releaseDate: '2024-01-31',
    externalId: '3f2c4a8e-1b2d-4c5e-9f00-123456789abc',
    nickname: null,
    kind: 'widget',
    note: 'anything',
    amount: '12.50',
  },
};
const validList: ValidRequest = { query: { status: 'active', limit: 10 } };
const validGet: ValidRequest = { path: { widgetId: 'w_1' } };

const TOKENS = { valid: 'valid-token', forged: 'forged-token' };

// ---------------------------------------------------------------------------------------------
// An independent ajv setup (not the library's) used by the test servers and to double-check.

const testAjv = new Ajv2020({ strict: false, allErrors: true, logger: false });
addFormats(testAjv);
testAjv.addFormat('decimal', true);
const SPEC_ID = 'https://test.invalid/widgets.json';
testAjv.addSchema({ ...spec, $id: SPEC_ID });
const compiled = new Map<string, ValidateFunction>();
function schemaAt(pointer: string): ValidateFunction {
  let v = compiled.get(pointer);
  if (!v) {
    v = testAjv.compile({ $ref: `${SPEC_ID}#${pointer}` });
    compiled.set(pointer, v);
  }
  return v;
}
const widgetInputValid = schemaAt('/components/schemas/WidgetInput');

// ---------------------------------------------------------------------------------------------
// Test servers

interface RunningServer {
  url: string;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer | undefined) => void;

const BODY_LIMIT = 1024 * 1024;

async function startServer(handler: Handler): Promise<RunningServer> {
  const server: Server = createServer((req, res) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > BODY_LIMIT) {
      req.resume(); // drain and discard
      handler(req, res, Buffer.alloc(BODY_LIMIT + 1));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handler(req, res, chunks.length > 0 ? Buffer.concat(chunks) : undefined));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

interface ProblemError {
  pointer: string;
  message: string;
}

function sendProblem(res: ServerResponse, status: number, title: string, errors?: ProblemError[]): void {
  res.writeHead(status, { 'content-type': 'application/problem+json; charset=utf-8' });
  res.end(
    JSON.stringify({
      type: `https://payspec.invalid/problems/${status}`,
      title,
      status,
      detail: title,
      instance: '/test',
      code: `E${status}`,
      requestId: 'req-1',
      ...(errors ? { errors } : {}),
    }),
  );
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function ajvPointer(prefix: string, e: ErrorObject): string {
  const params = e.params as Record<string, unknown>;
  const extra = params['missingProperty'] ?? params['additionalProperty'] ?? params['unevaluatedProperty'];
  return `${prefix}${e.instancePath}${typeof extra === 'string' ? `/${extra}` : ''}`;
}

/** Coerces a wire string the way a server-side validator would. */
function coerce(schema: { type?: unknown }, raw: string): unknown {
  if (schema.type === 'integer' && /^-?\d+$/.test(raw)) return Number(raw);
  return raw;
}

interface Route {
  operationId: string;
  pathPointer: string;
  method: string;
  pattern: RegExp;
  names: string[];
  operation: { parameters?: readonly unknown[]; security?: readonly unknown[]; requestBody?: unknown };
  pathItem: { parameters?: readonly unknown[] };
}

const routes: Route[] = Object.entries(spec.paths).flatMap(([template, item]) =>
  Object.entries(item)
    .filter(([method]) => method !== 'parameters')
    .map(([method, operation]) => {
      const names: string[] = [];
      const pattern = new RegExp(
        '^' + template.replace(/\{([^}]+)\}/g, (_, name: string) => (names.push(name), '([^/]+)')) + '$',
      );
      const op = operation as Route['operation'] & { operationId: string };
      return {
        operationId: op.operationId,
        pathPointer: `/paths/${template.replace(/~/g, '~0').replace(/\//g, '~1')}`,
        method: method.toUpperCase(),
        pattern,
        names,
        operation: op,
        pathItem: item as Route['pathItem'],
      };
    }),
);

/** A correct implementation of the tiny spec: auth, 415, 413, JSON parsing, validation. */
const correctHandler: Handler = (req, res, raw) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const route = routes.find((r) => r.method === req.method && r.pattern.test(url.pathname));
  const match = route ? route.pattern.exec(url.pathname) : null;
  if (!route || !match) return sendProblem(res, 404, 'Not Found');

  const security = route.operation.security ?? spec.security;
  if (security.length > 0 && req.headers.authorization !== `Bearer ${TOKENS.valid}`) {
    return sendProblem(res, 401, 'Unauthorized');
  }

  const errors: ProblemError[] = [];
  const params = [...(route.pathItem.parameters ?? []), ...(route.operation.parameters ?? [])] as Array<{
    name: string;
    in: 'query' | 'header' | 'path';
    required?: boolean;
    schema: { type?: unknown };
  }>;
  for (const p of params) {
    const value =
      p.in === 'query'
        ? url.searchParams.get(p.name)
        : p.in === 'header'
          ? (req.headers[p.name.toLowerCase()] as string | undefined)
          : decodeURIComponent(match[route.names.indexOf(p.name) + 1] ?? '');
    const where = `/${p.in === 'header' ? 'headers' : p.in}/${p.in === 'header' ? p.name.toLowerCase() : p.name}`;
    if (value === null || value === undefined) {
      if (p.required) errors.push({ pointer: where, message: 'is required' });
      continue;
    }
    const validate = testAjv.compile(p.schema);
    if (!validate(coerce(p.schema, value))) {
      for (const e of validate.errors ?? []) errors.push({ pointer: where, message: e.message ?? 'invalid' });
    }
  }

  let body: unknown;
  if (route.operation.requestBody) {
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
    if (contentType !== 'application/json') return sendProblem(res, 415, 'Unsupported Media Type');
    if (raw && raw.length > BODY_LIMIT) return sendProblem(res, 413, 'Payload Too Large');
    try {
      body = JSON.parse(raw?.toString('utf8') ?? '') as unknown;
    } catch {
      return sendProblem(res, 400, 'Malformed JSON', [{ pointer: '/body', message: 'is not valid JSON' }]);
    }
    if (!widgetInputValid(body)) {
      for (const e of widgetInputValid.errors ?? []) errors.push({ pointer: ajvPointer('/body', e), message: e.message ?? 'invalid' });
    }
  }
  if (errors.length > 0) return sendProblem(res, 400, 'Validation failed', errors);

  switch (route.operationId) {
    case 'createWidget':
      return sendJson(res, 201, { ...widget, id: 'w_2' }, { location: '/widgets/w_2', 'x-ratelimit-remaining': '99' });
    case 'listWidgets':
      return sendJson(res, 200, { items: [widget], nextCursor: null });
    case 'getWidget':
      return match[1] === 'w_1' ? sendJson(res, 200, widget) : sendProblem(res, 404, 'Not Found');
    case 'deleteWidget':
      res.writeHead(204);
      return res.end();
    default:
      return sendJson(res, 200, { ok: true });
  }
};

/** A broken implementation: accepts anything, crashes on bad JSON, ignores auth. */
const wrongHandler: Handler = (req, res, raw) => {
  if (raw && raw.length <= BODY_LIMIT) {
    try {
      JSON.parse(raw.toString('utf8'));
    } catch {
      res.writeHead(500, { 'content-type': 'text/plain' });
      return res.end('boom');
    }
  }
  if (req.method === 'GET' && req.url?.startsWith('/widgets/')) {
    return sendJson(res, 200, { id: 'w_1', name: 'x', quantity: 'five' }); // violates Widget
  }
  return sendJson(res, 200, { ok: true });
};

/** Rejects with the right statuses, but not as RFC 9457 problems. */
const sloppyHandler: Handler = (req, res) => {
  if (req.headers.authorization !== `Bearer ${TOKENS.valid}`) return sendJson(res, 401, { message: 'no' });
  return sendJson(res, 400, { message: 'bad request' });
};

// ---------------------------------------------------------------------------------------------

describe('contract-testing', () => {
  // The throw-away APIs of these tests must not reach the coverage report of the real APIs.
  after(() => {
    for (const api of ['widgets', 'widgets-client', 'widgets-report', 'widgets-sloppy', 'widgets-wrong']) forgetApi(api);
  });
  describe('response validator', () => {
    const validator = createResponseValidator(spec);
    const ok = (overrides: Partial<ResponseValidationInput> = {}): ResponseValidationInput => ({
      method: 'post',
      pathTemplate: '/widgets',
      status: 201,
      headers: { Location: '/widgets/w_2', 'x-ratelimit-remaining': '5' },
      body: widget,
      contentType: 'application/json; charset=utf-8',
      ...overrides,
    });

    it('accepts a conforming response (charset ignored, nullable, readOnly/writeOnly as annotations)', () => {
      expect(validator.validate(ok())).to.deep.equal([]);
      expect(validator.validate(ok({ body: { ...widget, nickname: 'nick', secret: 's' } }))).to.deep.equal([]);
      expect(
        validator.validate(ok({ headers: new Headers({ location: '/w', 'X-RateLimit-Remaining': '0' }) })),
      ).to.deep.equal([]);
    });

    it('reports an unknown operation', () => {
      const v = validator.validate(ok({ pathTemplate: '/nope' }));
      expect(v).to.have.length(1);
      expect(v[0]).to.contain('no operation POST /nope');
      expect(validator.validate(ok({ method: 'PUT' }))[0]).to.contain('no operation PUT /widgets');
    });

    it('reports a status that is neither declared nor covered by default', () => {
      const v = validator.validate({ method: 'GET', pathTemplate: '/widgets/{widgetId}', status: 500, headers: {}, body: {}, contentType: 'application/json' });
      expect(v).to.have.length(1);
      expect(v[0]).to.contain('status 500 is not declared');
    });

    it('uses the default response for undeclared statuses', () => {
      const problem = { type: 'about:blank', title: 'Unavailable', status: 503 };
      const base = { method: 'GET', pathTemplate: '/widgets', status: 503, headers: {} } as const;
      expect(validator.validate({ ...base, body: problem, contentType: 'application/problem+json' })).to.deep.equal([]);
      const wrong = validator.validate({ ...base, body: { title: 1 }, contentType: 'application/problem+json' });
      expect(wrong.join('\n')).to.contain('body must have required property');
      expect(wrong.join('\n')).to.contain('/title must be string');
    });

    it('reports a content type mismatch', () => {
      const problem = { type: 'about:blank', title: 'Not Found', status: 404 };
      const v = validator.validate({ method: 'GET', pathTemplate: '/widgets/{widgetId}', status: 404, headers: {}, body: problem, contentType: 'application/json' });
      expect(v).to.have.length(1);
      expect(v[0]).to.contain('content type application/json is not declared');
      const v2 = validator.validate(ok({ contentType: 'application/problem+json' }));
      expect(v2[0]).to.contain('content type application/problem+json is not declared');
      expect(validator.validate(ok({ contentType: null }))[0]).to.contain('no Content-Type');
    });

    it('reports schema violations, with the JSON path', () => {
      const v = validator.validate(ok({ body: { ...widget, quantity: 'five', nickname: 5 } }));
      expect(v).to.include('body/quantity must be integer');
      expect(v.some((x) => x.startsWith('body/nickname must be string,null'))).to.equal(true);
      expect(validator.validate(ok({ body: { ...widget, createdAt: 'yesterday' } }))).to.deep.equal([
        'body/createdAt must match format "date-time"',
      ]);
    });

    it('reports a JSON content type whose body is not JSON', () => {
      expect(validator.validate(ok({ body: 'oops' }))[0]).to.contain('not valid JSON');
    });

    it('reports an empty body where a schema is declared', () => {
      const v = validator.validate(ok({ body: undefined, contentType: null }));
      expect(v).to.have.length(1);
      expect(v[0]).to.contain('response body is empty');
    });

    it('reports a body on 204 / no-content responses', () => {
      const base = { method: 'DELETE', pathTemplate: '/widgets/{widgetId}', headers: {} } as const;
      expect(validator.validate({ ...base, status: 204, body: undefined, contentType: null })).to.deep.equal([]);
      const v = validator.validate({ ...base, status: 204, body: { deleted: true }, contentType: 'application/json' });
      expect(v).to.have.length(1);
      expect(v[0]).to.contain('status 204 must not have a body');
    });

    it('reports missing required headers and header values of the wrong type', () => {
      const missing = validator.validate(ok({ headers: { 'X-RateLimit-Remaining': '1' } }));
      expect(missing).to.deep.equal(['missing required header Location']);
      const missingRef = validator.validate(ok({ headers: { location: '/w' } }));
      expect(missingRef).to.deep.equal(['missing required header X-RateLimit-Remaining']);
      const wrongType = validator.validate(ok({ headers: { location: '/w', 'X-RateLimit-Remaining': 'many' } }));
      expect(wrongType).to.have.length(1);
      expect(wrongType[0]).to.contain('header X-RateLimit-Remaining must be integer');
      const outOfRange = validator.validate(ok({ headers: { location: '/w', 'X-RateLimit-Remaining': '-1' } }));
      expect(outOfRange[0]).to.contain('must be >= 0');
    });
  });

  describe('deriveInvalidRequests', () => {
    const cases = deriveInvalidRequests(spec, 'createWidget', validCreate);

    it('the valid body is valid (sanity check of the fixture)', () => {
      expect(widgetInputValid(validCreate.body), JSON.stringify(widgetInputValid.errors)).to.equal(true);
    });

    it('produces every expected kind for a body operation', () => {
      const kinds = new Set(cases.map((c) => c.kind));
      const expected: InvalidRequestKind[] = [
        'missing-required', 'wrong-type', 'out-of-range', 'bad-enum', 'bad-pattern', 'bad-format', 'unknown-field',
        'malformed-json', 'wrong-content-type', 'oversized-body', 'missing-token', 'forged-token', 'bad-parameter',
      ];
      for (const kind of expected) expect(kinds, kind).to.include(kind);
      expect(new Set(cases.map((c) => c.name)).size, 'names are unique').to.equal(cases.length);
      console.log(`      (createWidget: ${cases.length} cases)`);
    });

    it('covers the interesting places in the schema', () => {
      const pointers = (kind: InvalidRequestKind): string[] => cases.filter((c) => c.kind === kind).map((c) => c.pointer ?? '');
      expect(pointers('missing-required')).to.include.members(['/body/name', '/body/quantity', '/body/dimensions/width', '/headers/idempotency-key']);
      expect(pointers('out-of-range')).to.include.members([
        '/body/name', '/body/quantity', '/body/price', '/body/tags', '/body/tags/0', '/body/dimensions/width', '/body/dimensions/height', '/body/nickname',
      ]);
      expect(pointers('bad-enum')).to.include.members(['/body/color', '/body/kind']);
      expect(pointers('bad-format')).to.include.members(['/body/contactEmail', '/body/releaseDate', '/body/externalId']);
      expect(pointers('bad-pattern')).to.deep.equal(['/body/name']); // note's '^.*$' accepts every candidate
      expect(pointers('unknown-field')).to.have.members(['/body/unexpectedField', '/body/dimensions/unexpectedField']);
      expect(pointers('bad-parameter')).to.deep.equal(['/headers/idempotency-key']);
      expect(pointers('wrong-type')).to.include.members(['', '/body/name', '/body/nickname', '/body/dimensions'].map((p) => (p === '' ? '/body' : p)));
      // readOnly properties are never mutated; unknown formats are annotations
      expect(cases.some((c) => c.pointer === '/body/id')).to.equal(false);
      expect(cases.filter((c) => c.pointer === '/body/amount').map((c) => c.kind)).to.deep.equal(['wrong-type']);
      // Authorization comes from the runner, never from the case headers
      expect(cases.every((c) => !Object.keys(c.headers).some((h) => h.toLowerCase() === 'authorization'))).to.equal(true);
    });

    it('every derived body is invalid per an independent ajv', () => {
      const bodyCases = cases.filter((c) => c.body !== undefined);
      expect(bodyCases.length).to.be.greaterThan(25);
      for (const c of bodyCases) {
        expect(c.rawBody).to.equal(JSON.stringify(c.body));
        expect(widgetInputValid(c.body), c.name).to.equal(false);
      }
    });

    it('sets expected statuses and content types per kind', () => {
      for (const c of cases) {
        const expected = { 'missing-token': 401, 'forged-token': 401, 'oversized-body': 413, 'wrong-content-type': 415 }[c.kind as string] ?? 400;
        expect(c.expectedStatus, c.name).to.equal(expected);
        expect(c.contentType, c.name).to.equal(c.kind === 'wrong-content-type' ? 'text/plain' : 'application/json');
      }
      const oversized = cases.find((c) => c.kind === 'oversized-body');
      expect(oversized?.rawBody?.length).to.be.greaterThan(2_000_000);
    });

    it('derives only parameter and token cases for body-less operations', () => {
      const list = deriveInvalidRequests(spec, 'listWidgets', validList);
      expect(new Set(list.map((c) => c.kind))).to.deep.equal(new Set(['missing-token', 'forged-token', 'missing-required', 'bad-parameter']));
      expect(list.every((c) => c.rawBody === undefined)).to.equal(true);
      const values = list.filter((c) => c.kind === 'bad-parameter').map((c) => c.query);
      expect(values).to.deep.include.members([
        { status: 'active', limit: 'abc' },
        { status: 'active', limit: '0' },
        { status: 'active', limit: '51' },
        { status: '__not_in_enum__', limit: '10' },
        { status: 'active', limit: '10', cursor: '!!!' },
      ]);
      expect(list.find((c) => c.kind === 'missing-required')?.query).to.deep.equal({ limit: '10' });

      const get = deriveInvalidRequests(spec, 'getWidget', validGet);
      expect(get.map((c) => [c.kind, c.path['widgetId']])).to.deep.equal([
        ['missing-token', 'w_1'],
        ['forged-token', 'w_1'],
        ['bad-parameter', '!!!'],
      ]);
      expect(deriveInvalidRequests(spec, 'health', {}), 'no auth, no params').to.deep.equal([]);
      console.log(`      (listWidgets: ${list.length}, getWidget: ${get.length}, health: 0 cases)`);
    });

    it('rejects unknown operations and missing path parameters', () => {
      expect(() => deriveInvalidRequests(spec, 'nope', {})).to.throw(/no operation 'nope'/);
      expect(() => deriveInvalidRequests(spec, 'getWidget', {})).to.throw(/valid\.path\.widgetId/);
    });
  });

  describe('runInvalidRequests', function () {
    this.timeout(20_000);
    let good: RunningServer;
    let wrong: RunningServer;
    let sloppy: RunningServer;
    before(async () => {
      [good, wrong, sloppy] = await Promise.all([startServer(correctHandler), startServer(wrongHandler), startServer(sloppyHandler)]);
    });
    after(async () => {
      await Promise.all([good.close(), wrong.close(), sloppy.close()]);
    });

    const operations: Array<[string, ValidRequest]> = [
      ['createWidget', validCreate],
      ['listWidgets', validList],
      ['getWidget', validGet],
      ['deleteWidget', validGet],
    ];

    for (const [operationId, valid] of operations) {
      it(`a correct server passes every case for ${operationId}`, async () => {
        const result = await runInvalidRequests({ baseUrl: good.url, spec, operationId, valid, tokens: TOKENS, api: 'widgets', validateResponses: true });
        expect(result.failures).to.deep.equal([]);
        expect(result.cases).to.be.greaterThan(0);
      });
    }

    it('reports failures against a wrong server (200 for bad input, 500 on bad JSON)', async () => {
      const result = await runInvalidRequests({ baseUrl: wrong.url, spec, operationId: 'createWidget', valid: validCreate, tokens: TOKENS, api: 'widgets-wrong' });
      const text = result.failures.join('\n');
      expect(result.failures.length).to.be.greaterThan(result.cases); // several problems per case
      expect(text).to.contain('expected status 400, got 200');
      expect(text).to.contain('expected status 401, got 200');
      expect(text).to.contain('server error 500 (expected 400)');
      expect(text).to.contain('[createWidget: malformed JSON body]');
      expect(text).to.contain('content type must be application/problem+json, got application/json');
    });

    it('reports problem bodies that are not RFC 9457', async () => {
      const result = await runInvalidRequests({ baseUrl: sloppy.url, spec, operationId: 'listWidgets', valid: validList, tokens: TOKENS, api: 'widgets-sloppy' });
      const text = result.failures.join('\n');
      expect(text).to.contain('problem is missing a string "type"');
      expect(text).to.contain('problem is missing a numeric "status"');
      expect(text).to.contain('a 400 problem must have a non-empty "errors" array');
      expect(text).not.to.contain('expected status');
    });

    it('with validateResponses, flags error responses the spec does not declare', async () => {
      const cases = deriveInvalidRequests(spec, 'getWidget', validGet).filter((c) => c.kind === 'bad-parameter');
      const result = await runInvalidRequests({ baseUrl: wrong.url, spec, operationId: 'getWidget', valid: validGet, tokens: TOKENS, api: 'widgets-wrong', cases, validateResponses: true });
      expect(result.cases).to.equal(1);
      expect(result.failures.join('\n')).to.contain('response violates the spec: body/quantity must be integer');
    });

    it('records coverage of the exercised statuses', () => {
      const api = getCoverageSummary().apis.find((a) => a.api === 'widgets');
      const create = api?.operations.find((o) => o.operationId === 'createWidget');
      expect(create?.statuses.filter((s) => s.exercised).map((s) => s.key)).to.deep.equal(['400', '401', '413', '415']);
      const list = api?.operations.find((o) => o.operationId === 'listWidgets');
      expect(list?.statuses).to.deep.equal([{ key: '200', exercised: false }, { key: 'default', exercised: true }]);
    });
  });

  describe('client middleware', function () {
    this.timeout(10_000);
    let good: RunningServer;
    let wrong: RunningServer;
    before(async () => {
      [good, wrong] = await Promise.all([startServer(correctHandler), startServer(wrongHandler)]);
    });
    after(async () => {
      await Promise.all([good.close(), wrong.close()]);
    });

    function client(baseUrl: string) {
      const c = createClient<WidgetPaths>({ baseUrl, headers: { authorization: `Bearer ${TOKENS.valid}` } });
      c.use(createContractCheckingMiddleware({ api: 'widgets-client', spec }));
      return c;
    }

    it('passes conforming responses through untouched and records coverage', async () => {
      const c = client(good.url);
      const { data, response } = await c.GET('/widgets/{widgetId}', { params: { path: { widgetId: 'w_1' } } });
      expect(response.status).to.equal(200);
      expect(data).to.deep.equal(widget);
      const missing = await c.GET('/widgets/{widgetId}', { params: { path: { widgetId: 'w_9' } } });
      expect(missing.error).to.include({ status: 404, title: 'Not Found' });
      const deleted = await c.DELETE('/widgets/{widgetId}', { params: { path: { widgetId: 'w_1' } } });
      expect(deleted.response.status).to.equal(204);

      const api = getCoverageSummary().apis.find((a) => a.api === 'widgets-client');
      const get = api?.operations.find((o) => o.operationId === 'getWidget');
      expect(get?.statuses.filter((s) => s.exercised).map((s) => s.key)).to.deep.equal(['200', '404']);
    });

    it('makes the call reject on a contract violation', async () => {
      let caught: unknown;
      try {
        await client(wrong.url).GET('/widgets/{widgetId}', { params: { path: { widgetId: 'w_1' } } });
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(ContractViolationError);
      const message = (caught as Error).message;
      expect(message).to.contain('GET /widgets/{widgetId} (/widgets/w_1) → 200');
      expect(message).to.contain('body must have required property \'createdAt\'');
      expect(message).to.contain('body/quantity must be integer');
    });
  });

  describe('coverage report', () => {
    it('maps statuses onto declared keys, counting default, and prints totals', () => {
      registerSpec('widgets-report', spec);
      recordExercised('widgets-report', 'listWidgets', 200);
      recordExercised('widgets-report', 'listWidgets', 503); // only `default` covers it
      recordExercised('widgets-report', 'getWidget', 418); // undeclared, no default
      const api = getCoverageSummary().apis.find((a) => a.api === 'widgets-report');
      expect(api?.declared).to.equal(16);
      expect(api?.exercised).to.equal(2);
      expect(api?.operations.find((o) => o.operationId === 'getWidget')?.undeclared).to.deep.equal([418]);

      const report = formatCoverageReport();
      expect(report).to.contain('widgets-report: 2/16 declared responses exercised (12.5%)');
      expect(report).to.match(/listWidgets\s+GET \/widgets\s+✓/);
      expect(report).to.contain('Overall:');
    });

    it('knows when a run leaves out part of a file (--grep, .only), so assertions on coverage can step aside', () => {
      // Two files as mocha loads them: a top-level describe each, one with a nested describe.
      const tree = () => {
        const root = new Mocha.Suite('', new Mocha.Context());
        const a = Mocha.Suite.create(root, 'Alpha API');
        a.file = '/repo/a.test.ts';
        a.addTest(new Mocha.Test('creates', () => {}));
        const nested = Mocha.Suite.create(a, 'coverage');
        nested.file = a.file;
        nested.addTest(new Mocha.Test('has exercised every operation', () => {}));
        const b = Mocha.Suite.create(root, 'Beta API');
        b.file = '/repo/b.test.ts';
        b.addTest(new Mocha.Test('lists', () => {}));
        return root;
      };
      const scope = (grep?: RegExp, invert = false) => {
        const runner = new Mocha.Runner(tree(), { delay: false });
        if (grep) runner.grep(grep, invert);
        return runScopeOf(runner);
      };
      // The whole run, and a grep that keeps every test of a.test.ts: its assertion applies.
      expect(partialRunReason('/repo/a.test.ts', scope())).to.equal(undefined);
      expect(partialRunReason('/repo/a.test.ts', scope(/Alpha/))).to.equal(undefined);
      expect(partialRunReason('/repo/b.test.ts', scope(/Alpha/)), 'a file the grep leaves out entirely runs no assertion anyway').to.equal('only 0 of the 1 tests of this file run (--grep/--fgrep/--invert)');
      // Part of a.test.ts: skip, with the reason.
      expect(partialRunReason('/repo/a.test.ts', scope(/has exercised/))).to.equal('only 1 of the 2 tests of this file run (--grep/--fgrep/--invert)');
      expect(partialRunReason('/repo/a.test.ts', scope(/creates/, true))).to.equal('only 1 of the 2 tests of this file run (--grep/--fgrep/--invert)');
      // An .only anywhere.
      const root = tree();
      const beta = root.suites[1] as Mocha.Suite & { appendOnlyTest(test: Mocha.Test): void }; // what it.only does
      beta.appendOnlyTest(beta.tests[0]!);
      expect(partialRunReason('/repo/a.test.ts', runScopeOf(new Mocha.Runner(root, { delay: false })))).to.equal('a .only selects the tests of this run');
      // Nothing recorded (mocha without the root-hook plugin): the assertion applies.
      expect(partialRunReason('/repo/a.test.ts', undefined)).to.equal(undefined);
    });

    it('the mocha root hook prints the report', () => {
      const logged: unknown[] = [];
      const original = console.log;
      console.log = (...args: unknown[]) => void logged.push(...args);
      try {
        mochaHooks.afterAll();
      } finally {
        console.log = original;
      }
      expect(String(logged[0])).to.contain('Contract coverage');
    });
  });
});

// Minimal openapi-typescript-style paths type for the client test.
interface Problem {
  type: string;
  title: string;
  status: number;
}
interface WidgetBody {
  id: string;
  name: string;
  quantity: number;
  createdAt: string;
  nickname: string | null;
}
interface WidgetPaths {
  '/widgets/{widgetId}': {
    parameters: { query?: never; header?: never; path: { widgetId: string }; cookie?: never };
    get: {
      parameters: { query?: never; header?: never; path: { widgetId: string }; cookie?: never };
      requestBody?: never;
      responses: {
        200: { headers: { [name: string]: unknown }; content: { 'application/json': WidgetBody } };
        404: { headers: { [name: string]: unknown }; content: { 'application/problem+json': Problem } };
      };
    };
    put?: never;
    post?: never;
    delete: {
      parameters: { query?: never; header?: never; path: { widgetId: string }; cookie?: never };
      requestBody?: never;
      responses: {
        204: { headers: { [name: string]: unknown }; content?: never };
        404: { headers: { [name: string]: unknown }; content: { 'application/problem+json': Problem } };
      };
    };
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
}
