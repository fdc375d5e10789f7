// The voucher rules, pure: the stored shapes and the API view, the RFC 7636 S256 check of a
// provider's verifier, the phone number mask events carry, and the webhook retry schedule.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Schemas } from '../../generated/voucher/delegate.js';

export type VoucherStatus = Schemas['VoucherStatus'];
export type ProviderStatus = 'SUCCESS' | 'LATE_SUCCESS';

/** A request as accepted (`vouchers/<id>`); its outcome is stored apart, once. */
export interface StoredVoucher {
  _id: string;
  userId: string;
  phoneNumber: string;
  callbackUrl?: string;
  createdAt: string;
  /** After this the request fails if no code came. */
  deadlineAt: string;
  /** The S256 challenge the provider acknowledged with (RFC 7636 §4.2), once it did. */
  codeChallenge?: string;
  challengedAt?: string;
  requestId?: string;
  correlationId?: string;
}

/** How a request ended (`voucher_outcomes/<id>`): one insert decides it, whoever comes first. */
export type StoredOutcome =
  | { _id: string; status: 'ISSUED'; voucherCode: string; providerStatus: ProviderStatus; via: 'answer' | 'callback'; at: string }
  | { _id: string; status: 'FAILED'; reason: 'provider-deadline'; at: string };

export type DeliveryStatus = Schemas['DeliveryStatus'];

/** A webhook delivery (`webhook_deliveries/<voucher id>`). */
export interface StoredDelivery {
  _id: string;
  event: 'voucher.issued' | 'voucher.failed';
  status: DeliveryStatus;
  attempts: number;
  createdAt: string;
  nextAttemptAt?: string;
  lastAttemptAt?: string;
  lastResponseStatus?: number;
  endedAt?: string;
}

export const ACCEPTED_MESSAGE = 'Your request is being processed within 30 seconds.';

/** RFC 7636 §4.6 with S256: base64url(SHA-256(ASCII(verifier))) equals the challenge (compared in constant time). */
export function verifierMatches(codeVerifier: string, codeChallenge: string): boolean {
  const computed = Buffer.from(createHash('sha256').update(codeVerifier, 'ascii').digest('base64url'));
  const expected = Buffer.from(codeChallenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

/** `+447700900123` → `*********0123`: what events and logs may show of a phone number. */
export function maskPhone(phoneNumber: string): string {
  return '*'.repeat(Math.max(0, phoneNumber.length - 4)) + phoneNumber.slice(-4);
}

/**
 * The delay before attempt `attempt + 1` after `attempt` failed: exponential (base × 2^(attempt-1),
 * capped) with full jitter (a uniform share of it), so receivers coming back are not hit by every
 * sender at once. `random` is uniform in [0, 1).
 */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function toApiVoucher(voucher: StoredVoucher, outcome: StoredOutcome | undefined, delivery: StoredDelivery | undefined): Schemas['Voucher'] {
  const history: Schemas['StatusChange'][] = [{ status: 'PENDING', at: voucher.createdAt }];
  if (outcome?.status === 'ISSUED') history.push({ status: 'ISSUED', at: outcome.at, reason: outcome.via === 'answer' ? 'provider-answer' : `provider-callback-${outcome.providerStatus.toLowerCase().replace('_', '-')}` });
  if (outcome?.status === 'FAILED') history.push({ status: 'FAILED', at: outcome.at, reason: outcome.reason });
  return {
    id: voucher._id,
    phoneNumber: voucher.phoneNumber,
    status: outcome?.status ?? 'PENDING',
    ...(outcome?.status === 'ISSUED' ? { voucherCode: outcome.voucherCode, providerStatus: outcome.providerStatus, issuedAt: outcome.at } : {}),
    ...(outcome?.status === 'FAILED' ? { failureReason: outcome.reason, failedAt: outcome.at } : {}),
    ...(voucher.callbackUrl !== undefined ? { callbackUrl: voucher.callbackUrl } : {}),
    ...(delivery
      ? {
          delivery: {
            status: delivery.status,
            attempts: delivery.attempts,
            ...(delivery.lastAttemptAt !== undefined ? { lastAttemptAt: delivery.lastAttemptAt } : {}),
            ...(delivery.lastResponseStatus !== undefined ? { lastResponseStatus: delivery.lastResponseStatus } : {}),
            ...(delivery.endedAt !== undefined ? { endedAt: delivery.endedAt } : {}),
          },
        }
      : {}),
    createdAt: voucher.createdAt,
    statusHistory: history,
  };
}
