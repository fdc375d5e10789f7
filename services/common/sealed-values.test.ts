import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { SealError, ValueSealer, mandateSealer } from './sealed-values.js';
import { parseSecretKey } from './secret-keys.js';

const key = (label = 'k') => parseSecretKey(randomBytes(32).toString('base64url'), label, 'msk');

describe('sealed values', () => {
  it('opens what it sealed, for the same purpose only; the sealed text does not contain the value', async () => {
    const sealer = new ValueSealer(key());
    const sealed = await sealer.seal('DE89370400440532013000', 'iban');
    expect(sealed.split('.')).to.have.length(5);
    expect(sealed).not.to.include('DE89370400440532013000');
    expect(await sealer.open(sealed, 'iban')).to.equal('DE89370400440532013000');
    await expectSealError(sealer.open(sealed, 'pan'), /sealed for iban, not pan/);
  });

  it('opens with an earlier key after rotation, refuses an unknown key and an altered text without showing either', async () => {
    const [oldKey, newKey] = [key(), key()];
    const sealed = await new ValueSealer(oldKey).seal('FR7630006000011234567890189', 'iban');
    expect(await new ValueSealer(newKey, [oldKey]).open(sealed, 'iban')).to.equal('FR7630006000011234567890189');
    await expectSealError(new ValueSealer(newKey).open(sealed, 'iban'), new RegExp(`sealed under key ${oldKey.id}`));
    const parts = sealed.split('.');
    parts[3] = parts[3]!.startsWith('A') ? `B${parts[3]!.slice(1)}` : `A${parts[3]!.slice(1)}`;
    await expectSealError(new ValueSealer(oldKey).open(parts.join('.'), 'iban'), /altered or damaged/);
    await expectSealError(new ValueSealer(oldKey).open('not a jwe', 'iban'), /not a sealed value/);
  });

  it('uses the development key only outside production', () => {
    expect(mandateSealer({}, {}).devKey).to.equal(true);
    expect(() => mandateSealer({}, { NODE_ENV: 'production' })).to.throw(/MANDATE_SEAL_KEY is required/);
    expect(mandateSealer({ MANDATE_SEAL_KEY: key() }, { NODE_ENV: 'production' }).devKey).to.equal(false);
  });
});

async function expectSealError(promise: Promise<unknown>, message: RegExp) {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).to.be.instanceOf(SealError);
  expect((error as Error).message).to.match(message);
  expect((error as Error).message).not.to.match(/DE89|FR76/);
}
