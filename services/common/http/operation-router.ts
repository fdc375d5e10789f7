// The runtime behind every generated router. Per request, in this order:
// match the operation (express-openapi-validator's own matcher, so nothing else can disagree with
// it) → that operation's security (401/403) → body presence and media type (400/415) → JSON
// parsing (400/413) → validation against the spec (400) → that operation's handler → the typed
// result written with the media type the spec declares.
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { AuthenticatedContext, Principal, RequestContext, Role } from './context.js';
import { problemErrorHandler } from './errors.js';
import type { InFlight } from './in-flight.js';
import { HttpProblem, PROBLEM_JSON } from './problem.js';
import { requestContext } from './request-context.js';

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch' | 'head' | 'options' | 'trace';

/** Emitted per operation by the generator (see generated/<api>/router.ts). */
export interface OperationDescriptor {
  readonly method: HttpMethod;
  readonly path: string;
  /** OR of requirements; each an AND of schemes, each scheme with the roles (scopes) allowed. */
  readonly security: readonly Readonly<Record<string, readonly string[]>>[];
  /** Absent when the operation takes no body. */
  readonly body?: { readonly required: boolean; readonly mediaTypes: readonly string[] };
  /** Declared statuses (and `default`) → media type, null when the response has no body. */
  readonly responses: Readonly<Record<string, string | null>>;
}

/** Verifies the credentials a security scheme names; throws HttpProblem(401) when they are missing or bad. */
export type SecurityHandler = (req: Request) => Promise<Principal>;

export interface RouterOptions {
  /** One handler per security scheme named in the spec (e.g. `bearerAuth`). */
  security: Record<string, SecurityHandler>;
  /** Validate responses against the spec too (always on in tests; a mismatch is a 500). */
  validateResponses?: boolean;
  /** Largest JSON body accepted (default 100 kB); larger answers 413. */
  bodyLimit?: string | number;
  log?: Logger;
  /** Tracks delegate calls so shutdown can wait for them (createService's `inFlight`). */
  inFlight?: InFlight;
}

export interface OperationResult {
  status: number;
  headers?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
}

type Handler<C> = (req: Request, ctx: C) => Promise<OperationResult>;

/** What express-openapi-validator's matcher leaves on the request (`req.openapi`). */
type MatchedRequest = Request & { openapi?: { schema: { operationId?: string }; pathParams: Record<string, string> } };

/** The validator's middleware up to and including the one that sets `req.openapi`; what follows parses and validates. */
const MATCHING_MIDDLEWARE = ['pathParamsMiddleware', 'metadataMiddleware'];

/** The operationId of the operation express-openapi-validator matched, if it matched one. */
export function matchedOperationId(req: Request): string | undefined {
  return (req as MatchedRequest).openapi?.schema.operationId;
}

