// The acquiring banks, as the gateway sees them: each merchant's bank (its sign-up's
// `business.acquiringBank`) is found in configuration (ACQUIRING_BANKS), so a second bank is
// configuration only. Calls go through the generated client of specs/acquiring-bank.yaml with a
// time-out; anything but a well-formed answer — a time-out, a refused connection, a 5xx, a body
// that is not the spec's — is "unknown": the payment stays pending and the reconciler asks again.
// A charge is idempotent at the bank on its reference (the payment id), so asking again never
// charges twice.
import { type AcquiringBankClient, createAcquiringBankClient } from '../../../generated/acquiring-bank/client.js';
import type { BankDirectDebit } from '../direct-debits/direct-debits-domain.js';
import { type BankOutcome, outcomeOfBankStatus } from './payments-domain.js';

export interface BankSettings {
  /** name → base URL */
  urls: Record<string, string>;
  /** name → API key the bank gave us */
  apiKeys: Record<string, string>;
  timeoutMs: number;
  /** Where banks POST settled charges (`<base>/bank-callbacks/<bank>`); none: the reconciler polls. */
  callbackBaseUrl?: string;
}

export interface ChargeInput {
  paymentId: string;
  merchantId: string;
  card: { number: string; expiryMonth: number; expiryYear: number; cvv: string; holderName: string };
  amount: number;
  currency: string;
  description?: string;
}

export interface DirectDebitInput {
  /** The billing operation's id: the bank is idempotent on it, so sending it again never debits twice. */
  reference: string;
  /** The IBAN in clear, opened from its seal for this call only. */
  mandate: { reference: string; iban: string; signedOn: string; expiresOn?: string };
  amount: number;
  currency: string;
  description?: string;
}

/** The bank's direct debit as it answered, or `unknown` (time-out, down, garbage): ask again later. */
export type DirectDebitReply = { status: 'answered'; debit: BankDirectDebit } | { status: 'unknown'; why: string };

/** `unknown`: the bank did not give a usable answer (time-out, down, garbage); ask again later. */
export type BankAnswer = BankOutcome | { status: 'unknown'; why: string };
export type RefundAnswer = { status: 'succeeded' } | { status: 'failed'; reason: string } | { status: 'unknown'; why: string };

export class Banks {
  private readonly clients = new Map<string, AcquiringBankClient>();

  constructor(private readonly settings: BankSettings) {
    for (const [name, baseUrl] of Object.entries(settings.urls)) {
      this.clients.set(name, createAcquiringBankClient({ baseUrl, headers: { 'x-api-key': settings.apiKeys[name] ?? '' } }));
    }
  }

  /** How long a call to a bank may take. */
  get timeoutMs(): number {
    return this.settings.timeoutMs;
  }

  has(bank: string): boolean {
    return this.clients.has(bank);
  }

  /** Charges the card at `bank` (CVV sent once, never kept). */
  async charge(bank: string, input: ChargeInput): Promise<BankAnswer> {
    const callbackUrl = this.settings.callbackBaseUrl ? `${this.settings.callbackBaseUrl.replace(/\/$/, '')}/bank-callbacks/${bank}` : undefined;
    return this.ask(bank, (client, signal) =>
      client.POST('/charges', {
        signal,
        body: {
          reference: input.paymentId,
          merchantId: input.merchantId,
          card: input.card,
          amount: input.amount,
          currency: input.currency,
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(callbackUrl ? { callbackUrl } : {}),
        },
      }),
    );
  }

  /** What the bank knows of the charge made under `paymentId`: `never-received` when nothing. */
  async chargeStatus(bank: string, paymentId: string): Promise<BankAnswer | { status: 'never-received' }> {
    const client = this.client(bank);
    try {
      const { data, response } = await client.GET('/charges/{reference}', { params: { path: { reference: paymentId } }, signal: AbortSignal.timeout(this.settings.timeoutMs) });
      if (response.status === 404) return { status: 'never-received' };
      if (!data || typeof data.status !== 'string') return { status: 'unknown', why: `bank answered ${response.status}` };
      return outcomeOfBankStatus(data.status, data.reason, data.bankChargeId);
    } catch (err) {
      return { status: 'unknown', why: describe(err) };
    }
  }

