// The rules of a billing operation's direct debit (pure: no I/O). A billing operation asks the
// gateway to authorize it against the contract's mandate (billing.payment-requested); the
// gateway debits the mandate's account at a bank and answers payment.authorized or
// payment.declined. What the bank answered decides; the gateway itself declines only what it
// cannot send: a mandate whose sealed IBAN does not open, or one the bank's API would refuse as
// malformed (a 400 is no answer, and asking again would never give one).

export type DirectDebitStatus = 'pending' | 'authorized' | 'declined';

/** The gateway's own reasons; the bank's (`mandate-invalid`, `insufficient-funds`, …) pass through. */
export const MANDATE_UNREADABLE = 'mandate-unreadable';
export const MANDATE_INVALID = 'mandate-invalid';

/** A bank's direct debit as the gateway reads it (specs/acquiring-bank.yaml, DirectDebit). */
export interface BankDirectDebit {
  reference: string;
  status: '0' | '100' | '200';
  reason?: string;
}

export type DirectDebitDecision = { status: 'authorized'; bankReference: string } | { status: 'declined'; reason: string };

/** What the bank's answer decides; `undefined` while the bank has not decided (`200`). */
export function decisionOfBank(debit: BankDirectDebit): DirectDebitDecision | undefined {
  if (debit.status === '0') return { status: 'authorized', bankReference: debit.reference };
  if (debit.status === '100') return { status: 'declined', reason: debit.reason ?? 'declined' };
  return undefined;
}

/** The IBAN as banks take it: no spaces, upper case (contracts keep it as typed). */
export function normalizeIban(iban: string): string {
  return iban.replace(/\s+/g, '').toUpperCase();
}

/** The bank's own shape checks (specs/acquiring-bank.yaml, DirectDebitRequest.mandate). */
const BANK_IBAN = /^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/;
const BANK_MANDATE_REFERENCE_MAX = 35;

/**
 * True when the bank's API would refuse this mandate as malformed: declined here as
 * `mandate-invalid` (the bank's own reason for a mandate it cannot honour), never sent.
 */
export function mandateMalformed(mandate: { reference: string; iban: string }): boolean {
  return !BANK_IBAN.test(mandate.iban) || mandate.reference.length < 1 || mandate.reference.length > BANK_MANDATE_REFERENCE_MAX;
}
