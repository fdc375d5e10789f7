// The contract's rules, free of HTTP and storage: lifecycle transitions, IBAN checks and masking.
import type { Schemas } from '../../generated/contract/delegate.js';

export type ContractStatus = Schemas['ContractStatus'];
export type ContractChangeType = Schemas['ContractChangeType'];

/** What is stored: the API's Contract plus the full IBAN, which never leaves the service. */
export type StoredMandate = Schemas['Mandate'] & { iban: string };
export type StoredContract = Omit<Schemas['Contract'], 'mandate'> & { mandate: StoredMandate };

export type StatusAction = 'suspend' | 'reactivate' | 'cancel';

const TRANSITIONS: Record<StatusAction, { from: ContractStatus[]; to: ContractStatus; change: ContractChangeType }> = {
  suspend: { from: ['active'], to: 'suspended', change: 'suspended' },
  reactivate: { from: ['suspended'], to: 'active', change: 'reactivated' },
  cancel: { from: ['active', 'suspended'], to: 'cancelled', change: 'cancelled' },
};

export function transition(action: StatusAction, current: ContractStatus) {
  const rule = TRANSITIONS[action];
  return rule.from.includes(current) ? { to: rule.to, change: rule.change } : undefined;
}

export function allowedFrom(action: StatusAction): ContractStatus[] {
  return TRANSITIONS[action].from;
}

/** IBAN lengths per country (ISO 13616 registry) for the countries of SEPA. */
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AT: 20, BE: 16, BG: 22, CH: 21, CY: 28, CZ: 24, DE: 22, DK: 18, EE: 20, ES: 24, FI: 18,
  FR: 27, GB: 22, GI: 23, GR: 27, HR: 21, HU: 28, IE: 22, IS: 26, IT: 27, LI: 21, LT: 20, LU: 20,
  LV: 21, MC: 27, MT: 31, NL: 18, NO: 15, PL: 28, PT: 25, RO: 24, SE: 24, SI: 19, SK: 24, SM: 27, VA: 22,
};

export function normalizeIban(iban: string): string {
  return iban.replace(/ /g, '').toUpperCase();
}

/** Why an IBAN is refused, or undefined when it is a valid SEPA IBAN (length and mod-97 check). */
export function ibanProblem(iban: string): string | undefined {
  const value = normalizeIban(iban);
  const country = value.slice(0, 2);
  const length = IBAN_LENGTHS[country];
  if (length === undefined) return `country ${country} is not in the SEPA scheme`;
  if (value.length !== length) return `a ${country} IBAN has ${length} characters, this one has ${value.length}`;
  if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]+$/.test(value)) return 'contains characters an IBAN cannot have';
  const rearranged = value.slice(4) + value.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const digits = ch >= 'A' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of digits) remainder = (remainder * 10 + Number(d)) % 97;
  }
  return remainder === 1 ? undefined : 'the check digits do not match';
}

/** `FR76 **** **** **** **** ***0 189`: country and check digits, then only the last four. */
export function maskIban(iban: string): string {
  const value = normalizeIban(iban);
  const masked = value.slice(0, 4) + '*'.repeat(value.length - 8) + value.slice(-4);
  return masked.replace(/(.{4})/g, '$1 ').trim();
}

/** The API view of a stored contract: the full IBAN is dropped. */
export function toApiContract(stored: StoredContract): Schemas['Contract'] {
  const { iban: _iban, ...mandate } = stored.mandate;
  return { ...stored, mandate };
}
