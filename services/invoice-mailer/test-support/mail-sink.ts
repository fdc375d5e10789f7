// Test support: a real SMTP server in-process (smtp-server) that keeps what it accepts, parsed
// with mailparser, and that can be stopped and started again on its port (an SMTP server down,
// then back). Recipients at `rejected.example` are refused (550) — a permanent failure.
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from '../../../tools/testing/wait.js';

export interface MailSink {
  readonly url: string;
  readonly received: ParsedMail[];
  /** The mails sent to `address`. */
  to(address: string): ParsedMail[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMailSink(): Promise<MailSink> {
  const port = await freePort();
  const received: ParsedMail[] = [];
  let server: SMTPServer | undefined;
  const sink: MailSink = {
    url: `smtp://127.0.0.1:${port}`,
    received,
    to: (address) => received.filter((mail) => [mail.to].flat().some((to) => to?.value.some((v) => v.address === address))),
    async start() {
      server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        onRcptTo(address, _session, callback) {
          if (address.address.endsWith('@rejected.example')) return callback(Object.assign(new Error('no such mailbox'), { responseCode: 550 }));
          callback();
        },
        onData(stream, _session, callback) {
          simpleParser(stream).then(
            (mail) => {
              received.push(mail);
              callback();
            },
            (err: Error) => callback(err),
          );
        },
      });
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    },
    async stop() {
      await new Promise<void>((resolve) => (server ? server.close(resolve) : resolve()));
      server = undefined;
    },
  };
  await sink.start();
  return sink;
}
