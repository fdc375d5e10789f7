// What a card payment request must satisfy before anything is stored or charged (issue 9, item 3):
// a card number that passes Luhn and has a length its brand issues, an expiry not in the past, a
// CVV of the brand's length, a known ISO 4217 currency and an amount within the configured
// limit. Pure: brands, lengths and CVV sizes come from card-validator, currencies and their minor
// units from currency-codes (no hand-kept BIN or currency tables). Problems point into the
// request as the API reports them (`/body/...`); no message ever repeats the card number or CVV.
import cardValidator from 'card-validator';
import currencyCodes from 'currency-codes';

export interface CardInput {
  number: string;
  expiryMonth: number;
  expiryYear: number;
  cvv: string;
  holderName: string;
}

export interface CardProblem {
  pointer: string;
  code: 'invalid-card-number' | 'card-expired' | 'invalid-cvv' | 'unknown-currency' | 'amount-too-large';
  message: string;
}

/** The card number as digits: spaces and dashes (how people type and print it) removed. */
export function normalizeCardNumber(value: string): string {
  return value.replace(/[\s-]/g, '');
}

/** card-validator's verdict on a number, or null when it is not digits only (after normalizing). */
function verifyNumber(value: string) {
  const digits = normalizeCardNumber(value);
  if (!/^\d+$/.test(digits)) return null;
  return cardValidator.number(digits);
}

/** Every problem with a payment request's card, currency and amount (empty: acceptable). `now` for the expiry check; `maxAmount` per currency in minor units from config. */
export function paymentRequestProblems(
  input: { card: CardInput; amount: number; currency: string },
  options: { now: Date; maxAmount: number },
): CardProblem[] {
  const { card, amount, currency } = input;
  const problems: CardProblem[] = [];

  const verdict = verifyNumber(card.number);
  if (!verdict?.isValid) {
    problems.push({
      pointer: '/body/card/number',
      code: 'invalid-card-number',
      message:
        verdict === null
          ? 'the card number must be digits only (spaces and dashes between them are allowed)'
          : 'the card number is not a valid card number: its check digit or its length is wrong for its brand',
    });
  }

  const expiry = expiryProblem(card.expiryMonth, card.expiryYear, options.now);
  if (expiry) problems.push(expiry);

  // The brand says the CVV's length (4 digits for American Express, 3 for the others). When the
  // number names no brand, that is reported above; either length is then accepted here.
  const cvvCode = verdict?.card?.code;
  if (!cardValidator.cvv(card.cvv, cvvCode?.size ?? [3, 4]).isValid) {
    problems.push({
      pointer: '/body/card/cvv',
      code: 'invalid-cvv',
      message: cvvCode
        ? `the security code (${cvvCode.name}) must be ${cvvCode.size} digits for this card`
        : 'the security code must be 3 or 4 digits',
    });
  }

  const digits = minorUnitDigits(currency);
  if (digits === undefined) {
    problems.push({ pointer: '/body/currency', code: 'unknown-currency', message: `${JSON.stringify(currency)} is not an ISO 4217 currency code` });
  }

  if (amount > options.maxAmount) {
    problems.push({
      pointer: '/body/amount',
      code: 'amount-too-large',
      message:
        digits === undefined
          ? `a card payment is at most ${options.maxAmount} in the currency's minor units`
          : `a card payment is at most ${formatMinorUnits(options.maxAmount, digits)} ${currency}`,
    });
  }
  return problems;
}

/**
 * A card is valid through the last day of its expiry month (UTC): it is expired from the first
 * instant of the month after. A past year points at `expiryYear`, a past month of this year at
 * `expiryMonth`.
 */
function expiryProblem(month: number, year: number, now: Date): CardProblem | undefined {
  if (!Number.isInteger(month) || month < 1 || month > 12) {
    return { pointer: '/body/card/expiryMonth', code: 'card-expired', message: 'the expiry month must be 1 to 12' };
  }
  if (!Number.isInteger(year) || year < 1000) {
    return { pointer: '/body/card/expiryYear', code: 'card-expired', message: 'the expiry year must have four digits (2030, not 30)' };
  }
  const firstInvalidInstant = Date.UTC(year, month, 1); // month is 1-based: this is the 1st of the month after
  if (now.getTime() < firstInvalidInstant) return undefined;
  const pointer = year < now.getUTCFullYear() ? '/body/card/expiryYear' : '/body/card/expiryMonth';
  return { pointer, code: 'card-expired', message: `the card expired at the end of ${year}-${String(month).padStart(2, '0')}` };
}

/** What may be shown and stored about a card: brand ('visa', 'mastercard', 'american-express', … from card-validator's type, or 'unknown'), bin (first 6), last4, expiry. */
export function cardSummary(card: CardInput): { brand: string; bin: string; last4: string; expiryMonth: number; expiryYear: number } {
  const digits = normalizeCardNumber(card.number);
  const brand = (/^\d+$/.test(digits) ? cardValidator.number(digits).card?.type : undefined) ?? 'unknown';
  return { brand, bin: digits.slice(0, 6), last4: digits.slice(-4), expiryMonth: card.expiryMonth, expiryYear: card.expiryYear };
}

/** The currency's minor-unit exponent from currency-codes (EUR 2, JPY 0, BHD 3), for messages like "at most 1,000,000.00 EUR". */
export function minorUnitDigits(currency: string): number | undefined {
  // currency-codes matches case-insensitively; the APIs take the upper-case code only.
  const record = currencyCodes.code(currency);
  return record && record.code === currency ? record.digits : undefined;
}

/** 100000000 with 2 digits → "1,000,000.00"; with 0 → "100,000,000". Integer arithmetic, no floats. */
export function formatMinorUnits(amount: number, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const value = BigInt(Math.trunc(amount));
  const sign = value < 0n ? '-' : '';
  const abs = value < 0n ? -value : value;
  const whole = (abs / scale).toLocaleString('en-US');
  return digits === 0 ? `${sign}${whole}` : `${sign}${whole}.${(abs % scale).toString().padStart(digits, '0')}`;
}
