// The card vault (issue 9, item 4): card numbers encrypted at rest, CVVs never stored.
//
// A card's id is its keyed fingerprint: `card_` + base64url of HMAC-SHA256(fingerprint key,
// digits of the number), cut to 192 bits. The same number always gets the same id, so storing
// is an insert-or-get on `_id` (the only lookup FerretDB answers from an index; see
// docs/architecture.md, data access) and the fingerprint can be compared without decrypting,
// yet without the fingerprint key it cannot be computed from a guessed number.
//
// Document in `cards`: `{ _id, keyId, iv, ciphertext, tag, brand, bin, last4, createdAt }`. The
// number, expiry and holder name are inside the ciphertext (JSON, AES-256-GCM with a fresh
// 96-bit IV, the card id as additional authenticated data, so a ciphertext copied onto another
// record does not decrypt); only brand, bin (first 6) and last 4 are in clear. `keyId` names the
// vault key that encrypted it: keys rotate by adding a new current key and keeping the old ones
// as previous keys until `rotate` has re-encrypted what they hold.
//
// Nothing here logs, and no error message carries a card number, a CVV or key material.
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { insertOrGet } from '../../common/data/insert-or-get.js';
import type { IndexPlan } from '../../common/mongo.js';
import { cardSummary, normalizeCardNumber } from './card-rules.js';

export interface VaultKey {
  id: string;
  /** 32 bytes, AES-256. */
  key: Buffer;
}

export interface VaultKeys {
  current: VaultKey;
  /** Earlier keys, kept to decrypt (and `rotate`) what they encrypted. */
  previous: VaultKey[];
  /** HMAC-SHA256 key for card fingerprints (card ids), 32 bytes. Never rotated: it is what card ids are made of. */
  fingerprintKey: Buffer;
  /** True when a missing setting was replaced by a public development key (never in production): the caller warns. */
  devKeys?: boolean;
}

export interface VaultedCard {
  cardId: string;
  fingerprint: string;
  brand: string;
  bin: string;
  last4: string;
}

export interface VaultCardData {
  number: string;
  expiryMonth: number;
  expiryYear: number;
  holderName: string;
}

/** A stored card as it is in the database. */
export interface CardDocument {
  _id: string;
  keyId: string;
  iv: string;
  ciphertext: string;
  tag: string;
  brand: string;
  bin: string;
  last4: string;
  createdAt: string;
  rotatedAt?: string;
}

export const CARDS_COLLECTION = 'cards';

export const cardVaultIndexes: IndexPlan = {
  // Read and written by `_id` (the card's fingerprint) only: no secondary index.
  [CARDS_COLLECTION]: [],
};

export const CARD_VAULT_VARIABLES = {
  key: 'CARD_VAULT_KEY',
  keyId: 'CARD_VAULT_KEY_ID',
  previous: 'CARD_VAULT_PREVIOUS_KEYS',
  fingerprintKey: 'CARD_FINGERPRINT_KEY',
} as const;

/** The one-line warning for the caller to log when `parseVaultKeys` answered `devKeys: true`. */
export const CARD_VAULT_DEV_KEYS_WARNING =
  'card vault: CARD_VAULT_KEY / CARD_FINGERPRINT_KEY not set, using public development keys (cards stored now are not protected; never do this in production)';

export const MAKE_A_VAULT_KEY = `node -p "crypto.randomBytes(32).toString('base64url')"`;

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FINGERPRINT_BYTES = 24; // 192 bits of the HMAC
const CARD_ID_PREFIX = 'card_';
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

// Development keys: derived from a fixed, public secret, so a local platform keeps reading what
// it stored across restarts. Refused in production.
const DEV_SECRET = 'payspec public development secret for the card vault: never use in production';
const DEV_KEY_ID = 'dev';
const devKey = (label: string) => createHmac('sha256', DEV_SECRET).update(label).digest();

type VaultEnv = { CARD_VAULT_KEY?: string; CARD_VAULT_KEY_ID?: string; CARD_VAULT_PREVIOUS_KEYS?: string; CARD_FINGERPRINT_KEY?: string };

/**
 * The vault's keys from configuration. `CARD_VAULT_KEY` and `CARD_FINGERPRINT_KEY`: 32 random
 * bytes in base64 or base64url; `CARD_VAULT_KEY_ID`: the current key's name (`k1`);
 * `CARD_VAULT_PREVIOUS_KEYS`: earlier keys as `id:base64,id:base64`. In production the first
 * three are required (previous keys only while rotating); elsewhere missing ones are replaced by
 * public development keys and `devKeys` is set. Errors name the variable, never its value.
 */
