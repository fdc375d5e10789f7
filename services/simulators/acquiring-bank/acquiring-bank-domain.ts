// The simulated bank's rules, free of HTTP and storage: which card does what (the README's table
// "Acquiring-bank simulator"), how a pending charge settles, when a direct debit's mandate holds,
// and when a refund is allowed. Every decision is a pure function of the request and the date.
import type { Schemas } from '../../../generated/acquiring-bank/delegate.js';

export type StatusCode = Schemas['StatusCode'];
export type FailureReason = Schemas['FailureReason'];

/** A final outcome: `0` succeeded, or `100` failed with its reason. */
export type Outcome = { status: '0' } | { status: '100'; reason: FailureReason };

/**
 * What the bank does with a charge: a final outcome at once, or `200` pending with the outcome it
 * settles to; `slow` for the card whose answer comes only after BANK_TIMEOUT_CARD_DELAY_MS.
 */
export type ChargeDecision = (Outcome & { slow?: true }) | { status: '200'; settlesTo: Outcome };

export const SUCCEEDED: Outcome = { status: '0' };
const failed = (reason: FailureReason): Outcome => ({ status: '100', reason });

/** The test cards (all pass the Luhn check); any other valid card succeeds unless it has expired. */
export const TEST_CARDS = {
  succeeds: '4242424242424242',
  insufficientFunds: '4000000000000002',
  pending: '4000000000009995',
  expiredCard: '4000000000000069',
  doNotHonour: '4000000000000127',
  stolenCard: '4100000000000019',
  timesOut: '4000000000000341',
} as const;

const DECLINED_CARDS: Record<string, FailureReason> = {
  [TEST_CARDS.insufficientFunds]: 'insufficient-funds',
  [TEST_CARDS.expiredCard]: 'expired-card',
  [TEST_CARDS.doNotHonour]: 'do-not-honour',
  [TEST_CARDS.stolenCard]: 'stolen-card',
};

/** The IBAN whose account never has the funds (README): its direct debits fail `insufficient-funds`. */
export const INSUFFICIENT_FUNDS_IBAN = 'DE89370400440532013000';

/** The Luhn (mod 10) check every card number carries. */
export function luhnValid(number: string): boolean {
  if (!/^[0-9]{12,19}$/.test(number)) return false;
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let digit = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** A card is good through the last day of its expiry month (UTC). */
export function cardExpired(expiryMonth: number, expiryYear: number, now: Date): boolean {
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth() + 1;
  return expiryYear < year || (expiryYear === year && expiryMonth < month);
}

/** How a pending charge settles: an even amount succeeds, an odd one fails `insufficient-funds`. */
export function settlementOf(amount: number): Outcome {
  return amount % 2 === 0 ? SUCCEEDED : failed('insufficient-funds');
}

/**
 * The bank's answer to a charge. In order: a number failing the Luhn check is `invalid-card`; a
 * card past its expiry month is `expired-card`; then the test cards; any other card succeeds.
 */
export function decideCharge(card: { number: string; expiryMonth: number; expiryYear: number }, amount: number, now: Date): ChargeDecision {
  if (!luhnValid(card.number)) return failed('invalid-card');
  if (cardExpired(card.expiryMonth, card.expiryYear, now)) return failed('expired-card');
  const declined = DECLINED_CARDS[card.number];
  if (declined) return failed(declined);
  if (card.number === TEST_CARDS.pending) return { status: '200', settlesTo: settlementOf(amount) };
  if (card.number === TEST_CARDS.timesOut) return { status: '0', slow: true };
  return SUCCEEDED;
}

/** All the bank keeps of a card: its last four digits (never the number, never the CVV). */
export function cardSummary(number: string): { last4: string } {
  return { last4: number.slice(-4) };
}

/** `YYYY-MM-DD` of a moment, in UTC: the bank's "today". */
export function utcDate(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** The ISO 13616 mod-97 check of an IBAN (spaces allowed, any case). */
export function ibanChecksumValid(iban: string): boolean {
  const value = iban.replace(/ /g, '').toUpperCase();
  if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/.test(value)) return false;
  let remainder = 0;
  for (const ch of value.slice(4) + value.slice(0, 4)) {
    const digits = ch >= 'A' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of digits) remainder = (remainder * 10 + Number(d)) % 97;
  }
  return remainder === 1;
}

/**
 * A direct debit: the mandate must carry a valid IBAN, be signed on or before today and not have
 * expired (it holds through its `expiresOn` day), else `mandate-invalid`; then the account of
 * INSUFFICIENT_FUNDS_IBAN is short of funds; every other one pays.
 */
export function decideDirectDebit(mandate: { iban: string; signedOn: string; expiresOn?: string }, now: Date): Outcome {
  const today = utcDate(now);
  if (!ibanChecksumValid(mandate.iban)) return failed('mandate-invalid');
  if (mandate.signedOn > today) return failed('mandate-invalid');
  if (mandate.expiresOn !== undefined && mandate.expiresOn < today) return failed('mandate-invalid');
  if (mandate.iban.replace(/ /g, '').toUpperCase() === INSUFFICIENT_FUNDS_IBAN) return failed('insufficient-funds');
  return SUCCEEDED;
}

/**
 * A refund of `amount` against a charge of which `refunded` has been refunded already: only a
 * succeeded charge is refundable, and its refunds never add up to more than its amount.
 */
export function decideRefund(charge: { status: StatusCode; amount: number }, refunded: number, amount: number): Outcome {
  if (charge.status !== '0') return failed('charge-not-refundable');
  if (refunded + amount > charge.amount) return failed('refund-exceeds-charge');
  return SUCCEEDED;
}
