// Setting up what the customer journey's company pages show, through the APIs as an operator
// would (tools/testing/platform.ts's OPERATOR, signed in through the gateway): a contract naming
// the customer's account, a purchase authorized by direct debit and invoiced by the billing run of
// its period (and mailed), and a second purchase after the run, still outstanding.
import { randomUUID } from 'node:crypto';
import { createBillingClient } from '../../../generated/billing/client.js';
import type { components as Billing } from '../../../generated/billing/types.js';
import { createContractClient } from '../../../generated/contract/client.js';
import type { components as Contracts } from '../../../generated/contract/types.js';
import { createPaymentGatewayClient } from '../../../generated/payment-gateway/client.js';
import { OPERATOR, type Platform } from '../../../tools/testing/platform.js';
import { eventually } from '../../../tools/testing/wait.js';
import { accessTokenFor } from './journey.js';

type Operation = Billing['schemas']['Operation'];
type OperationRequest = Billing['schemas']['OperationRequest'];

/** The bank simulator's funded account: its direct debits are authorized. */
export const FUNDED_IBAN = 'FR76 3000 6000 0112 3456 7890 189';
const DAY_MS = 86_400_000;
const day = (offset: number) => new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);

export interface Company {
  contract: Contracts['schemas']['Contract'];
  /** Authorized, then invoiced by the run of its period and sent. */
  invoiced: Operation;
  /** Made after that run: authorized, outstanding, billed the next period. */
  outstanding: Operation;
  invoice: Billing['schemas']['Invoice'];
}

/** The account id of a signed-up user (GET /me with its own token). */
export async function userIdOf(platform: Platform, email: string): Promise<string> {
  const gateway = createPaymentGatewayClient({ baseUrl: platform.url('payment-gateway'), token: await accessTokenFor(platform, email) });
  const { data, error } = await gateway.GET('/me');
  if (!data) throw new Error(`GET /me of ${email} failed: ${JSON.stringify(error)}`);
  return data.id;
}

export async function setUpCompany(platform: Platform, userId: string, purchases: { invoiced: OperationRequest['orders']; outstanding: OperationRequest['orders'] }): Promise<Company> {
  const token = await accessTokenFor(platform, OPERATOR.email, OPERATOR.password);
  const contracts = createContractClient({ baseUrl: platform.url('contract'), token });
  const billing = createBillingClient({ baseUrl: platform.url('billing'), token });
  const tag = randomUUID().slice(0, 8);

  const created = await contracts.POST('/contracts', {
    params: { header: { 'Idempotency-Key': randomUUID() } },
    body: {
      customer: { id: `cust-lumen-${tag}`, name: 'Lumen Works Council', billingEmail: `accounts-${tag}@lumen.example`, userId },
      validFrom: day(-30),
      validTo: day(335),
      currency: 'EUR',
      creditLimit: 500_000,
      mandate: { reference: `LUMEN-${tag}`, iban: FUNDED_IBAN, signedOn: day(-31) },
    },
  });
  if (!created.data) throw new Error(`the contract was not created: ${JSON.stringify(created.error)}`);
  const contract = created.data;
  const contractId = contract.id;
  // Billing learns the contract from its event.
  await eventually(
    async () => (await billing.GET('/contracts/{contractId}/outstanding', { params: { path: { contractId } } })).response.status,
    (status) => status === 200,
    'billing knows the contract',
    20_000,
  );

  const operation = (id: string) => billing.GET('/operations/{operationId}', { params: { path: { operationId: id } } }).then((r) => r.data);
  const purchase = async (orders: OperationRequest['orders']) => {
    const { data, error } = await billing.POST('/operations', {
      params: { header: { 'Idempotency-Key': randomUUID() } },
      body: { contractId, type: 'purchase', currency: 'EUR', orders },
    });
    if (!data) throw new Error(`the purchase was refused: ${JSON.stringify(error)}`);
    return (await eventually(() => operation(data.id), (op) => op?.status !== 'pending-authorization', 'the direct debit answered', 20_000))!;
  };

  const first = await purchase(purchases.invoiced);
  if (first.status !== 'authorized') throw new Error(`the first purchase was not authorized: ${JSON.stringify(first)}`);
  // The run of the purchase's period invoices it (one run per period and platform).
  const run = await billing.POST('/billing-runs', { body: { period: first.period } });
  if (run.response.status !== 202) {
    throw new Error(`the billing run of ${first.period} was not started by this journey (${run.response.status}): another test on this platform ran the period already`);
  }
  await eventually(
    async () => (await billing.GET('/billing-runs/{runId}', { params: { path: { runId: run.data!.id } } })).data?.status,
    (status) => status === 'completed',
    'the billing run completed',
    30_000,
  );
  // The mailer sends the invoice; billing then marks it sent and its operations invoiced.
  const invoices = await eventually(
    async () => (await billing.GET('/invoices', { params: { query: { contractId } } })).data?.data ?? [],
    (page) => page.length === 1 && page[0]!.status === 'sent',
    'the invoice issued and sent',
    30_000,
  );
  const invoiced = (await eventually(() => operation(first.id), (op) => op?.status === 'invoiced', 'the purchase invoiced', 20_000))!;

  const second = await purchase(purchases.outstanding);
  if (second.status !== 'authorized') throw new Error(`the second purchase was not authorized: ${JSON.stringify(second)}`);
  return { contract, invoiced, outstanding: second, invoice: invoices[0]! };
}