export function createOperationRouter<Ops extends Record<string, OperationDescriptor>>(
  spec: object,
  operations: Ops,
  options: RouterOptions,
) {
  const log = options.log ?? pino({ level: 'silent' });
  checkDescriptors(spec, operations);
  const router = express.Router();
  const handlers = new Map<string, Handler<RequestContext>>();
  const operationOf = (req: Request): OperationDescriptor | undefined => {
    const id = matchedOperationId(req);
    return id === undefined ? undefined : operations[id];
  };

  const validator = OpenApiValidator.middleware({
    apiSpec: structuredClone(spec) as never,
    validateRequests: { allowUnknownQueryParameters: false, removeAdditional: false, allErrors: true },
    validateResponses: options.validateResponses ? { removeAdditional: false, onError: undefined } : false,
    validateSecurity: false,
    validateFormats: true,
    ignoreUndocumented: false,
  }) as unknown as RequestHandler[];
  // Security must run between matching and body parsing, so the validator's chain is split there.
  const names = validator.map((m) => m.name);
  if (names.slice(0, MATCHING_MIDDLEWARE.length).join() !== MATCHING_MIDDLEWARE.join()) {
    throw new Error(`express-openapi-validator's middleware is [${names.join(', ')}]; operation-router.ts expects it to start with ${MATCHING_MIDDLEWARE.join(', ')}`);
  }

  // Express 5 re-parses req.query on every read; make it a plain property so the validator's
  // coercion and defaults (limit=20, numbers as numbers) are what the delegate sees.
  router.use((req, _res, next) => {
    Object.defineProperty(req, 'query', { value: { ...req.query }, writable: true, configurable: true, enumerable: true });
    next();
  });
  router.use(validator.slice(0, MATCHING_MIDDLEWARE.length));
  // Security runs before the body is even read: an anonymous caller learns nothing about the contract.
  router.use(authenticate(operationOf, options.security, log));
  router.use((req, _res, next) => {
    const op = operationOf(req);
    next(op?.body ? bodyProblem(op.body, req) : undefined);
  });
  const json = express.json({
    limit: options.bodyLimit ?? '100kb',
    type: ['application/json', 'application/*+json'],
    // The bytes as received, for operations that check a signature over them (a bank's callback).
    verify: (req, _res, buf) => {
      (req as Request & { rawBody?: Buffer }).rawBody = buf;
    },
  });
  router.use((req, res, next) => (hasBody(req) ? json(req, res, next) : next()));
  router.use(validator.slice(MATCHING_MIDDLEWARE.length));
  // The handler of the operation the validator matched, whatever order the spec declares paths in.
  router.use(async (req: Request, res: Response, next: NextFunction) => {
    const operationId = matchedOperationId(req);
    const handler = operationId === undefined ? undefined : handlers.get(operationId);
    if (operationId === undefined || handler === undefined) return next();
    try {
      // Express resets req.params per layer; these are the validated ones of the matched route.
      req.params = (req as MatchedRequest).openapi!.pathParams;
      const ctx = requestContext(req, res, log);
      const work = handler(req, ctx);
      const result = await (options.inFlight ? options.inFlight.track(work) : work);
      writeResult(res, operations[operationId]!, result, ctx);
    } catch (err) {
      next(err);
    }
  });

  const mount = (operationId: string, handler: Handler<never>) => {
    if (!(operationId in operations)) throw new Error(`no operation ${operationId} in this API`);
    handlers.set(operationId, handler as Handler<RequestContext>);
  };
  let finished = false;
  return {
    /** Serve an operation whose spec requires credentials: the handler always gets a principal. */
    secured(operationId: keyof Ops & string, handler: Handler<AuthenticatedContext>) {
      mount(operationId, handler);
    },
    /** Serve an operation open to anonymous callers. */
    public(operationId: keyof Ops & string, handler: Handler<RequestContext>) {
      mount(operationId, handler);
    },
    /** The Express router, with the problem+json error handler placed after every operation. */
    get express() {
      if (!finished) {
        const missing = Object.keys(operations).filter((id) => !handlers.has(id));
        if (missing.length > 0) throw new Error(`no handler for ${missing.join(', ')}`);
        router.use(problemErrorHandler(log));
        finished = true;
      }
      return router;
    },
  };
}

/** The generated descriptors and the spec the validator matches against must name the same operations. */
function checkDescriptors(spec: object, operations: Record<string, OperationDescriptor>): void {
  const inSpec = new Map<string, string>();
  for (const [path, item] of Object.entries((spec as { paths?: Record<string, Record<string, { operationId?: string }>> }).paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      if (typeof op === 'object' && op !== null && typeof op.operationId === 'string') inSpec.set(op.operationId, `${method} ${path}`);
    }
  }
  const mismatched = [
    ...Object.entries(operations).filter(([id, op]) => inSpec.get(id) !== `${op.method} ${op.path}`).map(([id]) => id),
    ...[...inSpec.keys()].filter((id) => !(id in operations)),
  ];
  if (mismatched.length > 0) throw new Error(`the spec and the operation descriptors disagree on ${mismatched.join(', ')}: run \`make generate\``);
}

