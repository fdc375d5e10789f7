// The APIs the pages call: the generated openapi-fetch clients, each on the console's own origin
// under /api/<service>/ (the console passes those through), with the session's access token.
import { createBillingClient } from '../../../generated/billing/client';
import { createConsoleClient } from '../../../generated/console/client';
import { createContractClient } from '../../../generated/contract/client';
import { createInvoiceMailerClient } from '../../../generated/invoice-mailer/client';
import { createPaymentGatewayClient } from '../../../generated/payment-gateway/client';
import type { components } from '../../../generated/payment-gateway/types';
import { createVoucherClient } from '../../../generated/voucher/client';
import { accessToken } from './session';
import { ProblemError } from './ui';

export type Problem = components['schemas']['Problem'];

const token = () => accessToken();
export const gateway = createPaymentGatewayClient({ baseUrl: '/api/payment-gateway', token });
export const contracts = createContractClient({ baseUrl: '/api/contract', token });
export const billing = createBillingClient({ baseUrl: '/api/billing', token });
export const vouchers = createVoucherClient({ baseUrl: '/api/voucher', token });
export const mailer = createInvoiceMailerClient({ baseUrl: '/api/invoice-mailer', token });
/** The console's own API (parked events), at its root. */
export const operations = createConsoleClient({ baseUrl: location.origin, token });

/** A fresh Idempotency-Key. */
export const idempotencyKey = () => crypto.randomUUID();

/**
 * The Idempotency-Key of one action a form makes: the same key while a request's outcome is not
 * known (no answer, or a 5xx), so that trying again cannot do it twice; a fresh one once the
 * service answered — a refusal corrected and sent again is a new action, which under the old key
 * would be answered 409 `idempotency-key-reused`, and a second top-up of the same amount is meant.
 *
 *   const pay = actionKey();   …   await pay((key) => call(gateway.POST('/payments', { params: { header: { 'Idempotency-Key': key } }, … })));
 */
export function actionKey(): <T>(send: (key: string) => Promise<T>) => Promise<T> {
  let key = idempotencyKey();
  return async (send) => {
    try {
      const answer = await send(key);
      key = idempotencyKey();
      return answer;
    } catch (err) {
      const status = err instanceof ProblemError ? err.problem.status : 0;
      if (status >= 400 && status < 500) key = idempotencyKey();
      throw err;
    }
  };
}

/**
 * The data of an answer, or a ProblemError with its problem (what forms and pages show).
 * `call(gateway.GET('/wallet'))` — typed by the spec through openapi-fetch.
 */
export async function call<T>(answer: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await answer;
  if (response.ok) return data as T;
  const problem = (error && typeof error === 'object' && 'status' in error ? error : undefined) as Problem | undefined;
  throw new ProblemError(problem ?? { type: 'about:blank', title: response.statusText || 'Request failed', status: response.status, code: 'http-error', detail: `The server answered ${response.status}.` });
}

/** Like call(), but undefined for a 404 (a part of a page the service does not know, or not yet). */
export async function optional<T>(answer: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T | undefined> {
  try {
    return await call(answer);
  } catch (err) {
    if (err instanceof ProblemError && err.problem.status === 404) return undefined;
    throw err;
  }
}
