// The card payment request rules (card-rules.ts): each rule on its own, American Express's
// 4-digit CVV, a card valid through the last day of its expiry month (UTC), numbers typed with
// spaces and dashes, and messages that never repeat the card number or CVV.
import { expect } from 'chai';
import { type CardInput, cardSummary, formatMinorUnits, minorUnitDigits, paymentRequestProblems } from './card-rules.js';

const NOW = new Date('2026-06-15T12:00:00Z');
const OPTIONS = { now: NOW, maxAmount: 100_000_000 };
const VISA = '4111111111111111';
const MASTERCARD = '5555555555554444';
const AMEX = '378282246310005';

const card = (overrides: Partial<CardInput> = {}): CardInput => ({ number: VISA, expiryMonth: 12, expiryYear: 2028, cvv: '737', holderName: 'Ada Lovelace', ...overrides });
const request = (overrides: { card?: Partial<CardInput>; amount?: number; currency?: string } = {}) => ({
  card: card(overrides.card),
  amount: overrides.amount ?? 1250,
  currency: overrides.currency ?? 'EUR',
});
const problemsOf = (overrides: Parameters<typeof request>[0], options = OPTIONS) => paymentRequestProblems(request(overrides), options);
const codesAt = (overrides: Parameters<typeof request>[0], options = OPTIONS) => problemsOf(overrides, options).map((p) => `${p.pointer} ${p.code}`);

