// A customer's webhook endpoint for the voucher tests and the benchmark: an HTTP server on
// 127.0.0.1 that verifies every message with the `standardwebhooks` package (the customer's
// secret per path), records what it received, and answers what each path is told to answer:
//   /<name>?answers=500,500,204   the answers in turn (the last one repeated), default 204.
import { once } from 'node:events';
import { type Server, createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  path: string;
  webhookId: string;
  verified: boolean;
  payload?: { type: string; timestamp: string; data: Record<string, unknown> };
  answered: number;
  at: number;
}

export interface WebhookReceiver {
  origin: string;
  received: ReceivedWebhook[];
  /** The secret a path's messages are verified with. */
  trust(path: string, secret: string): void;
  /** What the path answers, in turn (the last repeated). */
  answer(path: string, statuses: number[]): void;
  /** Called on each verified message (the benchmark times deliveries with it). */
  onReceived?: (message: ReceivedWebhook) => void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const secrets = new Map<string, string>();
  const answers = new Map<string, number[]>();
  const counts = new Map<string, number>();
  const received: ReceivedWebhook[] = [];
  const receiver: WebhookReceiver = {
    origin: '',
    received,
    trust: (path, secret) => secrets.set(path, secret),
    answer: (path, statuses) => answers.set(path, statuses),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const raw = Buffer.concat(chunks).toString('utf8');
      const headers = { 'webhook-id': String(req.headers['webhook-id']), 'webhook-timestamp': String(req.headers['webhook-timestamp']), 'webhook-signature': String(req.headers['webhook-signature']) };
      let payload: ReceivedWebhook['payload'];
      let verified = false;
      const secret = secrets.get(path);
      if (secret) {
        try {
          payload = new Webhook(secret).verify(raw, headers) as ReceivedWebhook['payload'];
          verified = true;
        } catch {
          // recorded as unverified
        }
      }
      const n = counts.get(path) ?? 0;
      counts.set(path, n + 1);
      const plan = answers.get(path) ?? [204];
      const status = verified ? (plan[Math.min(n, plan.length - 1)] ?? 204) : 401;
      const message: ReceivedWebhook = { path, webhookId: headers['webhook-id'], verified, ...(payload ? { payload } : {}), answered: status, at: Date.now() };
      received.push(message);
      if (verified) receiver.onReceived?.(message);
      res.writeHead(status).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  receiver.origin = `http://127.0.0.1:${address.port}`;
  return receiver;
}
