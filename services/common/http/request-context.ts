// Builds the RequestContext once per request and keeps it on res.locals.
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { RequestContext } from './context.js';

// Ids from clients are echoed into logs and headers: accept only short, plain tokens.
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestContext(req: Request, res: Response, log: Logger): RequestContext {
  const existing = res.locals.context as RequestContext | undefined;
  if (existing) return existing;
  const incoming = req.header('x-request-id');
  const requestId = incoming && SAFE_ID.test(incoming) ? incoming : randomUUID();
  const incomingCorrelation = req.header('x-correlation-id');
  const correlationId = incomingCorrelation && SAFE_ID.test(incomingCorrelation) ? incomingCorrelation : requestId;
  const aborter = new AbortController();
  // 'close' also fires after a normal finish; only a close before the answer was written is an abort.
  res.on('close', () => {
    if (!res.writableEnded) aborter.abort(new Error('client disconnected'));
  });
  res.setHeader('x-request-id', requestId);
  res.setHeader('x-correlation-id', correlationId);
  const context: RequestContext = {
    requestId,
    correlationId,
    log: log.child({ requestId, correlationId }),
    signal: aborter.signal,
    ...(req.ip !== undefined ? { clientAddress: req.ip } : {}),
  };
  // The context is built before the body is read (security runs first): the bytes are looked up when asked for.
  Object.defineProperty(context, 'rawBody', { get: () => (req as Request & { rawBody?: Buffer }).rawBody, enumerable: false });
  res.locals.context = context;
  return context;
}