  async refund(bank: string, paymentId: string, refundId: string, amount: number): Promise<RefundAnswer> {
    const client = this.client(bank);
    try {
      const { data, response } = await client.POST('/charges/{reference}/refunds', {
        params: { path: { reference: paymentId } },
        body: { reference: refundId, amount },
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
      if (!data || typeof data.status !== 'string') return { status: 'unknown', why: `bank answered ${response.status}` };
      if (data.status === '0') return { status: 'succeeded' };
      if (data.status === '100') return { status: 'failed', reason: data.reason ?? 'refused' };
      return { status: 'unknown', why: 'refund pending at the bank' };
    } catch (err) {
      return { status: 'unknown', why: describe(err) };
    }
  }

  /** Debits the mandate's account at `bank` (the IBAN goes to the bank and nowhere else). */
  async directDebit(bank: string, input: DirectDebitInput): Promise<DirectDebitReply> {
    const client = this.client(bank);
    try {
      const { data, response } = await client.POST('/direct-debits', { body: input, signal: AbortSignal.timeout(this.settings.timeoutMs) });
      return directDebitReply(input.reference, data, response);
    } catch (err) {
      return { status: 'unknown', why: describe(err) };
    }
  }

  /** What the bank knows of the direct debit made under `reference`: `never-received` when nothing. */
  async directDebitStatus(bank: string, reference: string): Promise<DirectDebitReply | { status: 'never-received' }> {
    const client = this.client(bank);
    try {
      const { data, response } = await client.GET('/direct-debits/{reference}', { params: { path: { reference } }, signal: AbortSignal.timeout(this.settings.timeoutMs) });
      if (response.status === 404) return { status: 'never-received' };
      return directDebitReply(reference, data, response);
    } catch (err) {
      return { status: 'unknown', why: describe(err) };
    }
  }

  private async ask(
    bank: string,
    call: (client: AcquiringBankClient, signal: AbortSignal) => Promise<{ data?: { status: string; reason?: string; bankChargeId: string }; response: Response }>,
  ): Promise<BankAnswer> {
    try {
      const { data, response } = await call(this.client(bank), AbortSignal.timeout(this.settings.timeoutMs));
      if (!data || typeof data.status !== 'string' || typeof data.bankChargeId !== 'string') return { status: 'unknown', why: `bank answered ${response.status}` };
      return outcomeOfBankStatus(data.status, data.reason, data.bankChargeId);
    } catch (err) {
      // A time-out, a refused connection, or a body that is not JSON.
      return { status: 'unknown', why: describe(err) };
    }
  }

  private client(bank: string): AcquiringBankClient {
    const client = this.clients.get(bank);
    if (!client) throw new Error(`no acquiring bank named ${bank} is configured (ACQUIRING_BANKS)`);
    return client;
  }
}

/** A well-formed answer about the debit asked for, or `unknown` (a 5xx, a 4xx, another debit, a body off the spec). */
function directDebitReply(reference: string, data: Partial<BankDirectDebit> | undefined, response: Response): DirectDebitReply {
  if (!data || !['0', '100', '200'].includes(data.status ?? '') || data.reference !== reference) return { status: 'unknown', why: `bank answered ${response.status}` };
  return { status: 'answered', debit: { reference, status: data.status!, ...(typeof data.reason === 'string' ? { reason: data.reason } : {}) } };
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.name === 'TimeoutError' ? 'timed out' : err.message;
  return String(err);
}

/** `name=value,name=value` → record (ACQUIRING_BANKS, ACQUIRING_BANK_KEYS, BANK_WEBHOOK_SECRETS). */
export function parseNamedList(value: string | undefined, variable: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (value ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = part.indexOf('=');
    if (at <= 0) throw new Error(`${variable}: expected name=value pairs separated by commas`);
    out[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return out;
}