export function parseVaultKeys(env: VaultEnv, options: { production: boolean }): VaultKeys {
  const { key: KEY, keyId: KEY_ID, previous: PREVIOUS, fingerprintKey: FINGERPRINT } = CARD_VAULT_VARIABLES;
  const given = (value: string | undefined) => (value !== undefined && value.trim() !== '' ? value.trim() : undefined);
  const keyText = given(env.CARD_VAULT_KEY);
  const keyIdText = given(env.CARD_VAULT_KEY_ID);
  const fingerprintText = given(env.CARD_FINGERPRINT_KEY);
  const previousText = given(env.CARD_VAULT_PREVIOUS_KEYS);

  if (options.production) {
    const missing = [[KEY, keyText], [KEY_ID, keyIdText], [FINGERPRINT, fingerprintText]].filter(([, value]) => value === undefined).map(([name]) => name);
    if (missing.length > 0) {
      throw new Error(`${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} required in production (keys: 32 random bytes in base64 or base64url, make one with ${MAKE_A_VAULT_KEY}; ${KEY_ID}: a name such as k1)`);
    }
  }
  if (keyText === undefined && keyIdText !== undefined) throw new Error(`${KEY_ID} is set but ${KEY} is not: set both (or neither, outside production)`);

  let devKeys = false;
  let current: VaultKey;
  if (keyText === undefined) {
    current = { id: DEV_KEY_ID, key: devKey('card vault key') };
    devKeys = true;
  } else {
    const key = decodeKey(keyText, KEY);
    current = { id: keyIdText === undefined ? derivedKeyId(key) : checkKeyId(keyIdText, KEY_ID), key };
  }

  let fingerprintKey: Buffer;
  if (fingerprintText === undefined) {
    fingerprintKey = devKey('card fingerprint key');
    devKeys = true;
  } else {
    fingerprintKey = decodeKey(fingerprintText, FINGERPRINT);
  }

  const previous = previousText === undefined ? [] : parsePreviousKeys(previousText);

  const all = [current, ...previous];
  const ids = new Set<string>();
  for (const k of all) {
    if (ids.has(k.id)) throw new Error(`key id ${k.id} appears twice among ${KEY_ID} and ${PREVIOUS}: each vault key needs its own id`);
    ids.add(k.id);
  }
  if (all.some((k) => timingSafeEqual(k.key, fingerprintKey))) throw new Error(`${FINGERPRINT} must not be one of the vault keys: give it its own random bytes`);
  if (options.production) {
    if (timingSafeEqual(current.key, devKey('card vault key'))) throw new Error(`${KEY} is the public development key: set a random one in production`);
    if (timingSafeEqual(fingerprintKey, devKey('card fingerprint key'))) throw new Error(`${FINGERPRINT} is the public development key: set a random one in production`);
  }
  return devKeys ? { current, previous, fingerprintKey, devKeys } : { current, previous, fingerprintKey };
}

function parsePreviousKeys(text: string): VaultKey[] {
  const PREVIOUS = CARD_VAULT_VARIABLES.previous;
  return text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part, i) => {
      const colon = part.indexOf(':');
      if (colon <= 0) throw new Error(`${PREVIOUS} entry ${i + 1} must be id:key (k1:<32 bytes in base64 or base64url>)`);
      const where = `${PREVIOUS} entry ${i + 1}`;
      return { id: checkKeyId(part.slice(0, colon).trim(), where), key: decodeKey(part.slice(colon + 1).trim(), where) };
    });
}

/** 32 bytes from base64 or base64url; the message names `where`, never the value. */
function decodeKey(text: string, where: string): Buffer {
  const shape = `${where} must be ${KEY_BYTES} random bytes in base64 or base64url (make one: ${MAKE_A_VAULT_KEY})`;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw new Error(`${shape}; it is not base64`);
  const key = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== KEY_BYTES) throw new Error(`${shape}; it decodes to ${key.length} bytes`);
  return key;
}

function checkKeyId(id: string, where: string): string {
  if (!KEY_ID_PATTERN.test(id)) throw new Error(`${where}: a key id is 1 to 64 letters, digits, '.', '_' or '-'`);
  return id;
}

/** A name for a key given without one (outside production): derived from the key, revealing nothing of it. */
function derivedKeyId(key: Buffer): string {
  return `key-${createHmac('sha256', key).update('payspec card vault key id').digest('base64url').slice(0, 12)}`;
}

export class CardVault {
  private readonly cards: Collection<CardDocument>;
  private readonly keys: Map<string, VaultKey>;
  private readonly current: VaultKey;
  private readonly fingerprintKey: Buffer;

  constructor(db: Db, keys: VaultKeys) {
    for (const k of [keys.current, ...keys.previous]) {
      if (k.key.length !== KEY_BYTES) throw new Error(`card vault key ${k.id} must be ${KEY_BYTES} bytes`);
    }
    if (keys.fingerprintKey.length !== KEY_BYTES) throw new Error(`the card fingerprint key must be ${KEY_BYTES} bytes`);
    this.cards = db.collection<CardDocument>(CARDS_COLLECTION);
    // The current key wins over a previous one of the same id.
    this.keys = new Map([...keys.previous, keys.current].map((k) => [k.id, k]));
    this.current = keys.current;
    this.fingerprintKey = keys.fingerprintKey;
  }

  /** The keyed fingerprint of a card number (spaces and dashes ignored): what its card id is made of. */
  fingerprint(number: string): string {
    return createHmac('sha256', this.fingerprintKey).update(checkedNumber(number), 'utf8').digest().subarray(0, FINGERPRINT_BYTES).toString('base64url');
  }