describe('Card payment request rules', () => {
  it('accepts a valid request', () => {
    expect(problemsOf({})).to.deep.equal([]);
    expect(problemsOf({ card: { number: MASTERCARD } })).to.deep.equal([]);
    expect(problemsOf({ card: { number: AMEX, cvv: '1234' } })).to.deep.equal([]);
  });

  describe('card number', () => {
    it('accepts spaces and dashes between the digits', () => {
      expect(problemsOf({ card: { number: '4111 1111 1111 1111' } })).to.deep.equal([]);
      expect(problemsOf({ card: { number: '4111-1111-1111-1111' } })).to.deep.equal([]);
      expect(problemsOf({ card: { number: ' 3782 822463 10005 ', cvv: '1234' } })).to.deep.equal([]);
    });

    it('refuses anything but digits', () => {
      expect(codesAt({ card: { number: '4111 1111 1111 111x' } })).to.deep.equal(['/body/card/number invalid-card-number']);
      expect(codesAt({ card: { number: '4111.1111.1111.1111' } })).to.deep.equal(['/body/card/number invalid-card-number']);
      expect(codesAt({ card: { number: '' } })).to.deep.equal(['/body/card/number invalid-card-number']);
    });

    it('refuses a number whose Luhn check digit is wrong', () => {
      expect(codesAt({ card: { number: '4111111111111112' } })).to.deep.equal(['/body/card/number invalid-card-number']);
      expect(codesAt({ card: { number: '5555555555554445' } })).to.deep.equal(['/body/card/number invalid-card-number']);
    });

    it('refuses a Luhn-valid number of a length its brand does not issue', () => {
      // 13 digits, Luhn-valid, starting with 4: Visa issues 16, 18 or 19 digits.
      expect(codesAt({ card: { number: '4222222222222' } })).to.deep.equal(['/body/card/number invalid-card-number']);
      // 16 digits, Luhn-valid, starting with 37: American Express issues 15.
      expect(codesAt({ card: { number: '3782822463100003', cvv: '1234' } })).to.deep.equal(['/body/card/number invalid-card-number']);
    });
  });

  describe('expiry', () => {
    it('a card is valid through the last day of its expiry month, in UTC', () => {
      const june2026 = { card: { expiryMonth: 6, expiryYear: 2026 } };
      expect(problemsOf(june2026, { ...OPTIONS, now: new Date('2026-06-01T00:00:00Z') })).to.deep.equal([]);
      expect(problemsOf(june2026, { ...OPTIONS, now: new Date('2026-06-30T23:59:59.999Z') })).to.deep.equal([]);
      expect(codesAt(june2026, { ...OPTIONS, now: new Date('2026-07-01T00:00:00Z') })).to.deep.equal(['/body/card/expiryMonth card-expired']);
      // Late on 30 June in New York is already July in UTC: expired.
      expect(codesAt(june2026, { ...OPTIONS, now: new Date('2026-06-30T22:00:00-04:00') })).to.deep.equal(['/body/card/expiryMonth card-expired']);
    });

    it('handles the year boundary: December is valid through 31 December', () => {
      const december = { card: { expiryMonth: 12, expiryYear: 2026 } };
      expect(problemsOf(december, { ...OPTIONS, now: new Date('2026-12-31T23:59:59Z') })).to.deep.equal([]);
      expect(codesAt(december, { ...OPTIONS, now: new Date('2027-01-01T00:00:00Z') })).to.deep.equal(['/body/card/expiryYear card-expired']);
    });

    it('points at the month for an earlier month of this year, at the year for an earlier year', () => {
      expect(codesAt({ card: { expiryMonth: 5, expiryYear: 2026 } })).to.deep.equal(['/body/card/expiryMonth card-expired']);
      expect(codesAt({ card: { expiryMonth: 12, expiryYear: 2025 } })).to.deep.equal(['/body/card/expiryYear card-expired']);
      expect(problemsOf({ card: { expiryMonth: 1, expiryYear: 2027 } })).to.deep.equal([]);
    });

    it('refuses a month outside 1–12 and a two-digit year', () => {
      expect(codesAt({ card: { expiryMonth: 13 } })).to.deep.equal(['/body/card/expiryMonth card-expired']);
      expect(codesAt({ card: { expiryMonth: 0 } })).to.deep.equal(['/body/card/expiryMonth card-expired']);
      expect(codesAt({ card: { expiryYear: 28 } })).to.deep.equal(['/body/card/expiryYear card-expired']);
    });
  });

  describe('CVV', () => {
    it('is 3 digits for Visa and Mastercard', () => {
      expect(problemsOf({ card: { cvv: '000' } })).to.deep.equal([]);
      expect(codesAt({ card: { cvv: '1234' } })).to.deep.equal(['/body/card/cvv invalid-cvv']);
      expect(codesAt({ card: { cvv: '12' } })).to.deep.equal(['/body/card/cvv invalid-cvv']);
      expect(codesAt({ card: { number: MASTERCARD, cvv: '1234' } })).to.deep.equal(['/body/card/cvv invalid-cvv']);
    });

    it('is 4 digits for American Express', () => {
      expect(problemsOf({ card: { number: AMEX, cvv: '1234' } })).to.deep.equal([]);
      expect(codesAt({ card: { number: AMEX, cvv: '123' } })).to.deep.equal(['/body/card/cvv invalid-cvv']);
      const [problem] = problemsOf({ card: { number: AMEX, cvv: '123' } });
      expect(problem!.message).to.match(/4 digits/);
    });

    it('is digits only', () => {
      expect(codesAt({ card: { cvv: '12a' } })).to.deep.equal(['/body/card/cvv invalid-cvv']);
      expect(codesAt({ card: { cvv: '' } })).to.deep.equal(['/body/card/cvv invalid-cvv']);
    });
  });

  describe('currency and amount', () => {
    it('takes a known ISO 4217 code, upper case', () => {
      for (const currency of ['EUR', 'USD', 'JPY', 'BHD', 'GBP']) expect(problemsOf({ currency })).to.deep.equal([]);
      expect(codesAt({ currency: 'ABC' })).to.deep.equal(['/body/currency unknown-currency']);
      expect(codesAt({ currency: 'eur' })).to.deep.equal(['/body/currency unknown-currency']);
      expect(codesAt({ currency: '' })).to.deep.equal(['/body/currency unknown-currency']);
    });

    it('takes an amount up to the configured maximum, and says the maximum in the currency', () => {
      expect(problemsOf({ amount: 100_000_000 })).to.deep.equal([]);
      expect(problemsOf({ amount: 100_000_001 })).to.deep.equal([
        { pointer: '/body/amount', code: 'amount-too-large', message: 'a card payment is at most 1,000,000.00 EUR' },
      ]);
      expect(problemsOf({ amount: 100_000_001, currency: 'JPY' })[0]!.message).to.equal('a card payment is at most 100,000,000 JPY');
      expect(problemsOf({ amount: 100_000_001, currency: 'BHD' })[0]!.message).to.equal('a card payment is at most 100,000.000 BHD');
    });

    it('minor-unit digits come from currency-codes', () => {
      expect(minorUnitDigits('EUR')).to.equal(2);
      expect(minorUnitDigits('JPY')).to.equal(0);
      expect(minorUnitDigits('BHD')).to.equal(3);
      expect(minorUnitDigits('ABC')).to.equal(undefined);
      expect(minorUnitDigits('eur')).to.equal(undefined);
      expect(formatMinorUnits(5, 2)).to.equal('0.05');
      expect(formatMinorUnits(123_456_789, 3)).to.equal('123,456.789');
    });
  });

  it('reports every problem at once, in request order', () => {
    const problems = problemsOf({ card: { number: '4111111111111112', expiryYear: 2020, cvv: '12' }, currency: 'XYZ', amount: 200_000_000 });
    expect(problems.map((p) => p.code)).to.deep.equal(['invalid-card-number', 'card-expired', 'invalid-cvv', 'unknown-currency', 'amount-too-large']);
    expect(problems.map((p) => p.pointer)).to.deep.equal(['/body/card/number', '/body/card/expiryYear', '/body/card/cvv', '/body/currency', '/body/amount']);
  });

  it('no message contains the card number or the CVV', () => {
    const cases = [
      { card: { number: '4111 1111 1111 1112', expiryYear: 2020, cvv: '98765' }, currency: 'XYZ', amount: 200_000_000 },
      { card: { number: VISA, expiryMonth: 1, expiryYear: 2026, cvv: '4321' }, currency: 'EUR', amount: 200_000_000 },
      { card: { number: AMEX, cvv: '987' } },
      { card: { number: '4111-1111-1111-111x', cvv: '555' } },
    ];
    for (const overrides of cases) {
      const problems = problemsOf(overrides);
      expect(problems.length).to.be.greaterThan(0);
      const digits = overrides.card.number.replace(/\D/g, '');
      for (const { message } of problems) {
        expect(message).to.not.include(overrides.card.number);
        expect(message).to.not.include(digits);
        expect(message).to.not.include(digits.slice(6, -4)); // the middle digits, never shown anywhere
        expect(message).to.not.include(overrides.card.cvv);
      }
    }
  });

  describe('cardSummary', () => {
    it('keeps brand, bin, last 4 and expiry only', () => {
      expect(cardSummary(card({ number: '4111 1111 1111 1111' }))).to.deep.equal({ brand: 'visa', bin: '411111', last4: '1111', expiryMonth: 12, expiryYear: 2028 });
      expect(cardSummary(card({ number: MASTERCARD }))).to.deep.include({ brand: 'mastercard', bin: '555555', last4: '4444' });
      expect(cardSummary(card({ number: '3782-822463-10005' }))).to.deep.include({ brand: 'american-express', bin: '378282', last4: '0005' });
      expect(cardSummary(card({ number: '9999999999999995' }))).to.deep.include({ brand: 'unknown', bin: '999999', last4: '9995' });
      expect(Object.keys(cardSummary(card()))).to.have.members(['brand', 'bin', 'last4', 'expiryMonth', 'expiryYear']);
    });
  });
});
