// The voucher-provider simulator on its own: the scenario each last digit (or X-Simulate) plays,
// idempotency on the reference, the S256 pair it proves callbacks with, its late callbacks
// (retried until acknowledged), its API key; responses checked against specs/voucher-provider.yaml.
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { type VoucherProviderClient, createVoucherProviderClient } from '../../../generated/voucher-provider/client.js';
import spec from '../../../generated/voucher-provider/spec.json' with { type: 'json' };
import { type OpenApiSpec, createContractCheckingMiddleware, runInvalidRequests } from '../../../tools/contract-testing/index.js';
import { type TestService, startTestService } from '../../../tools/testing/service-harness.js';
import { createTokenIssuer } from '../../../tools/testing/tokens.js';
import { eventually } from '../../../tools/testing/wait.js';
import { SCENARIO_BY_LAST_DIGIT, scenarioOf } from './provider-domain.js';
import { voucherProviderService } from './main.js';

describe('Voucher-provider simulator (integration)', function () {
  this.timeout(30_000);
  let provider: TestService;
  let api: VoucherProviderClient;
  let receiver: Server;
  let callbackUrl: string;
  const callbacks: { reference: string; codeVerifier: string; status: string; voucherCode: string }[] = [];
  /** What the receiver answers, in turn per reference (the last repeated). */
  const answers = new Map<string, number[]>();

  before(async () => {
    receiver = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const body = JSON.parse(raw) as (typeof callbacks)[number];
        const n = callbacks.filter((c) => c.reference === body.reference).length;
        callbacks.push(body);
        const plan = answers.get(body.reference) ?? [204];
        res.writeHead(plan[Math.min(n, plan.length - 1)]!).end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/callbacks`;
    provider = await startTestService(voucherProviderService, await createTokenIssuer(), { PROVIDER_TIME_SCALE: '0.01', PROVIDER_CALLBACK_RETRY_DELAYS_MS: '1000,2000' });
    api = createVoucherProviderClient({ baseUrl: provider.url, headers: { 'x-api-key': 'dev-voucher-provider-key' }, middleware: [createContractCheckingMiddleware({ api: 'voucher-provider', spec: spec as OpenApiSpec })] });
  });
  after(async () => {
    await provider?.stop();
    await provider?.drop();
    receiver?.close();
  });

  const ask = (phoneNumber: string, reference = `vch_${randomUUID().replace(/-/g, '').slice(0, 26)}`, simulate?: 'fast' | 'slow' | 'never') =>
    api.POST('/voucher-requests', { params: { header: simulate ? { 'X-Simulate': simulate } : {} }, body: { reference, phoneNumber, callbackUrl } });

  it('chooses the scenario by the last digit, or by X-Simulate', () => {
    expect(SCENARIO_BY_LAST_DIGIT).to.deep.equal(['fast', 'fast', 'fast', 'fast', 'slow', 'slow', 'very-slow', 'never', 'wrong-verifier', 'replay']);
    expect(scenarioOf('+447700900127')).to.equal('never');
    expect(scenarioOf('+447700900127', 'fast')).to.equal('fast');
  });

  it('answers the code at once on the fast path, the same code to every retry of a reference', async () => {
    const first = await ask('+447700900120');
    expect(first.response.status).to.equal(200);
    const again = await ask('+447700900120', first.data!.reference);
    expect(again.data).to.deep.equal(first.data);
  });

  it('acknowledges a slow request with an S256 challenge, then calls back with its verifier; retries until acknowledged', async () => {
    const reference = `vch_${randomUUID().replace(/-/g, '').slice(0, 26)}`;
    answers.set(reference, [503, 204]);
    const ack = await ask('+447700900124', reference);
    expect(ack.response.status).to.equal(202);
    const challenge = (ack.data as { codeChallenge: string; codeChallengeMethod: string }).codeChallenge;
    expect(ack.data).to.include({ status: 'PROCESSING', codeChallengeMethod: 'S256' });
    expect((await ask('+447700900124', reference)).data).to.deep.include({ codeChallenge: challenge });
    const state = await eventually(async () => (await api.GET('/voucher-requests/{reference}', { params: { path: { reference } } })).data!, (s) => s.callbacks.length >= 2, 'called back twice');
    expect(state.callbacks.map((c) => [c.outcome, c.httpStatus])).to.deep.equal([
      ['failed', 503],
      ['acknowledged', 204],
    ]);
    const received = callbacks.filter((c) => c.reference === reference);
    expect(received[0]).to.deep.equal(received[1]);
    expect(createHash('sha256').update(received[0]!.codeVerifier).digest('base64url')).to.equal(challenge);
    expect(received[0]!.status).to.equal('SUCCESS');
    // Asked again once ready: the same code in the answer.
    const later = await ask('+447700900124', reference);
    expect(later.response.status).to.equal(200);
    expect((later.data as { voucherCode: string }).voucherCode).to.equal(received[0]!.voucherCode);
  });

  it('never calls back a `never` request, and wants its key', async () => {
    const ack = await ask('+447700900125', undefined, 'never');
    expect(ack.response.status).to.equal(202);
    const state = (await api.GET('/voucher-requests/{reference}', { params: { path: { reference: ack.data!.reference } } })).data!;
    expect(state).to.include({ scenario: 'never', status: 'NEVER' });
    const keyless = createVoucherProviderClient({ baseUrl: provider.url });
    expect((await keyless.GET('/voucher-requests/{reference}', { params: { path: { reference: ack.data!.reference } } })).response.status).to.equal(401);
    expect((await api.GET('/voucher-requests/{reference}', { params: { path: { reference: 'unknown-ref' } } })).response.status).to.equal(404);
  });

  it('answers every schema-derived invalid request with a 4xx problem+json, never a 5xx', async () => {
    const reference = `vch_${randomUUID().replace(/-/g, '').slice(0, 26)}`;
    let cases = 0;
    const failures: string[] = [];
    const headers = { 'x-api-key': 'dev-voucher-provider-key' };
    const valid: Record<string, Parameters<typeof runInvalidRequests>[0]['valid']> = {
      requestVoucherCode: { headers: { ...headers, 'x-simulate': 'fast' }, body: { reference, phoneNumber: '+447700900121', callbackUrl } },
      getVoucherRequest: { headers, path: { reference } },
    };
    for (const [operationId, request] of Object.entries(valid)) {
      const result = await runInvalidRequests({ api: 'voucher-provider', baseUrl: provider.url, spec: spec as OpenApiSpec, operationId, valid: request, tokens: { valid: 'unused', forged: 'unused' } });
      cases += result.cases;
      failures.push(...result.failures);
    }
    expect(failures).to.deep.equal([]);
    expect(cases).to.be.greaterThan(10);
  });
});