  /** Stores the card (number, expiry, holder name) encrypted — never the CVV — and returns its id: the same card (same number) always gets the same id, found by its keyed fingerprint, so storing it again writes nothing new. */
  async store(card: { number: string; expiryMonth: number; expiryYear: number; holderName: string }): Promise<VaultedCard> {
    const number = checkedNumber(card.number);
    if (!Number.isInteger(card.expiryMonth) || card.expiryMonth < 1 || card.expiryMonth > 12) throw new Error('a card to store needs an expiry month of 1 to 12');
    if (!Number.isInteger(card.expiryYear)) throw new Error('a card to store needs an expiry year');
    if (typeof card.holderName !== 'string') throw new Error('a card to store needs a holder name');

    const fingerprint = this.fingerprint(number);
    const cardId = `${CARD_ID_PREFIX}${fingerprint}`;
    // A read first: storing a card the vault already holds is the common case, and on FerretDB a
    // read by `_id` costs less than an insert that collides.
    const existing = await this.cards.findOne({ _id: cardId });
    if (existing) return vaulted(existing, fingerprint);

    const { brand, bin, last4 } = cardSummary({ number, expiryMonth: card.expiryMonth, expiryYear: card.expiryYear, cvv: '', holderName: card.holderName });
    const secret: VaultCardData = { number, expiryMonth: card.expiryMonth, expiryYear: card.expiryYear, holderName: card.holderName };
    const doc: CardDocument = { _id: cardId, ...seal(this.current, cardId, secret), brand, bin, last4, createdAt: new Date().toISOString() };
    // Another request storing the same card at the same time: the unique `_id` lets one in, the
    // others read what it stored.
    const result = await insertOrGet(this.cards, doc);
    return vaulted(result.doc, fingerprint);
  }

  /** Decrypts a stored card (for a future re-charge; tests use it to prove the round trip). */
  async reveal(cardId: string): Promise<VaultCardData | undefined> {
    const doc = await this.cards.findOne({ _id: cardId });
    return doc ? this.open(doc) : undefined;
  }

  /** Re-encrypts a card stored under a previous key with the current one (rotation). */
  async rotate(cardId: string): Promise<boolean> {
    const doc = await this.cards.findOne({ _id: cardId });
    if (!doc || doc.keyId === this.current.id) return false;
    const secret = this.open(doc);
    const result = await this.cards.updateOne({ _id: cardId }, { $set: { ...seal(this.current, cardId, secret), rotatedAt: new Date().toISOString() } });
    return result.modifiedCount === 1;
  }

  /** The card inside a stored document, checked to be the card its id names. Throws on a wrong key or an altered record. */
  private open(doc: CardDocument): VaultCardData {
    const key = this.keys.get(doc.keyId);
    if (!key) {
      throw new Error(`card ${doc._id} is encrypted under vault key ${doc.keyId}, which is not configured (${[...this.keys.keys()].join(', ')}): add it to ${CARD_VAULT_VARIABLES.previous}`);
    }
    const altered = `card ${doc._id} does not decrypt with vault key ${doc.keyId}: the stored record was altered, damaged or moved from another card`;
    let secret: VaultCardData;
    try {
      const iv = Buffer.from(doc.iv, 'base64');
      const tag = Buffer.from(doc.tag, 'base64');
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('bad iv or tag length');
      const decipher = createDecipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(doc._id, 'utf8'));
      decipher.setAuthTag(tag);
      const plaintext = Buffer.concat([decipher.update(Buffer.from(doc.ciphertext, 'base64')), decipher.final()]);
      secret = JSON.parse(plaintext.toString('utf8')) as VaultCardData;
    } catch {
      throw new Error(altered);
    }
    // Authenticated with its id, so this holds unless the fingerprint key changed: say so.
    if (typeof secret.number !== 'string' || `${CARD_ID_PREFIX}${this.fingerprint(secret.number)}` !== doc._id) {
      throw new Error(`card ${doc._id} decrypts to a card of another fingerprint: ${CARD_VAULT_VARIABLES.fingerprintKey} is not the one the vault was filled with`);
    }
    return { number: secret.number, expiryMonth: secret.expiryMonth, expiryYear: secret.expiryYear, holderName: secret.holderName };
  }
}

/** Card-number digits, or an error that does not repeat the input. */
function checkedNumber(value: string): string {
  const digits = typeof value === 'string' ? normalizeCardNumber(value) : '';
  if (!/^\d{12,19}$/.test(digits)) throw new Error('a card number to store must be 12 to 19 digits (spaces and dashes allowed)');
  return digits;
}

function seal(key: VaultKey, cardId: string, secret: VaultCardData): Pick<CardDocument, 'keyId' | 'iv' | 'ciphertext' | 'tag'> {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(cardId, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(secret), 'utf8'), cipher.final()]);
  return { keyId: key.id, iv: iv.toString('base64'), ciphertext: ciphertext.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
}

function vaulted(doc: CardDocument, fingerprint: string): VaultedCard {
  return { cardId: doc._id, fingerprint, brand: doc.brand, bin: doc.bin, last4: doc.last4 };
}
