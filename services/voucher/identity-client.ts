// The caller's phone number, from the identity that issued their token: the payment gateway's
// `GET /me` (like OpenID Connect's userinfo), called with the caller's own bearer token — the
// token does not carry the number, and this service keeps no copy of accounts. The number cannot
// change once signed up, so it is cached per subject for a while (bounded).
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { createPaymentGatewayClient } from '../../generated/payment-gateway/client.js';
import type { RequestContext } from '../common/http/context.js';
import { requestContext } from '../common/http/request-context.js';

const CACHE_LIMIT = 10_000;

/** Express middleware (in front of the generated router): the request's context learns the caller's bearer token, for `/me`. */
export function exposeBearerToken(log: Logger) {
  return (req: Request, res: Response, next: () => void) => {
    const context = requestContext(req, res, log);
    // Not enumerable: a context that is logged or serialised never shows it.
    Object.defineProperty(context, 'bearerToken', { get: () => /^Bearer (\S+)$/.exec(req.header('authorization') ?? '')?.[1], enumerable: false });
    next();
  };
}

const bearerTokenOf = (ctx: RequestContext) => (ctx as RequestContext & { bearerToken?: string }).bearerToken;

export class Identity {
  private readonly client;
  private readonly phones = new Map<string, { phone: string; until: number }>();
  private readonly lookups = new Map<string, Promise<string | 'unavailable'>>();

  constructor(
    baseUrl: string,
    private readonly options: { timeoutMs?: number; cacheMs?: number } = {},
  ) {
    this.client = createPaymentGatewayClient({ baseUrl });
  }

  /** The caller's phone number, or `unavailable` when the identity cannot be asked right now. */
  async phoneOf(ctx: RequestContext & { principal: { subject: string } }): Promise<string | 'unavailable'> {
    const subject = ctx.principal.subject;
    const cached = this.phones.get(subject);
    if (cached && cached.until > Date.now()) return cached.phone;
    // Concurrent requests of one caller share one lookup.
    const pending = this.lookups.get(subject);
    if (pending) return pending;
    const lookup = this.lookup(ctx).finally(() => this.lookups.delete(subject));
    this.lookups.set(subject, lookup);
    return lookup;
  }

  private async lookup(ctx: RequestContext & { principal: { subject: string } }): Promise<string | 'unavailable'> {
    const subject = ctx.principal.subject;
    const token = bearerTokenOf(ctx);
    if (!token) return 'unavailable';
    try {
      const { data, response } = await this.client.GET('/me', {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 3_000),
      });
      if (!data || data.id !== subject) {
        ctx.log.warn({ status: response.status }, 'the identity did not give the caller\'s profile');
        return 'unavailable';
      }
      if (this.phones.size >= CACHE_LIMIT) this.phones.delete(this.phones.keys().next().value!);
      this.phones.set(subject, { phone: data.phone, until: Date.now() + (this.options.cacheMs ?? 600_000) });
      return data.phone;
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'the identity cannot be reached');
      return 'unavailable';
    }
  }
}
