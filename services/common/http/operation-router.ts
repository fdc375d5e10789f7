// The runtime behind every generated router: per operation, in this order,
// security (401/403) → JSON body parsing (400/413/415) → validation against the spec (400) →
// the delegate → the typed result written with the media type the spec declares.
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
  /** OR of requirements; each an AND of schemes with the roles (scopes) allowed. */
  readonly security: readonly Readonly<Record<string, readonly string[]>>[];
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

/** `/contracts/{contractId}` → `/contracts/:contractId` */
export const expressPath = (path: string) => path.replace(/\{([^}]+)\}/g, ':$1');

export function createOperationRouter<Ops extends Record<string, OperationDescriptor>>(
  spec: object,
  operations: Ops,
  options: RouterOptions,
) {
  const log = options.log ?? pino({ level: 'silent' });
  const router = express.Router();

  // Express 5 re-parses req.query on every read; make it a plain property so the validator's
  // coercion and defaults (limit=20, numbers as numbers) are what the delegate sees.
  router.use((req, _res, next) => {
    Object.defineProperty(req, 'query', { value: { ...req.query }, writable: true, configurable: true, enumerable: true });
    next();
  });
  // Security runs before the body is even parsed: an anonymous caller learns nothing about the contract.
  for (const op of Object.values(operations)) {
    if (op.security.length > 0) router[op.method](expressPath(op.path), authenticate(op, options.security, log));
  }
  router.use(express.json({ limit: options.bodyLimit ?? '100kb', type: ['application/json', 'application/*+json'] }));
  router.use(
    OpenApiValidator.middleware({
      apiSpec: structuredClone(spec) as never,
      validateRequests: { allowUnknownQueryParameters: false, removeAdditional: false, allErrors: true },
      validateResponses: options.validateResponses ? { removeAdditional: false, onError: undefined } : false,
      validateSecurity: false,
      validateFormats: true,
      ignoreUndocumented: false,
    }),
  );

  const mount = <C extends RequestContext>(operationId: keyof Ops & string, handler: Handler<C>) => {
    const op = operations[operationId]!;
    router[op.method](expressPath(op.path), async (req: Request, res: Response, next: NextFunction) => {
      try {
        const ctx = requestContext(req, res, log);
        const work = handler(req, ctx as C);
        const result = await (options.inFlight ? options.inFlight.track(work) : work);
        writeResult(res, op, result, ctx);
      } catch (err) {
        next(err);
      }
    });
  };

  let finished = false;
  return {
    /** Serve an operation whose spec requires a token: the handler always gets a principal. */
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
        router.use(problemErrorHandler(log));
        finished = true;
      }
      return router;
    },
  };
}

function authenticate(op: OperationDescriptor, handlers: Record<string, SecurityHandler>, log: Logger): RequestHandler {
  return async (req, res, next) => {
    const ctx = requestContext(req, res, log);
    let lastUnauthorized: unknown;
    let forbidden = false;
    for (const requirement of op.security) {
      try {
        let principal: Principal | undefined;
        for (const scheme of Object.keys(requirement)) {
          const handler = handlers[scheme];
          if (!handler) throw new Error(`no security handler for scheme '${scheme}'`);
          principal ??= await handler(req);
        }
        const roles = Object.values(requirement).flat() as Role[];
        if (principal && roles.length > 0 && !roles.some((r) => principal!.roles.includes(r))) {
          forbidden = true;
          continue;
        }
        ctx.principal = principal;
        ctx.log = ctx.log.child({ subject: principal?.subject });
        return next();
      } catch (err) {
        if (!(err instanceof HttpProblem)) return next(err);
        lastUnauthorized = err;
      }
    }
    if (forbidden) {
      return next(new HttpProblem(403, 'forbidden', 'Your role does not allow this operation.'));
    }
    next(lastUnauthorized);
  };
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
