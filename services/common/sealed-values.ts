// Values sealed for one reader: a compact JWE (`dir` + A256GCM, jose) under a key that only the
// services entitled to the value hold. Used for a contract mandate's IBAN, which the contract
// service seals into its events and the payment gateway opens to call the bank's direct debit;
// billing carries the sealed text along without being able to read it. The protected header
// names the key (`kid`, its fingerprint, so keys can rotate: the current key seals, earlier ones
// still open) and what the value is (`cty`), so a value sealed for one purpose is not accepted
// for another. Errors never show the value or a key.
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose';
import { makeValidator } from 'envalid';
import { MAKE_A_KEY, type SecretKey, parseSecretKey, parseSecretKeys } from './secret-keys.js';

const ALG = 'dir';
const ENC = 'A256GCM';
const LABEL = 'payspec mandate sealing key id';

/**
 * The development key make run and tests share when MANDATE_SEAL_KEY is unset; refused with
 * NODE_ENV=production (mandateSealer).
 */
const DEV_MANDATE_SEAL_KEY = 'ZGV2LW1hbmRhdGUtc2VhbGluZy1rZXktMzItYnl0ZXM';

export class SealError extends Error {}

export class ValueSealer {
  constructor(
    private readonly current: SecretKey,
    private readonly previous: readonly SecretKey[] = [],
  ) {}

  /** `value` sealed for `purpose` (e.g. `iban`) under the current key. */
  async seal(value: string, purpose: string): Promise<string> {
    return new CompactEncrypt(new TextEncoder().encode(value)).setProtectedHeader({ alg: ALG, enc: ENC, kid: this.current.id, cty: purpose }).encrypt(this.current.key);
  }

  /** The value a sealed text holds; SealError when it is not one sealed for `purpose` under a key held here. */
  async open(sealed: string, purpose: string): Promise<string> {
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(sealed).kid;
    } catch {
      throw new SealError('not a sealed value');
    }
    const key = [this.current, ...this.previous].find((k) => k.id === kid);
    if (!key) throw new SealError(`sealed under key ${String(kid)}, which is not configured here`);
    try {
      const { plaintext, protectedHeader } = await compactDecrypt(sealed, key.key, { keyManagementAlgorithms: [ALG], contentEncryptionAlgorithms: [ENC] });
      if (protectedHeader.cty !== purpose) throw new SealError(`sealed for ${String(protectedHeader.cty)}, not ${purpose}`);
      return new TextDecoder().decode(plaintext);
    } catch (err) {
      if (err instanceof SealError) throw err;
      throw new SealError(`does not open with key ${key.id}: altered or damaged`);
    }
  }
}

const sealKey = makeValidator<SecretKey>((value) => parseSecretKey(value, LABEL, 'msk'));
const sealKeys = makeValidator<SecretKey[]>((value) => parseSecretKeys(value, LABEL, 'msk'));

/** The settings of the mandate sealer, for the services that seal or open IBANs (contract, payment gateway). */
export function mandateSealSpecs() {
  return {
    MANDATE_SEAL_KEY: sealKey({
      default: undefined,
      desc: `32 random bytes, base64 or base64url (${MAKE_A_KEY}), the same in the contract service and the payment gateway: seals mandate IBANs in contract events and payment requests. Unset: a development key (refused with NODE_ENV=production)`,
    }),
    MANDATE_SEAL_KEY_PREVIOUS: sealKeys({ default: undefined, desc: 'Earlier MANDATE_SEAL_KEYs, comma-separated, to open what they sealed while events sealed under them are still in flight' }),
  };
}

/** The mandate sealer from its settings; the development key outside production only. */
export function mandateSealer(settings: { MANDATE_SEAL_KEY?: SecretKey; MANDATE_SEAL_KEY_PREVIOUS?: SecretKey[] }, env: NodeJS.ProcessEnv): { sealer: ValueSealer; devKey: boolean } {
  if (settings.MANDATE_SEAL_KEY) return { sealer: new ValueSealer(settings.MANDATE_SEAL_KEY, settings.MANDATE_SEAL_KEY_PREVIOUS ?? []), devKey: false };
  if (env.NODE_ENV === 'production') throw new Error(`MANDATE_SEAL_KEY is required with NODE_ENV=production. Make one with: ${MAKE_A_KEY}`);
  return { sealer: new ValueSealer(parseSecretKey(DEV_MANDATE_SEAL_KEY, LABEL, 'msk'), settings.MANDATE_SEAL_KEY_PREVIOUS ?? []), devKey: true };
}

export const MANDATE_SEAL_DEV_KEY_WARNING = 'MANDATE_SEAL_KEY is unset: mandate IBANs are sealed under the development key (set it outside local runs)';
