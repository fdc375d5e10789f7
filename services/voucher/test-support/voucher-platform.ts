// What the voucher tests (and the benchmark) run against: the real payment gateway (identity: the
// customers' tokens and phone numbers), the voucher-provider simulator time-scaled, and the voucher
// service, each in-process on its own port and database (tools/testing/service-harness.ts), with a
// webhook receiver on 127.0.0.1 allow-listed as the only private origin callbacks may reach.
import { randomInt, randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPaymentGatewayClient } from '../../../generated/payment-gateway/client.js';
import { type VoucherClient, createVoucherClient } from '../../../generated/voucher/client.js';
import spec from '../../../generated/voucher/spec.json' with { type: 'json' };
import { type OpenApiSpec, createContractCheckingMiddleware } from '../../../tools/contract-testing/index.js';
import { RUN_ID, type TestService, startTestService } from '../../../tools/testing/service-harness.js';
import { type TokenIssuer, createTokenIssuer } from '../../../tools/testing/tokens.js';
import { freePort } from '../../../tools/testing/wait.js';
import { paymentGatewayService } from '../../payment-gateway/main.js';
import { voucherProviderService } from '../../simulators/voucher-provider/main.js';
import { voucherService } from '../main.js';
import { type WebhookReceiver, startWebhookReceiver } from './webhook-receiver.js';

/** The provider runs a hundred times faster: slow 100 ms, very slow 350 ms, answer window 25 ms. */
export const TIME_SCALE = 0.01;
const PASSWORD = 'correct horse battery staple';

export interface Customer {
  id: string;
  phone: string;
  token: string;
  api: VoucherClient;
}

export interface VoucherPlatform {
  issuer: TokenIssuer;
  gateway: TestService;
  provider: TestService;
  voucher: TestService;
  receiver: WebhookReceiver;
  /** The voucher service's settings (for a restart, or a child process on the same database). */
  voucherEnv: Record<string, string>;
  smsFile: string;
  /** A new customer whose phone number ends in `lastDigit` (the provider's scenario). */
  customer(lastDigit: number): Promise<Customer>;
  /** A client of the voucher API (responses checked against the spec). */
  client(token?: string, baseUrl?: string): VoucherClient;
  /** The SMS the file sender wrote. */
  sms(): Promise<{ to: string; text: string; reference: string }[]>;
  /** The provider's record of a request (GET /voucher-requests/{reference}). */
  providerRequest(reference: string): Promise<{ status: string; callbacks: { outcome: string; httpStatus?: number }[] } | undefined>;
  stop(): Promise<void>;
}

export async function startVoucherPlatform(overrides: Record<string, string> = {}, options: { checked?: boolean } = {}): Promise<VoucherPlatform> {
  const issuer = await createTokenIssuer();
  const receiver = await startWebhookReceiver();
  const gateway = await startTestService(paymentGatewayService, issuer, { ARGON2_MEMORY_KIB: '4096', ARGON2_TIME_COST: '1', SIGN_UP_MAX_PER_CLIENT: '0', SIGN_IN_MAX_FAILURES_PER_CLIENT: '1000' });
  const provider = await startTestService(voucherProviderService, issuer, { PROVIDER_TIME_SCALE: String(TIME_SCALE), ...pick(overrides, 'PROVIDER_') });
  const port = await freePort();
  const smsFile = join(tmpdir(), `payspec-sms-${RUN_ID}-${randomUUID().slice(0, 6)}.jsonl`);
  const voucherEnv = {
    PORT: String(port),
    AUTH_JWKS_URL: `${gateway.url}/.well-known/jwks.json`,
    IDENTITY_URL: gateway.url,
    VOUCHER_PROVIDER_URL: provider.url,
    VOUCHER_PROVIDER_CALLBACK_URL: `http://127.0.0.1:${port}/provider-callbacks`,
    VOUCHER_DEADLINE_MS: '2500',
    RECONCILE_INTERVAL_MS: '100',
    // Longer than the provider's slow cases (time-scaled): the reconciler asking again does not race their callbacks.
    RECONCILE_AFTER_MS: '1000',
    WEBHOOK_RETRY_BASE_MS: '50',
    WEBHOOK_RETRY_MAX_MS: '200',
    WEBHOOK_MAX_ATTEMPTS: '4',
    WEBHOOK_TIMEOUT_MS: '2000',
    WEBHOOK_ALLOWED_ORIGINS: receiver.origin,
    SMS_FILE: smsFile,
    ...Object.fromEntries(Object.entries(overrides).filter(([k]) => !k.startsWith('PROVIDER_'))),
  };
  const voucher = await startTestService(voucherService, issuer, voucherEnv);
  const checked = options.checked !== false;
  const client = (token?: string, baseUrl = voucher.url) =>
    createVoucherClient({ baseUrl, ...(token ? { token } : {}), ...(checked ? { middleware: [createContractCheckingMiddleware({ api: 'voucher', spec: spec as OpenApiSpec })] } : {}) });
  const identity = createPaymentGatewayClient({ baseUrl: gateway.url });

  return {
    issuer,
    gateway,
    provider,
    voucher,
    receiver,
    voucherEnv: { ...voucher.env },
    smsFile,
    client,
    async customer(lastDigit) {
      const email = `voucher-${randomUUID().slice(0, 8)}@example.com`;
      const phone = `+4477${randomInt(1_000_000, 9_999_999)}${lastDigit}`;
      const signUp = await identity.POST('/auth/sign-up', { body: { email, password: PASSWORD, firstName: 'Ada', lastName: 'Voucher', phone, role: 'customer' } });
      if (signUp.response.status !== 201) throw new Error(`sign-up answered ${signUp.response.status}`);
      const signIn = await identity.POST('/auth/sign-in', { body: { email, password: PASSWORD } });
      const token = signIn.data!.accessToken;
      return { id: signUp.data!.id, phone, token, api: client(token) };
    },
    async sms() {
      const text = await readFile(smsFile, 'utf8').catch(() => '');
      return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { to: string; text: string; reference: string });
    },
    async providerRequest(reference) {
      const response = await fetch(`${provider.url}/voucher-requests/${reference}`, { headers: { 'x-api-key': 'dev-voucher-provider-key' } });
      return response.status === 200 ? ((await response.json()) as { status: string; callbacks: { outcome: string; httpStatus?: number }[] }) : undefined;
    },
    async stop() {
      for (const svc of [voucher, provider, gateway]) await svc.stop().catch(() => {});
      for (const svc of [voucher, provider, gateway]) await svc.drop().catch(() => {});
      await receiver.close();
      await rm(smsFile, { force: true });
    },
  };
}

function pick(env: Record<string, string>, prefix: string): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith(prefix)));
}
