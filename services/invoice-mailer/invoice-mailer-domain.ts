// The invoice mailer's rules, pure: the Message-ID an invoice is sent under, how amounts read,
// and what to do next given the invoice's latest send attempt (docs/architecture.md, "Invoice
// mailer": the attempt log, and the rule for an attempt a crash interrupted).
import type { EventPayloads } from '../../generated/events/types.js';

export type IssuedInvoice = EventPayloads['billing.invoice-issued'];
export type TransportKind = 'smtp' | 'file';

/**
 * The invoice's Message-ID: derived from its id alone, so every attempt at sending it (a retry,
 * a resend after a crash) carries the same one and a mail client that deduplicates by
 * Message-ID shows a copy sent twice once.
 */
export function messageIdFor(invoiceId: string, domain: string): string {
  return `<${invoiceId}@${domain}>`;
}

/** The domain of the From address (`Payspec Billing <billing@payspec.local>` → `payspec.local`), for Message-IDs. */
export function domainOf(address: string): string {
  const domain = /@([^@\s>]+)>?\s*$/.exec(address)?.[1];
  if (!domain) throw new Error(`not an e-mail address: ${address}`);
  return domain.toLowerCase();
}

/** An amount in minor units as the currency writes it: 123456 EUR → "€1,234.56" (the digits from ICU, e.g. JPY has none). */
export function formatAmount(minorUnits: number, currency: string): string {
  const format = new Intl.NumberFormat('en-GB', { style: 'currency', currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(minorUnits / 10 ** digits);
}

/** The subject line; control characters from the event (a name with a line break) become spaces. */
export function subjectOf(invoice: IssuedInvoice): string {
  return `Invoice ${invoice.period} for ${invoice.customer.name}`.replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, ' ').slice(0, 200);
}

/**
 * One entry of an invoice's attempt log (`mail_attempts`, `<invoice id>:<seq>`): a `sending`
 * entry is written just before the message is handed to the transport, a `failed` one when the
 * transport refused it. Nothing is ever updated: the log is the history.
 */
export interface AttemptEntry {
  kind: 'sending' | 'failed';
  /** The attempt's number (a `failed` entry repeats the number of the attempt it ends). */
  attempt: number;
  transport: TransportKind;
  at: string;
  /** `sending`: until when the attempt belongs to whoever wrote it (the event handler's time-out). */
  leaseUntil?: string;
  /** The transport may have accepted the message in an earlier attempt (carried on to later entries). */
  possibleDuplicate: boolean;
  /** `failed`: the transport's error, and whether it leaves open that the message was accepted anyway. */
  reason?: string;
  uncertain?: boolean;
}

export type NextStep =
  /** Send as attempt `attempt`. */
  | { step: 'send'; attempt: number; possibleDuplicate: boolean }
  /** An attempt is live (another delivery of the invoice is sending it): try again later. */
  | { step: 'busy'; until: string }
  /**
   * An attempt by the file transport was interrupted: whether its file exists decides (it is
   * written whole or not at all): there → sent as that attempt; missing → send as `attempt`.
   */
  | { step: 'check-file'; interrupted: number; attempt: number; possibleDuplicate: boolean };

/**
 * What to do given the invoice's latest attempt entry (none: never tried). A `sending` entry
 * without a sent-record whose lease has run out was interrupted (its process died, or its
 * handler timed out) somewhere between being written and the sent-record: the SMTP server may
 * or may not have accepted the message. The rule: send again, with the same Message-ID, and
 * mark the sent-record `possibleDuplicate` — a crash may make a second copy, never a lost
 * invoice. A file attempt is checked instead, so files are written once.
 */
export function nextStep(latest: AttemptEntry | undefined, now: Date): NextStep {
  if (!latest) return { step: 'send', attempt: 1, possibleDuplicate: false };
  const attempt = latest.attempt + 1;
  if (latest.kind === 'failed') return { step: 'send', attempt, possibleDuplicate: latest.possibleDuplicate || latest.uncertain === true };
  if (latest.leaseUntil !== undefined && Date.parse(latest.leaseUntil) > now.getTime()) return { step: 'busy', until: latest.leaseUntil };
  if (latest.transport === 'file') return { step: 'check-file', interrupted: latest.attempt, attempt, possibleDuplicate: latest.possibleDuplicate };
  return { step: 'send', attempt, possibleDuplicate: true };
}
