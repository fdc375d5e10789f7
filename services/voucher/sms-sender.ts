// Sending a voucher's code by SMS, behind one interface: locally a file sink (one JSON line per
// message in SMS_FILE, what a developer reads instead of a phone), an HTTP SMS provider by
// configuration (SMS_SENDER=http: POST {to, text, reference} to SMS_HTTP_URL, with a bearer token).
// The text holds the code: the SMS is its channel, so it is never logged.
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface SmsMessage {
  to: string;
  text: string;
  /** Our id for the message (the voucher id): a provider that dedups on it sends it once. */
  reference: string;
}

export interface SmsSender {
  send(message: SmsMessage): Promise<void>;
}

export class FileSmsSender implements SmsSender {
  constructor(private readonly path: string) {}

  async send(message: SmsMessage): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await appendFile(this.path, `${JSON.stringify({ ...message, at: new Date().toISOString() })}\n`);
  }
}

export class HttpSmsSender implements SmsSender {
  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
    private readonly timeoutMs = 5_000,
  ) {}

  async send(message: SmsMessage): Promise<void> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`the SMS provider answered ${response.status}`);
  }
}
