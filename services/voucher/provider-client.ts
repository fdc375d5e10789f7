// The voucher provider, as this service sees it: the generated client of
// specs/voucher-provider.yaml with a time-out (VOUCHER_PROVIDER_WAIT_MS, the seed's 3 s). Its
// answer is the code, or the S256 challenge of a late callback; anything else — a time-out, a
// refused connection, a 5xx, a body that is not the spec's, a challenge method other than S256 —
// is `unknown`, and the request stays pending: the provider is idempotent on our reference (the
// voucher id), so asking again never buys a second code.
import { type VoucherProviderClient, createVoucherProviderClient } from '../../generated/voucher-provider/client.js';
import type { ProviderStatus } from './voucher-domain.js';

export type ProviderAnswer =
  | { kind: 'code'; voucherCode: string; providerStatus: ProviderStatus }
  | { kind: 'challenge'; codeChallenge: string }
  | { kind: 'unknown'; why: string };

export class VoucherProvider {
  private readonly client: VoucherProviderClient;

  constructor(
    baseUrl: string,
    apiKey: string,
    private readonly callbackUrl: string,
    private readonly waitMs: number,
  ) {
    this.client = createVoucherProviderClient({ baseUrl, headers: { 'x-api-key': apiKey } });
  }

  async ask(reference: string, phoneNumber: string): Promise<ProviderAnswer> {
    try {
      const { data, response } = await this.client.POST('/voucher-requests', {
        body: { reference, phoneNumber, callbackUrl: this.callbackUrl },
        signal: AbortSignal.timeout(this.waitMs),
      });
      if (response.status === 200 && data && 'voucherCode' in data && typeof data.voucherCode === 'string' && data.voucherCode.length > 0) {
        return { kind: 'code', voucherCode: data.voucherCode, providerStatus: data.status === 'LATE_SUCCESS' ? 'LATE_SUCCESS' : 'SUCCESS' };
      }
      if (response.status === 202 && data && 'codeChallenge' in data) {
        // Only S256: a `plain` challenge would be the verifier itself.
        if (data.codeChallengeMethod !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(data.codeChallenge)) return { kind: 'unknown', why: 'a challenge that is not S256' };
        return { kind: 'challenge', codeChallenge: data.codeChallenge };
      }
      return { kind: 'unknown', why: `the provider answered ${response.status}` };
    } catch (err) {
      return { kind: 'unknown', why: (err as Error).name === 'TimeoutError' ? `no answer within ${this.waitMs} ms` : (err as Error).message };
    }
  }
}
