// The contract service trusts the tokens the payment gateway issues, through the gateway's JWKS
// (AUTH_JWKS_URL), as on a running platform: an operator signs in on the gateway and creates a
// contract; a customer's token is refused the operator's operations; a token from any other
// issuer is refused outright.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { newId } from '../common/ids.js';
import { createContractClient } from '../../generated/contract/client.js';
import contractSpec from '../../generated/contract/spec.json' with { type: 'json' };
import { createPaymentGatewayClient } from '../../generated/payment-gateway/client.js';
import gatewaySpec from '../../generated/payment-gateway/spec.json' with { type: 'json' };
import { type OpenApiSpec, createContractCheckingMiddleware } from '../../tools/contract-testing/index.js';
import { type TestService, startTestService, testDatabaseName } from '../../tools/testing/service-harness.js';
import { createTokenIssuer } from '../../tools/testing/tokens.js';
import { paymentGatewayService } from '../payment-gateway/main.js';
import { contractService } from './main.js';

const OPERATOR = { email: `ops-${randomUUID().slice(0, 8)}@example.com`, password: 'an operator password' };

describe('Contract API with tokens from the payment gateway (integration)', function () {
  this.timeout(60_000);
  let gateway: TestService;
  let contract: TestService;

  before(async () => {
    const unused = await createTokenIssuer('not-the-gateway');
    gateway = await startTestService(paymentGatewayService, unused, {
      MONGO_DB: testDatabaseName('trust_gateway'),
      OPERATOR_EMAIL: OPERATOR.email,
      OPERATOR_PASSWORD: OPERATOR.password,
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '1',
    });
    contract = await startTestService(contractService, unused, {
      MONGO_DB: testDatabaseName('trust_contract'),
      // Takes precedence over the harness's inline AUTH_JWKS: only the gateway's keys count.
      AUTH_JWKS_URL: `${gateway.url}/.well-known/jwks.json`,
    });
  });

  after(async () => {
    for (const svc of [contract, gateway]) {
      await svc?.stop();
      await svc?.drop();
    }
  });

  const gatewayClient = () =>
    createPaymentGatewayClient({ baseUrl: gateway.url, middleware: [createContractCheckingMiddleware({ api: 'payment-gateway', spec: gatewaySpec as OpenApiSpec })] });
  const contractClient = (token: string) =>
    createContractClient({ baseUrl: contract.url, token, middleware: [createContractCheckingMiddleware({ api: 'contract', spec: contractSpec as OpenApiSpec })] });

  async function signIn(email: string, password: string): Promise<string> {
    const { data, response } = await gatewayClient().POST('/auth/sign-in', { body: { email, password } });
    expect(response.status, `sign-in of ${email}`).to.equal(200);
    return data!.accessToken;
  }

  it("lets an operator signed in on the gateway create a contract for a customer's gateway account, which then sees it and only reads", async () => {
    // The corporate customer's account signs up on the gateway; the contract names it.
    const email = `cust-${randomUUID().slice(0, 8)}@example.com`;
    const signUp = await gatewayClient().POST('/auth/sign-up', {
      body: { email, password: 'a customer password', firstName: 'Cy', lastName: 'Customer', phone: `+4477009${String(Date.now()).slice(-5)}`, role: 'customer' },
    });
    expect(signUp.response.status).to.equal(201);
    const operator = contractClient(await signIn(OPERATOR.email, OPERATOR.password));
    const contractFor = (userId: string) =>
      operator.POST('/contracts', {
        params: { header: { 'Idempotency-Key': randomUUID() } },
        body: {
          customer: { id: 'cust-trust', name: 'Trust Ltd', billingEmail: 'accounts@example.com', userId },
          validFrom: '2026-01-01',
          validTo: '2026-12-31',
          currency: 'EUR',
          creditLimit: 1_000,
          mandate: { reference: 'TRUST-1', iban: 'DE89 3704 0044 0532 0130 00', signedOn: '2025-12-01' },
        },
      });
    const created = await contractFor(signUp.data!.id);
    expect(created.response.status).to.equal(201);
    const someoneElses = await contractFor(newId('usr'));
    expect(someoneElses.response.status).to.equal(201);

    const customer = contractClient(await signIn(email, 'a customer password'));
    const write = await customer.POST('/contracts/{contractId}/cancel', { params: { path: { contractId: created.data!.id } }, body: { reason: 'x' } });
    expect(write.response.status).to.equal(403);
    const read = await customer.GET('/contracts', {});
    expect(read.response.status).to.equal(200);
    expect(read.data!.data.map((c) => c.id), 'the contract naming this account, and no other').to.deep.equal([created.data!.id]);
    expect((await customer.GET('/contracts/{contractId}', { params: { path: { contractId: created.data!.id } } })).response.status).to.equal(200);
    expect((await customer.GET('/contracts/{contractId}', { params: { path: { contractId: someoneElses.data!.id } } })).response.status).to.equal(404);
  });

  it('refuses a well-formed token signed by anyone but the gateway', async () => {
    const stranger = await createTokenIssuer('gateway-key-lookalike');
    const token = await stranger.sign('op-impostor', { roles: ['operator'] });
    const { response, error } = await contractClient(token).GET('/contracts', {});
    expect(response.status).to.equal(401);
    expect(error!.code).to.equal('invalid-token');
  });
});