/**
 * The matched operation's security: any one requirement (OR) whose schemes all (AND) verify and
 * whose roles the principal holds. A requirement failing only on roles makes the answer 403;
 * otherwise the first requirement's 401. The principal is the first scheme's of the requirement met.
 */
function authenticate(operationOf: (req: Request) => OperationDescriptor | undefined, handlers: Record<string, SecurityHandler>, log: Logger): RequestHandler {
  return async (req, res, next) => {
    const op = operationOf(req);
    if (!op || op.security.length === 0) return next();
    const ctx = requestContext(req, res, log);
    // Each scheme verifies once per request, however many requirements name it.
    const verified = new Map<string, Promise<Principal>>();
    const verify = (scheme: string): Promise<Principal> => {
      let result = verified.get(scheme);
      if (!result) {
        const handler = handlers[scheme];
        result = handler ? handler(req) : Promise.reject(new Error(`no security handler for scheme '${scheme}'`));
        verified.set(scheme, result);
      }
      return result;
    };
    let unauthorized: unknown;
    let forbidden = false;
    for (const requirement of op.security) {
      const schemes = Object.entries(requirement);
      let principals: Principal[];
      try {
        principals = [];
        for (const [scheme] of schemes) principals.push(await verify(scheme));
      } catch (err) {
        if (!(err instanceof HttpProblem)) return next(err);
        unauthorized ??= err;
        continue;
      }
      if (schemes.some(([, roles], i) => roles.length > 0 && !roles.some((r) => principals[i]!.roles.includes(r as Role)))) {
        forbidden = true;
        continue;
      }
      const principal = principals[0];
      if (principal) {
        ctx.principal = principal;
        ctx.log = ctx.log.child({ subject: principal.subject });
      }
      return next();
    }
    next(forbidden ? new HttpProblem(403, 'forbidden', 'Your role does not allow this operation.') : unauthorized);
  };
}

/** Whether the request carries a body (an empty one counts as none). */
function hasBody(req: Request): boolean {
  return req.header('transfer-encoding') !== undefined || Number(req.header('content-length') ?? 0) > 0;
}

/** A missing required body is a 400 pointing at /body; a body in a media type the operation does not take, a 415. */
function bodyProblem(body: NonNullable<OperationDescriptor['body']>, req: Request): HttpProblem | undefined {
  if (!hasBody(req)) {
    return body.required
      ? new HttpProblem(400, 'body-required', 'The request body is required.', { errors: [{ pointer: '/body', message: 'request body is required' }] })
      : undefined;
  }
  const received = req.header('content-type')?.split(';')[0]!.trim().toLowerCase();
  const accepted = body.mediaTypes.map((m) => m.toLowerCase());
  const matches = (type: string) => received === type || type === '*/*' || (type.endsWith('/*') && received?.startsWith(type.slice(0, -1)));
  if (received && accepted.some(matches)) return undefined;
  return new HttpProblem(
    415,
    'unsupported-media-type',
    `${received ? `The request body is ${received}` : 'The request body has no Content-Type'}; this operation accepts ${accepted.join(' or ')}.`,
  );
}

function writeResult(res: Response, op: OperationDescriptor, result: OperationResult, ctx: RequestContext): void {
  const declared = String(result.status) in op.responses ? op.responses[String(result.status)] : op.responses.default;
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    if (value !== undefined) res.setHeader(name, String(value));
  }
  res.status(result.status);
  if (result.body === undefined || declared === null || declared === undefined) {
    res.end();
    return;
  }
  res.type(declared);
  const body =
    declared === PROBLEM_JSON && typeof result.body === 'object'
      ? { ...result.body, instance: res.req.originalUrl.split('?')[0], requestId: ctx.requestId }
      : result.body;
  res.json(body);
}
