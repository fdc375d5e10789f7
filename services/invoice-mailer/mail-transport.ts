// Where invoices go (nodemailer): an SMTP server when SMTP_URL is set, otherwise one `.eml` file
// per invoice in MAIL_DIR. Both throw when the message was not taken, so the event is retried.
import { randomBytes } from 'node:crypto';
import { link, mkdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type { TransportKind } from './invoice-mailer-domain.js';

export interface MailTransport {
  readonly kind: TransportKind;
  /** Hands the message over; resolves once the transport accepted it (the SMTP server's 250, the file in place). */
  send(invoiceId: string, message: Mail.Options): Promise<void>;
  /** File transport: whether the invoice's file exists (written whole or not at all). */
  written?(invoiceId: string): Promise<boolean>;
  close(): void;
}

/** A send that failed, and whether the message may have been accepted anyway. */
export class TransportFailed extends Error {
  override readonly name = 'TransportFailed';
  constructor(
    message: string,
    /** True unless the transport said no (an SMTP error reply) or was never reached (connection refused, unknown host). */
    readonly uncertain: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function smtpTransport(url: string, timeoutMs: number): MailTransport {
  // nodemailer's own time-outs (minutes) outlast the event handler's: a stuck server fails the attempt instead.
  const transporter = nodemailer.createTransport({ url, connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs });
  return {
    kind: 'smtp',
    async send(_invoiceId, message) {
      try {
        await transporter.sendMail(message);
      } catch (err) {
        const { responseCode } = err as { responseCode?: number };
        const text = err instanceof Error ? err.message : String(err);
        const neverReached = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH/.test(text);
        throw new TransportFailed(`SMTP: ${text}`, !(typeof responseCode === 'number' || neverReached), { cause: err });
      }
    },
    close: () => transporter.close(),
  };
}

export function fileTransport(dir: string): MailTransport {
  const folder = resolve(dir);
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  const fileOf = (invoiceId: string) => join(folder, `${invoiceId}.eml`);
  return {
    kind: 'file',
    async send(invoiceId, message) {
      const { message: raw } = await composer.sendMail(message);
      await mkdir(folder, { recursive: true });
      // Written aside, then linked into place: the .eml appears whole or not at all, and a file
      // already there (an interrupted attempt that got this far) is never overwritten.
      const partial = join(folder, `.${invoiceId}.${randomBytes(6).toString('hex')}.partial`);
      try {
        await writeFile(partial, raw as Buffer);
        await link(partial, fileOf(invoiceId)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
      } catch (err) {
        throw new TransportFailed(`file: ${err instanceof Error ? err.message : String(err)}`, false, { cause: err });
      } finally {
        await unlink(partial).catch(() => {});
      }
    },
    async written(invoiceId) {
      return stat(fileOf(invoiceId)).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return false;
          throw err;
        },
      );
    },
    close: () => composer.close(),
  };
}
