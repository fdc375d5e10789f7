// Bounded shutdown: a service stops within SHUTDOWN_TIMEOUT_MS whatever its dependencies do —
// here with RabbitMQ unreachable, so the outbox relay's publish waits for a broker that never
// comes, and with a hook that never finishes. What is asserted is that stop() returns and that
// every later hook (closing the database) still ran; how long it took is the benchmark's
// business, not a test's.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import express from 'express';
import { pino } from 'pino';
import { createContractClient } from '../../generated/contract/client.js';
import { dropDatabase, startTestService, testDatabaseName } from '../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer } from '../../tools/testing/tokens.js';
import { eventually, freePort } from '../../tools/testing/wait.js';
import { contractService } from '../contract/main.js';
import { createService } from './http/service.js';
import { newId } from './ids.js';


describe('Bounded shutdown (integration)', () => {
  let issuer: TokenIssuer;
  before(async () => {
    issuer = await createTokenIssuer();
  });

  it('stops a service whose broker is unreachable while an event waits to be published', async () => {
    const dbName = `${testDatabaseName('contract')}_shutdown`;
    const svc = await startTestService(contractService, issuer, {
      MONGO_DB: dbName,
      AMQP_URL: `amqp://guest:guest@127.0.0.1:${await freePort()}`,
      SHUTDOWN_TIMEOUT_MS: '500',
    });
    try {
      const operator = createContractClient({ baseUrl: svc.url, token: await issuer.sign('op-shutdown', { roles: ['operator'] }) });
      const created = await operator.POST('/contracts', {
        params: { header: { 'Idempotency-Key': randomUUID() } },
        body: {
          customer: { id: 'cust-shutdown', name: 'Shutdown Ltd', billingEmail: 'accounts@example.com', userId: newId('usr') },
          validFrom: '2026-01-01',
          validTo: '2026-12-31',
          currency: 'EUR',
          creditLimit: 1_000,
          mandate: { reference: 'SHUT-1', iban: 'FR76 3000 6000 0112 3456 7890 189', signedOn: '2025-12-01' },
        },
      });
      // The write succeeds without the broker: its event waits in the outbox.
      expect(created.response.status).to.equal(201);
      const ready = await fetch(`${svc.url}/health/ready`);
      expect(ready.status, 'not ready without RabbitMQ').to.equal(503);
      // /metrics shows the event waiting: the outbox's size and the age of its oldest marker.
      const gauge = async (name: string) => {
        const text = await (await fetch(`${svc.url}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
        return Number(line?.slice(line.lastIndexOf(' ') + 1));
      };
      expect(await gauge('outbox_pending'), 'outbox_pending').to.be.at.least(1);
      expect(await eventually(() => gauge('outbox_lag_seconds'), (lag) => lag > 0, 'a non-zero outbox lag')).to.be.greaterThan(0);
    } finally {
      await svc.stop(); // returns: the relay's stuck publish does not hold the stop
      await dropDatabase(dbName);
    }
  });

  it('runs the hooks after one that never finishes, and returns', async () => {
    const ran: string[] = [];
    const service = createService({
      name: 'shutdown-test',
      spec: { openapi: '3.1.0', info: { title: 't', version: '1' }, paths: {} },
      api: express.Router(),
      log: pino({ level: 'silent' }),
      port: 0,
      onShutdown: [async () => void ran.push('first'), () => new Promise<void>(() => {}), async () => void ran.push('last (closes the database)')],
      shutdownTimeoutMs: 200,
    });
    await service.start();
    await service.stop();
    expect(ran).to.deep.equal(['first', 'last (closes the database)']);
  });
});
