// Turns anything thrown while serving a request into a problem+json answer.
// Known errors (validation, body parsing, HttpProblem) keep their 4xx; anything else is a 500
// whose body says nothing about the cause — the log has the stack.
import type { ErrorRequestHandler, Request, Response } from 'express';
import type { Logger } from 'pino';
import { HttpProblem, PROBLEM_JSON, type Problem, type ProblemError, problem } from './problem.js';
import { requestContext } from './request-context.js';

interface ValidatorError {
  status: number;
  message: string;
  errors?: { path?: string; message?: string; errorCode?: string }[];
  headers?: Record<string, string>;
}

interface BodyParserError {
  type: string;
  status?: number;
  message: string;
}

const isValidatorError = (e: unknown): e is ValidatorError =>
  typeof e === 'object' && e !== null && typeof (e as ValidatorError).status === 'number' && Array.isArray((e as ValidatorError).errors);

const isBodyParserError = (e: unknown): e is BodyParserError =>
  typeof e === 'object' && e !== null && typeof (e as BodyParserError).type === 'string' && (e as BodyParserError).type.includes('.');

/** express-openapi-validator paths (`/body/a/b`, `/query/limit`, `.params.id`) as pointers into `{ body, query, path, headers }`. */
export function toPointer(path: string | undefined): string {
  if (!path) return '';
  const pointer = (path.startsWith('.') ? `/${path.slice(1).replace(/\./g, '/')}` : path).replace(/^\/params(?=\/|$)/, '/path');
  // The validator leaves out the location for errors inside a oneOf/discriminator body.
  return /^\/(body|query|path|headers)(\/|$)/.test(pointer) ? pointer : `/body${pointer.startsWith('/') ? '' : '/'}${pointer}`;
}

function fromValidator(err: ValidatorError): Problem {
  switch (err.status) {
    case 400: {
      const errors: ProblemError[] = (err.errors ?? []).map((e) => ({
        pointer: toPointer(e.path),
        message: e.message ?? 'is invalid',
      }));
      return problem(400, 'validation-failed', `The request does not match the API contract: ${errors.map((e) => `${e.pointer} ${e.message}`).join('; ')}`, { errors });
    }
    case 404:
      return problem(404, 'route-not-found', 'No such route.');
    case 405:
      return problem(405, 'method-not-allowed', err.message);
    case 413:
      return problem(413, 'body-too-large', 'The request body is too large.');
    case 415:
      return problem(415, 'unsupported-media-type', err.message);
    default:
      return problem(err.status, 'bad-request', err.message);
  }
}

function fromBodyParser(err: BodyParserError): Problem | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return problem(413, 'body-too-large', 'The request body is larger than this API accepts.');
    case 'entity.parse.failed':
      return problem(400, 'malformed-json', 'The request body is not valid JSON.', { errors: [{ pointer: '/body', message: 'is not valid JSON' }] });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return problem(415, 'unsupported-media-type', err.message);
    case 'request.aborted':
      return problem(400, 'request-aborted', 'The client aborted the request.');
    default:
      return undefined;
  }
}

export function writeProblem(req: Request, res: Response, body: Problem, log: Logger, headers: Record<string, string> = {}): void {
  const ctx = requestContext(req, res, log);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(body.status).set(headers).type(PROBLEM_JSON);
  res.send(JSON.stringify({ ...body, instance: body.instance ?? req.originalUrl.split('?')[0], requestId: ctx.requestId }));
}

export function problemErrorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const ctx = requestContext(req, res, log);
    if (err instanceof HttpProblem) return writeProblem(req, res, err.problem, log, err.headers);
    if (isBodyParserError(err)) {
      const body = fromBodyParser(err);
      if (body) return writeProblem(req, res, body, log);
    }
    // A 5xx from the validator is a response that breaks the spec: our bug, so a plain 500.
    if (isValidatorError(err) && err.status < 500) return writeProblem(req, res, fromValidator(err), log, err.headers ?? {});
    ctx.log.error({ err }, 'unhandled error');
    writeProblem(req, res, problem(500, 'internal-error', 'Something went wrong on our side. Quote the requestId when reporting it.'), log);
  };
}
