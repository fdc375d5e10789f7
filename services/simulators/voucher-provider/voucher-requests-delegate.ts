// Voucher requests: the generated VoucherRequestsDelegate, implemented. Idempotent on the
// caller's reference: the request made first under it is the one answered, however many race.
// Within the answer window (time-scaled) the provider holds the request: the code if it is ready
// by then, else 202 with the S256 challenge of the verifier the late callback will carry.
import { setTimeout as sleep } from 'node:timers/promises';
import type { VoucherRequestsDelegate } from '../../../generated/voucher-provider/delegate.js';
import { problem } from '../../common/http/problem.js';
import type { CodeCallbacks } from './code-callbacks.js';
import { MESSAGES, TIMING, deliveryStatus, newCodeVerifier, newVoucherCode, readyAt, s256, scenarioOf } from './provider-domain.js';
import type { StoredRequest, VoucherProviderRepository } from './provider-repository.js';

export interface VoucherRequestsDeps {
  repository: VoucherProviderRepository;
  callbacks: CodeCallbacks;
  timeScale: number;
}

export function createVoucherRequestsDelegate({ repository, callbacks, timeScale }: VoucherRequestsDeps): VoucherRequestsDelegate {
  const answerWindowMs = TIMING.answerWindowMs * timeScale;

  return {
    async requestVoucherCode({ headers, body }, ctx) {
      const now = new Date();
      const scenario = scenarioOf(body.phoneNumber, headers['x-simulate']);
      const ready = readyAt(scenario, now, timeScale);
      const codeVerifier = newCodeVerifier();
      const { created, request } = await repository.create({
        _id: body.reference,
        phoneNumber: body.phoneNumber,
        callbackUrl: body.callbackUrl,
        scenario,
        createdAt: now.toISOString(),
        ...(ready ? { readyAt: ready.toISOString() } : {}),
        voucherCode: newVoucherCode(),
        codeVerifier,
        codeChallenge: s256(codeVerifier),
        callbacks: [],
      });
      ctx.log.info({ reference: request._id, scenario: request.scenario, created }, 'voucher code requested');

      // Hold the request until the code is ready or the answer window closes, whichever is first.
      const readyIn = request.readyAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(request.readyAt) - Date.now();
      const windowLeft = Date.parse(request.createdAt) + answerWindowMs - Date.now();
      const wait = Math.min(readyIn, windowLeft);
      if (wait > 0) await sleep(wait, undefined, { signal: ctx.signal }).catch(() => {});
      if (answersWithCode(request)) {
        return {
          status: 200,
          body: { reference: request._id, status: deliveryStatus(new Date(request.createdAt), new Date(request.readyAt!), timeScale), voucherCode: request.voucherCode, message: MESSAGES.ready },
        };
      }
      if (created) {
        await repository.pendingCallbacks.add(request._id);
        callbacks.schedule(request);
      }
      return { status: 202, body: { reference: request._id, status: 'PROCESSING', codeChallenge: request.codeChallenge, codeChallengeMethod: 'S256', message: MESSAGES.processing } };
    },

    async getVoucherRequest({ path }) {
      const request = await repository.get(path.reference);
      if (!request) return { status: 404, body: problem(404, 'voucher-request-not-found', `No voucher request with reference ${path.reference}.`) };
      const ready = request.readyAt !== undefined && Date.parse(request.readyAt) <= Date.now();
      return {
        status: 200,
        body: {
          reference: request._id,
          scenario: request.scenario,
          status: request.readyAt === undefined ? 'NEVER' : ready ? deliveryStatus(new Date(request.createdAt), new Date(request.readyAt), timeScale) : 'PROCESSING',
          createdAt: request.createdAt,
          ...(request.readyAt !== undefined ? { readyAt: request.readyAt } : {}),
          callbacks: request.callbacks,
        },
      };
    },
  };
}

/**
 * A request is answered with its code once the code is ready, except in the scenarios that only
 * ever deliver by callback (never, a wrong verifier): asking again must not hand their code out.
 */
function answersWithCode(request: StoredRequest): boolean {
  if (request.readyAt === undefined || request.scenario === 'wrong-verifier') return false;
  return Date.parse(request.readyAt) <= Date.now();
}
