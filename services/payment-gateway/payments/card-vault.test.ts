// The card vault (card-vault.ts): its keys from configuration (unit), and on the real database
// (integration): the round trip, one id and one document per card number however often and
// however concurrently it is stored, nothing of the number beyond bin and last 4 in the stored
// document and no CVV, a tampered or moved ciphertext refused, and key rotation.
import { randomBytes, randomInt } from 'node:crypto';
import { expect } from 'chai';
import { type Collection, type Db, MongoClient } from 'mongodb';
import { MONGO_URL, testDatabaseName } from '../../../tools/testing/service-harness.js';
import { ensureIndexes } from '../../common/mongo.js';
import { CARDS_COLLECTION, type CardDocument, CardVault, type VaultKeys, cardVaultIndexes, parseVaultKeys } from './card-vault.js';

const b64 = (bytes: Buffer) => bytes.toString('base64');
const b64url = (bytes: Buffer) => bytes.toString('base64url');
const newKey = () => randomBytes(32);

/** A random Luhn-valid 16-digit Visa number, so every test stores cards of its own. */
function visaNumber(): string {
  const body = `4${Array.from({ length: 14 }, () => randomInt(10)).join('')}`;
  let sum = 0;
  [...body].reverse().forEach((c, i) => {
    let d = Number(c);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  });
  return `${body}${(10 - (sum % 10)) % 10}`;
}

const card = (number = visaNumber()) => ({ number, expiryMonth: 9, expiryYear: 2029, holderName: 'Ada Lovelace' });

describe('Card vault keys (parseVaultKeys)', () => {
  const k1 = newKey();
  const k2 = newKey();
  const fp = newKey();

  it('reads the current key, its id, the previous keys and the fingerprint key', () => {
    const keys = parseVaultKeys(
      { CARD_VAULT_KEY: b64url(k2), CARD_VAULT_KEY_ID: 'k2', CARD_VAULT_PREVIOUS_KEYS: `k1:${b64(k1)}`, CARD_FINGERPRINT_KEY: b64(fp) },
      { production: true },
    );
    expect(keys.current.id).to.equal('k2');
    expect(keys.current.key.equals(k2)).to.equal(true);
    expect(keys.previous.map((k) => k.id)).to.deep.equal(['k1']);
    expect(keys.previous[0]!.key.equals(k1)).to.equal(true);
    expect(keys.fingerprintKey.equals(fp)).to.equal(true);
    expect(keys.devKeys).to.equal(undefined);
  });

  it('in production, requires every key and names the missing variables', () => {
    expect(() => parseVaultKeys({}, { production: true })).to.throw(/CARD_VAULT_KEY, CARD_VAULT_KEY_ID, CARD_FINGERPRINT_KEY are required in production/);
    expect(() => parseVaultKeys({ CARD_VAULT_KEY: b64(k1), CARD_VAULT_KEY_ID: 'k1' }, { production: true })).to.throw(/CARD_FINGERPRINT_KEY is required in production/);
    expect(() => parseVaultKeys({ CARD_VAULT_KEY: b64(k1), CARD_FINGERPRINT_KEY: b64(fp) }, { production: true })).to.throw(/CARD_VAULT_KEY_ID is required/);
  });

  it('outside production, replaces missing keys by fixed development keys and says so', () => {
    const a = parseVaultKeys({}, { production: false });
    const b = parseVaultKeys({}, { production: false });
    expect(a.devKeys).to.equal(true);
    expect(a.current.id).to.equal('dev');
    expect(a.current.key.equals(b.current.key)).to.equal(true);
    expect(a.fingerprintKey.equals(b.fingerprintKey)).to.equal(true);
    expect(a.current.key.equals(a.fingerprintKey)).to.equal(false);
    // The development keys are refused in production even when given explicitly.
    expect(() =>
      parseVaultKeys({ CARD_VAULT_KEY: b64(a.current.key), CARD_VAULT_KEY_ID: 'k1', CARD_FINGERPRINT_KEY: b64(fp) }, { production: true }),
    ).to.throw(/CARD_VAULT_KEY is the public development key/);
  });

  it('refuses malformed keys without echoing them', () => {
    const short = b64(randomBytes(16));
    const cases: [Record<string, string>, RegExp][] = [
      [{ CARD_VAULT_KEY: short, CARD_VAULT_KEY_ID: 'k1', CARD_FINGERPRINT_KEY: b64(fp) }, /CARD_VAULT_KEY must be 32 random bytes.*decodes to 16 bytes/],
      [{ CARD_VAULT_KEY: b64(k1), CARD_VAULT_KEY_ID: 'k1', CARD_FINGERPRINT_KEY: 'not base64 at all!' }, /CARD_FINGERPRINT_KEY must be 32 random bytes.*not base64/],
      [{ CARD_VAULT_KEY: b64(k1), CARD_VAULT_KEY_ID: 'k 1', CARD_FINGERPRINT_KEY: b64(fp) }, /CARD_VAULT_KEY_ID: a key id is/],
      [{ CARD_VAULT_KEY: b64(k2), CARD_VAULT_KEY_ID: 'k2', CARD_VAULT_PREVIOUS_KEYS: b64(k1), CARD_FINGERPRINT_KEY: b64(fp) }, /CARD_VAULT_PREVIOUS_KEYS entry 1 must be id:key/],
      [{ CARD_VAULT_KEY: b64(k2), CARD_VAULT_KEY_ID: 'k2', CARD_VAULT_PREVIOUS_KEYS: `k1:${b64(k1)},k0:${short}`, CARD_FINGERPRINT_KEY: b64(fp) }, /CARD_VAULT_PREVIOUS_KEYS entry 2 must be 32/],
      [{ CARD_VAULT_KEY: b64(k2), CARD_VAULT_KEY_ID: 'k1', CARD_VAULT_PREVIOUS_KEYS: `k1:${b64(k1)}`, CARD_FINGERPRINT_KEY: b64(fp) }, /key id k1 appears twice/],
      [{ CARD_VAULT_KEY: b64(k1), CARD_VAULT_KEY_ID: 'k1', CARD_FINGERPRINT_KEY: b64(k1) }, /CARD_FINGERPRINT_KEY must not be one of the vault keys/],
    ];
    for (const [env, message] of cases) {
      let error: Error | undefined;
      try {
        parseVaultKeys(env, { production: true });
      } catch (err) {
        error = err as Error;
      }
      expect(error?.message, JSON.stringify(Object.keys(env))).to.match(message);
      for (const value of Object.values(env)) if (value.length > 8) expect(error!.message).to.not.include(value);
      expect(error!.message).to.not.include(short);
    }
  });
});

