// The floor under the write-heavy targets (tools/bench/floor.ts): bare Express 5 and the MongoDB
// driver doing only the database writes an issue itself requires of one request, by `_id` as the
// services do, and nothing else — no auth, validation, ids, logs, metrics, outbox relay, bank
// rules or event publishing. Whatever this reaches on this machine, a service that must do those
// writes and more cannot exceed.
//   MODE=bank      POST /charge: the bank records the charge (1 insert)
//   MODE=payment   POST /payments: idempotency claim, outbox marker, pending payment (3 inserts),
//                  the bank over HTTP, the answer on the payment (1 replace), the idempotency
//                  answer (1 update), the marker removed once announced (1 delete)
//   MODE=operation POST /operations: idempotency claim, ledger entry, outbox marker, operation
//                  (4 inserts), the idempotency answer (1 update), the marker removed (1 delete)
//   MODE=voucher   POST /vouchers: the least a 202 can write — the outbox marker of
//                  voucher.requested and the request itself under an id derived from its
//                  Idempotency-Key, which is its idempotency too (2 inserts), the marker removed
//                  once announced (1 delete); the provider, SMS and webhook come after the answer
// Env: PORT, MONGO_URL, MONGO_DB, MODE, BANK_URL (payment).
import { randomUUID } from 'node:crypto';
import express from 'express';
import { MongoClient } from 'mongodb';

const mode = process.env.MODE ?? 'payment';
const mongo = await MongoClient.connect(process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017');
const db = mongo.db(process.env.MONGO_DB ?? 'bench_floor');
type Doc = { _id: string; [key: string]: unknown };
const collection = (name: string) => db.collection<Doc>(`floor_${name}`);
const bankUrl = process.env.BANK_URL;

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json());

app.post('/charge', async (req, res) => {
  const at = new Date().toISOString();
  await collection('charges').insertOne({ _id: randomUUID(), amount: req.body.amount, status: '0', at });
  res.status(201).json({ status: '0', at });
});

app.post('/payments', async (req, res) => {
  const id = randomUUID();
  const at = new Date().toISOString();
  await collection('idempotency').insertOne({ _id: `pay:${req.header('idempotency-key')}`, state: 'started', at });
  await collection('outbox').insertOne({ _id: `payment.settled/${id}`, at });
  const payment = { _id: id, status: 'pending', amount: req.body.amount, currency: req.body.currency, statusHistory: [{ status: 'pending', at }] };
  await collection('payments').insertOne(payment);
  const bank = await fetch(`${bankUrl}/charge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: req.body.amount }) });
  const answer = (await bank.json()) as { at: string };
  const settled = { ...payment, status: 'succeeded', statusHistory: [...payment.statusHistory, { status: 'succeeded', at: answer.at }] };
  await collection('payments').replaceOne({ _id: id }, settled);
  await collection('idempotency').updateOne({ _id: `pay:${req.header('idempotency-key')}` }, { $set: { state: 'completed', answer: settled } });
  res.status(201).json(settled);
  await collection('outbox').deleteOne({ _id: `payment.settled/${id}` });
});

app.post('/operations', async (req, res) => {
  const id = randomUUID();
  const at = new Date().toISOString();
  await collection('idempotency').insertOne({ _id: `op:${req.header('idempotency-key')}`, state: 'started', at });
  await collection('ledger').insertOne({ _id: `${req.body.contractId}:${id}`, amount: req.body.amount, at });
  await collection('outbox').insertOne({ _id: `billing.payment-requested/${id}`, at });
  const operation = { _id: id, contractId: req.body.contractId, status: 'pending-authorization', amount: req.body.amount, statusHistory: [{ status: 'pending-authorization', at }] };
  await collection('operations').insertOne(operation);
  await collection('idempotency').updateOne({ _id: `op:${req.header('idempotency-key')}` }, { $set: { state: 'completed', answer: operation } });
  res.status(201).json(operation);
  await collection('outbox').deleteOne({ _id: `billing.payment-requested/${id}` });
});

app.post('/vouchers', async (req, res) => {
  const id = `vch:${req.header('idempotency-key')}`;
  const at = new Date().toISOString();
  await collection('outbox').insertOne({ _id: `voucher.requested/${id}`, at });
  await collection('vouchers').insertOne({ _id: id, phoneNumber: req.body.phoneNumber, callbackUrl: req.body.callbackUrl, status: 'PENDING', at });
  res.status(202).json({ id, status: 'PENDING', message: 'Your request will be processed within 30 seconds.' });
  await collection('outbox').deleteOne({ _id: `voucher.requested/${id}` });
});

app.get('/health', (_req, res) => {
  res.json({ status: 'ok', mode });
});

const port = Number(process.env.PORT ?? 8098);
const server = app.listen(port, '127.0.0.1');
server.keepAliveTimeout = 5_000;
process.on('SIGTERM', () => {
  server.close();
  void mongo.close().then(() => process.exit(0));
});
