// What a delegate method receives besides its typed request.
import type { Logger } from 'pino';

export type Role = 'customer' | 'merchant' | 'operator';

/** The verified caller, from a bearer token. */
export interface Principal {
  /** The token's `sub`: the user id (for a corporate customer, its customer id). */
  subject: string;
  roles: Role[];
  email?: string;
}

export interface RequestContext {
  /** Present when the operation is secured (see AuthenticatedContext). */
  principal?: Principal;
  /** This request's id (the `X-Request-Id` header, generated when absent). */
  requestId: string;
  /** Carried across services and events (`X-Correlation-Id`); the request id when absent. */
  correlationId: string;
  /** A child logger bound to the request and correlation ids. */
  log: Logger;
  /** Aborted when the client disconnects before the answer is written. */
  signal: AbortSignal;
  /** The caller's network address (Express `req.ip`: the socket's peer unless `trust proxy` is set). */
  clientAddress?: string;
  /** The JSON body's bytes as received, for checking a signature over them (webhooks, callbacks). */
  rawBody?: Buffer;
}

/** The context of an operation whose spec requires a token: the principal is always there. */
export interface AuthenticatedContext extends RequestContext {
  principal: Principal;
}