describe('Card vault (integration)', () => {
  let client: MongoClient;
  let db: Db;
  let cards: Collection<CardDocument>;
  const k1 = { id: 'k1', key: newKey() };
  const k2 = { id: 'k2', key: newKey() };
  const fingerprintKey = newKey();
  const keysV1: VaultKeys = { current: k1, previous: [], fingerprintKey };
  const keysV2: VaultKeys = { current: k2, previous: [k1], fingerprintKey };

  before(async () => {
    client = await new MongoClient(MONGO_URL).connect();
    db = client.db(testDatabaseName('card_vault'));
    await ensureIndexes(db, cardVaultIndexes);
    cards = db.collection<CardDocument>(CARDS_COLLECTION);
  });
  after(async () => {
    await db?.dropDatabase();
    await client?.close();
  });

  const stored = (cardId: string) => cards.findOne({ _id: cardId });

  it('stores a card and reveals it again (round trip)', async () => {
    const vault = new CardVault(db, keysV1);
    const input = card('4000 0566 5566 5556');
    const vaulted = await vault.store(input);
    expect(vaulted).to.deep.include({ brand: 'visa', bin: '400005', last4: '5556' });
    expect(vaulted.cardId).to.equal(`card_${vaulted.fingerprint}`);
    expect(Buffer.from(vaulted.fingerprint, 'base64url').length).to.be.at.least(16);
    expect(await vault.reveal(vaulted.cardId)).to.deep.equal({ number: '4000056655665556', expiryMonth: 9, expiryYear: 2029, holderName: 'Ada Lovelace' });
    expect(await vault.reveal('card_nothing-stored-here')).to.equal(undefined);
  });

  it('keeps nothing of the number beyond bin and last 4, and no CVV', async () => {
    const vault = new CardVault(db, keysV1);
    const number = '4000056655665556';
    const { cardId } = await vault.store({ ...card(number), cvv: '737' } as ReturnType<typeof card>); // a caller passing the whole request
    const doc = await stored(cardId);
    expect(doc).to.not.equal(null);
    const text = JSON.stringify(doc);
    expect(text).to.not.include(number);
    expect(text).to.not.include(number.slice(6, -4)); // the middle digits
    expect(text).to.not.include('Ada Lovelace');
    expect(text).to.not.include('737');
    expect(Object.keys(doc!).sort()).to.deep.equal(['_id', 'bin', 'brand', 'ciphertext', 'createdAt', 'iv', 'keyId', 'last4', 'tag']);
    expect(doc).to.deep.include({ keyId: 'k1', brand: 'visa', bin: '400005', last4: '5556' });
  });

  it('gives the same card the same id, and one document, however it is typed', async () => {
    const vault = new CardVault(db, keysV1);
    const number = visaNumber();
    const first = await vault.store(card(number));
    const before = await stored(first.cardId);
    const second = await vault.store(card(number.replace(/(\d{4})(?=\d)/g, '$1 ')));
    const third = await new CardVault(db, keysV1).store({ ...card(number.replace(/(\d{4})(?=\d)/g, '$1-')), holderName: 'A. Lovelace' });
    expect(second).to.deep.equal(first);
    expect(third).to.deep.equal(first);
    expect(await cards.countDocuments({ _id: first.cardId })).to.equal(1);
    expect(await stored(first.cardId)).to.deep.equal(before); // storing again wrote nothing
    const other = await vault.store(card(visaNumber()));
    expect(other.cardId).to.not.equal(first.cardId);
    // Another fingerprint key: other ids for the same number.
    const elsewhere = new CardVault(db, { ...keysV1, fingerprintKey: newKey() });
    expect(elsewhere.fingerprint(number)).to.not.equal(first.fingerprint);
  });

  it('20 concurrent stores of one card make one document', async () => {
    const vault = new CardVault(db, keysV1);
    const number = visaNumber();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => new CardVault(db, keysV1).store(card(i % 2 ? number : number.replace(/(\d{4})(?=\d)/g, '$1 ')))));
    expect(new Set(results.map((r) => r.cardId)).size).to.equal(1);
    expect(await cards.countDocuments({ _id: results[0]!.cardId })).to.equal(1);
    expect((await vault.reveal(results[0]!.cardId))?.number).to.equal(number);
  });

  it('refuses a tampered ciphertext, tag or IV', async () => {
    const vault = new CardVault(db, keysV1);
    const { cardId } = await vault.store(card());
    const original = (await stored(cardId))!;
    const flip = (base64: string) => {
      const bytes = Buffer.from(base64, 'base64');
      bytes[bytes.length - 1]! ^= 0x01;
      return bytes.toString('base64');
    };
    for (const field of ['ciphertext', 'tag', 'iv'] as const) {
      await cards.updateOne({ _id: cardId }, { $set: { [field]: flip(original[field]) } });
      await expectRejection(vault.reveal(cardId), /does not decrypt with vault key k1: the stored record was altered/);
      await cards.updateOne({ _id: cardId }, { $set: { [field]: original[field] } });
    }
    // A tag cut short is refused too (GCM would otherwise accept shorter tags).
    await cards.updateOne({ _id: cardId }, { $set: { tag: Buffer.from(original.tag, 'base64').subarray(0, 4).toString('base64') } });
    await expectRejection(vault.reveal(cardId), /does not decrypt/);
    await cards.updateOne({ _id: cardId }, { $set: { tag: original.tag } });
    expect(await vault.reveal(cardId)).to.not.equal(undefined);
  });

  it("refuses a ciphertext moved onto another card's record", async () => {
    const vault = new CardVault(db, keysV1);
    const a = await vault.store(card());
    const b = await vault.store(card());
    const docA = (await stored(a.cardId))!;
    const docB = (await stored(b.cardId))!;
    await cards.updateOne({ _id: b.cardId }, { $set: { iv: docA.iv, ciphertext: docA.ciphertext, tag: docA.tag } });
    await expectRejection(vault.reveal(b.cardId), /does not decrypt with vault key k1/);
    await cards.updateOne({ _id: b.cardId }, { $set: { iv: docB.iv, ciphertext: docB.ciphertext, tag: docB.tag } });
    expect((await vault.reveal(b.cardId))?.number).to.be.a('string');
  });

  it('rotates: a card stored under k1 is read with k1 as a previous key and re-encrypted under k2', async () => {
    const number = visaNumber();
    const { cardId } = await new CardVault(db, keysV1).store(card(number));
    const underK1 = (await stored(cardId))!;
    expect(underK1.keyId).to.equal('k1');

    const vault = new CardVault(db, keysV2);
    expect((await vault.reveal(cardId))?.number).to.equal(number);
    // Storing it again under the new key finds it by its fingerprint: same id, nothing written.
    expect((await vault.store(card(number))).cardId).to.equal(cardId);
    expect((await stored(cardId))!.keyId).to.equal('k1');

    expect(await vault.rotate(cardId)).to.equal(true);
    const underK2 = (await stored(cardId))!;
    expect(underK2.keyId).to.equal('k2');
    expect(underK2.ciphertext).to.not.equal(underK1.ciphertext);
    expect(underK2.iv).to.not.equal(underK1.iv);
    expect(JSON.stringify(underK2)).to.not.include(number);
    expect(await vault.rotate(cardId)).to.equal(false); // already under the current key
    expect(await vault.rotate('card_nothing-stored-here')).to.equal(false);

    // Only k2 now opens it; a vault without k2 says which key is missing.
    expect(await new CardVault(db, { current: k2, previous: [], fingerprintKey }).reveal(cardId)).to.deep.equal(card(number));
    await expectRejection(new CardVault(db, keysV1).reveal(cardId), /encrypted under vault key k2, which is not configured \(k1\)/);
    // A key under the right id but with other bytes does not open it.
    await expectRejection(new CardVault(db, { current: { id: 'k2', key: newKey() }, previous: [], fingerprintKey }).reveal(cardId), /does not decrypt with vault key k2/);
  });

  it('never puts the number in an error', async () => {
    const vault = new CardVault(db, keysV1);
    const number = '4000 0566 5566 555x';
    await expectRejection(vault.store(card(number)), /12 to 19 digits/, (message) => {
      expect(message).to.not.include(number);
      expect(message).to.not.include('665566');
    });
  });
});

async function expectRejection(promise: Promise<unknown>, message: RegExp, check?: (message: string) => void): Promise<void> {
  let error: Error | undefined;
  try {
    await promise;
  } catch (err) {
    error = err as Error;
  }
  expect(error, 'expected a rejection').to.be.instanceOf(Error);
  expect(error!.message).to.match(message);
  check?.(error!.message);
}
