// Money rules every service shares (specs/shared/money.yaml): integer minor units and ISO 4217
// codes. Which codes exist comes from the runtime's ICU data (Intl), not a hand-kept list.
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/** True for an ISO 4217 code this runtime knows (EUR, USD, JPY…); the spec's pattern only checks the shape. */
export function isKnownCurrency(code: string): boolean {
  return CURRENCIES.has(code);
}
