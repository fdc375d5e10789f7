// The keys that sign access tokens (ES256), and the public key set every service verifies with.
//
// The keys form a chain of generations in `signing_keys` (`_id` = generation, 1, 2, …); the
// newest generation signs. A generation is added by an insert under its number, so instances
// that start (or rotate) at the same time collide and adopt the one that won: they always agree.
// A key generated here is kept there with its private half, encrypted under the key-encryption
// key SIGNING_KEY_ENCRYPTION_KEY (key-encryption.ts; required with NODE_ENV=production, else a
// warning and the private half in the clear as before); a key from SIGNING_KEY is recorded by its
// public half only (the private half stays in configuration), so switching keys through
// configuration is a rotation like any other. At start, with a KEK, every stored private half is
// brought under it: clear ones (from before, or from a run without a KEK) are encrypted, ones
// under an earlier KEK (SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS) re-encrypted, and each is decrypted
// once on the way, so a wrong KEK stops the start with a message naming the variable. A superseded key stays published until every token
// it may have signed has expired (ACCESS_TOKEN_TTL_S after its successor appeared, plus the time
// other instances take to notice), then drops out of the set.
import {
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  SignJWT,
  calculateJwkThumbprint,
  errors,
  exportJWK,
  generateKeyPair,
  importJWK,
} from 'jose';
import type { Collection, Db } from 'mongodb';
import type { Logger } from 'pino';
import { isDuplicateKey } from '../../common/mongo.js';
import { KEK_VARIABLE, type KeyEncryptionKey, MAKE_A_KEK, decryptPrivateJwk, encryptPrivateJwk, kekIdOf } from './key-encryption.js';

export const SIGNING_ALGORITHM = 'ES256';

/** How often an instance looks for a generation another instance added (rotation). */
const REFRESH_INTERVAL_MS = 60_000;
/** The least time between two reloads caused by tokens with unknown key ids. */
const UNKNOWN_KID_COOLDOWN_MS = 5_000;
const MAX_ATTEMPTS = 5;

interface KeyRecord {
  _id: number; // generation
  kid: string;
  publicJwk: JWK;
  /**
   * The private half in the clear: a key generated without a key-encryption key (or before they
   * existed). Absent for a key from SIGNING_KEY: its private half is only in that instance's configuration.
   */
  privateJwk?: JWK;
  /** The private half encrypted (a compact JWE, dir + A256GCM) under the key-encryption key `kekId`. */
  privateJwe?: string;
  kekId?: string;
  origin: 'generated' | 'configured';
  createdAt: Date;
}

interface LiveKey {
  generation: number;
  kid: string;
  publicJwk: JWK;
  createdAt: Date;
  /** When it stops being published: its successor's creation + the longest token lifetime. */
  retiresAt?: Date;
}

export interface SigningKeysOptions {
  /** Access-token lifetime: how long a superseded key stays published (default 600). */
  accessTokenTtlS?: number;
  now?: () => Date;
  /** Encryption at rest of the private halves of generated keys. */
  encryption?: {
    /** SIGNING_KEY_ENCRYPTION_KEY: encrypts what is stored, decrypts what it encrypted. */
    key?: KeyEncryptionKey;
    /** SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS: decrypt only (what they encrypted is re-encrypted under `key` at start). */
    previous?: KeyEncryptionKey[];
    /** No private key is stored in the clear (production): without `key`, generating one is refused. */
    required?: boolean;
  };
}

const hasPrivate = (record: KeyRecord) => record.privateJwk !== undefined || record.privateJwe !== undefined;

export interface AccessTokenClaims extends JWTPayload {
  sub: string;
}

export class SigningKeys {
  private readonly records: Collection<KeyRecord>;
  private readonly retainS: number;
  private readonly now: () => Date;
  private live: LiveKey[] = [];
  private signer!: { kid: string; key: CryptoKey; generation: number };
  private readonly publicKeys = new Map<string, Promise<CryptoKey>>();
  private loadedAt = 0;
  private lastUnknownKidReload = 0;
  private reloading?: Promise<void>;

  private readonly kek: KeyEncryptionKey | undefined;
  /** Every KEK that may decrypt: the current one first. */
  private readonly keks: KeyEncryptionKey[];
  private readonly encryptionRequired: boolean;

  private constructor(
    db: Db,
    private readonly configured: { jwk: JWK; kid: string; key: CryptoKey; publicJwk: JWK } | undefined,
    private readonly log: Logger,
    options: SigningKeysOptions,
  ) {
    this.records = db.collection('signing_keys');
    this.retainS = (options.accessTokenTtlS ?? 600) + REFRESH_INTERVAL_MS / 1000 + 5;
    this.now = options.now ?? (() => new Date());
    this.kek = options.encryption?.key;
    this.keks = [...(this.kek ? [this.kek] : []), ...(options.encryption?.previous ?? [])];
    this.encryptionRequired = options.encryption?.required ?? false;
  }

  /**
   * The live key set: SIGNING_KEY (a private ES256 JWK) when given, else the newest generated
   * key in the database, generating the first one on first start.
   */
  static async load(db: Db, signingKeyJwk: string | undefined, log: Logger, options: SigningKeysOptions = {}): Promise<SigningKeys> {
    if (options.encryption?.previous?.length && !options.encryption.key) {
      throw new Error(`${KEK_VARIABLE}_PREVIOUS is set without ${KEK_VARIABLE}: the previous keys only decrypt; set the current one too`);
    }
    const configured = signingKeyJwk ? await parseConfiguredKey(signingKeyJwk) : undefined;
    if (!configured && !options.encryption?.key) {
      if (options.encryption?.required) {
        throw new Error(
          `${KEK_VARIABLE} is required with NODE_ENV=production when the gateway generates its signing keys (SIGNING_KEY is not set): ` +
            `it encrypts their private halves in the database. Make one with: ${MAKE_A_KEK}`,
        );
      }
      log.warn(`${KEK_VARIABLE} is not set: a signing key generated here is stored unencrypted (refused with NODE_ENV=production)`);
    }
    const keys = new SigningKeys(db, configured, log.child({ component: 'signing-keys' }), options);
    await keys.start();
    return keys;
  }

  /** For bearerJwt: the public key a token's `kid` names, if it is in the live set. */
  readonly getKey: JWTVerifyGetKey = async (header) => {
    const kid = header.kid;
    if (header.alg !== SIGNING_ALGORITHM || !kid) throw new errors.JWKSNoMatchingKey('The token names no key of this issuer.');
    await this.refreshIfStale();
    let key = this.published().find((k) => k.kid === kid);
    if (!key && Date.now() - this.lastUnknownKidReload > UNKNOWN_KID_COOLDOWN_MS) {
      // Perhaps another instance rotated a moment ago.
      this.lastUnknownKidReload = Date.now();
      await this.reload();
      key = this.published().find((k) => k.kid === kid);
    }
    if (!key) throw new errors.JWKSNoMatchingKey('The token was not signed by a key of this issuer.');
    return this.importPublic(key);
  };

  /** The public keys tokens may be verified with (never a private part). */
  jwks(): JSONWebKeySet & { keys: (JWK & { kty: string; kid: string })[] } {
    return { keys: this.published().map((k) => ({ ...publicOnly(k.publicJwk), kty: 'EC', kid: k.kid, alg: SIGNING_ALGORITHM, use: 'sig' })) };
  }

  /** The id of the key that signs now. */
  get currentKid(): string {
    return this.signer.kid;
  }

  /** Signs an access token: ES256, `kid` in the header, `iat` = now, `exp` = now + ttl. */
  async sign(claims: AccessTokenClaims, options: { issuer: string; audience: string; expiresInS: number; now?: Date }): Promise<string> {
    await this.refreshIfStale();
    const iat = Math.floor((options.now ?? this.now()).getTime() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid: this.signer.kid, typ: 'JWT' })
      .setIssuer(options.issuer)
      .setAudience(options.audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + options.expiresInS)
      .sign(this.signer.key);
  }

  /**
   * A new generated key becomes the signing key; the previous ones stay published until the
   * tokens they signed have expired. Returns the new key's id.
   */
  async rotate(): Promise<string> {
    const newest = await this.newestRecord();
    const record = await this.appendGenerated((newest?._id ?? 0) + 1);
    await this.reload();
    this.log.info({ kid: this.signer.kid, generation: this.signer.generation, requested: record.kid }, 'signing key rotated');
    return this.signer.kid;
  }

  private async start(): Promise<void> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const newest = await this.newestRecord();
      if (this.configured) {
        if (newest?.kid === this.configured.kid) break;
        // SIGNING_KEY is new to the chain: it becomes the newest generation.
        const appended = await this.insert({
          _id: (newest?._id ?? 0) + 1,
          kid: this.configured.kid,
          publicJwk: this.configured.publicJwk,
          origin: 'configured',
          createdAt: this.now(),
        });
        if (appended) {
          this.log.info({ kid: this.configured.kid }, 'signing key from SIGNING_KEY recorded');
          break;
        }
      } else {
        if (newest && hasPrivate(newest)) break;
        // First start (or SIGNING_KEY was removed): generate one; concurrent starts agree on the winner.
        await this.appendGenerated((newest?._id ?? 0) + 1);
        const winner = await this.newestRecord();
        if (winner && hasPrivate(winner)) {
          this.log.info({ kid: winner.kid }, 'signing key in use');
          break;
        }
      }
    }
    if (this.kek) await this.sealStoredKeys(this.kek);
    await this.reload();
  }

  /**
   * Brings every stored private half under the current KEK: clear ones are encrypted, ones under
   * an earlier KEK re-encrypted, ones under it decrypted once (a wrong KEK, or a damaged record,
   * stops the start here). Concurrent starts may both rewrite a record: each writes the same key,
   * so whichever lands last is as good.
   */
  private async sealStoredKeys(kek: KeyEncryptionKey): Promise<void> {
    const records = await this.records.find({}).toArray();
    let sealed = 0;
    for (const record of records) {
      if (!hasPrivate(record)) continue;
      const jwk = await this.privateJwkOf(record);
      if (record.privateJwe !== undefined && record.kekId === kek.id && kekIdOf(record.privateJwe) === kek.id) continue;
      const privateJwe = await encryptPrivateJwk(jwk, record.kid, kek);
      await this.records.updateOne({ _id: record._id }, { $set: { privateJwe, kekId: kek.id }, $unset: { privateJwk: '' } });
      sealed++;
    }
    if (sealed > 0) this.log.info({ sealed, kekId: kek.id }, 'stored signing keys encrypted under the current key-encryption key');
  }

  /** The private JWK of a stored key: in the clear, or decrypted with the KEK it names. */
  private async privateJwkOf(record: KeyRecord): Promise<JWK> {
    if (record.privateJwe !== undefined) return decryptPrivateJwk({ kid: record.kid, publicJwk: record.publicJwk, privateJwe: record.privateJwe }, this.keks);
    if (record.privateJwk !== undefined) return record.privateJwk;
    throw new Error(`signing key ${record.kid} has no private half here (it is configured elsewhere, SIGNING_KEY)`);
  }

  private async privateKeyOf(record: KeyRecord): Promise<CryptoKey> {
    return (await importJWK(await this.privateJwkOf(record), SIGNING_ALGORITHM)) as CryptoKey;
  }

  /** Inserts a freshly generated key as `generation`; on a collision another writer's key is kept. */
  private async appendGenerated(generation: number): Promise<KeyRecord> {
    if (!this.kek && this.encryptionRequired) {
      throw new Error(`${KEK_VARIABLE} is required with NODE_ENV=production to store a generated signing key. Make one with: ${MAKE_A_KEK}`);
    }
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = await exportJWK(privateKey);
    const record: KeyRecord = {
      _id: generation,
      kid,
      publicJwk,
      ...(this.kek ? { privateJwe: await encryptPrivateJwk(privateJwk, kid, this.kek), kekId: this.kek.id } : { privateJwk }),
      origin: 'generated',
      createdAt: this.now(),
    };
    await this.insert(record);
    return record;
  }

  private async insert(record: KeyRecord): Promise<boolean> {
    try {
      await this.records.insertOne(record);
      return true;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      return false;
    }
  }

  private async newestRecord(): Promise<KeyRecord | undefined> {
    const [newest] = await this.records.find({}).sort({ _id: -1 }).limit(1).toArray();
    return newest ?? undefined;
  }

  private refreshIfStale(): Promise<void> {
    return Date.now() - this.loadedAt > REFRESH_INTERVAL_MS ? this.reload() : Promise.resolve();
  }

  /** Reads the chain again: the signing key and the keys still published. */
  private reload(): Promise<void> {
    this.reloading ??= this.readChain().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async readChain(): Promise<void> {
    const records = await this.records.find({}).sort({ _id: -1 }).toArray();
    if (records.length === 0) throw new Error('signing_keys is empty: the signing key chain was deleted');
    const live: LiveKey[] = [];
    records.forEach((record, i) => {
      // A key configured again after others is one key: its newest generation counts.
      if (live.some((k) => k.kid === record.kid)) return;
      live.push({
        generation: record._id,
        kid: record.kid,
        publicJwk: record.publicJwk,
        createdAt: record.createdAt,
        ...(i > 0 ? { retiresAt: new Date(records[i - 1]!.createdAt.getTime() + this.retainS * 1000) } : {}),
      });
    });
    const newest = records[0]!;
    // The signing key: the newest generation whose private half this instance has.
    let signer = this.signer;
    if (this.configured && newest.kid === this.configured.kid) {
      signer = { kid: this.configured.kid, key: this.configured.key, generation: newest._id };
    } else if (hasPrivate(newest)) {
      if (signer?.kid !== newest.kid) signer = { kid: newest.kid, key: await this.privateKeyOf(newest), generation: newest._id };
    } else if (!signer) {
      // Another instance's SIGNING_KEY leads the chain and this one has no key of its own: the
      // newest generated key still signs (its tokens verify while it stays published).
      const own = records.find(hasPrivate);
      if (!own) throw new Error('no signing key: set SIGNING_KEY like the other instances, or remove it from them');
      signer = { kid: own.kid, key: await this.privateKeyOf(own), generation: own._id };
      this.log.warn({ kid: own.kid }, 'the newest signing key is configured elsewhere (SIGNING_KEY); signing with an older key');
    }
    this.signer = signer;
    this.live = live;
    this.loadedAt = Date.now();
  }

  /** The keys still published: the newest generation, and older ones until they retire. */
  private published(): LiveKey[] {
    const now = this.now().getTime();
    return this.live.filter((k) => k.retiresAt === undefined || k.retiresAt.getTime() > now || k.kid === this.signer.kid);
  }

  private importPublic(key: LiveKey): Promise<CryptoKey> {
    let imported = this.publicKeys.get(key.kid);
    if (!imported) {
      imported = importJWK(publicOnly(key.publicJwk), SIGNING_ALGORITHM) as Promise<CryptoKey>;
      this.publicKeys.set(key.kid, imported);
    }
    return imported;
  }
}

function publicOnly(jwk: JWK): JWK {
  const { kty, crv, x, y } = jwk;
  return { kty, crv, x, y } as JWK;
}

async function parseConfiguredKey(value: string) {
  let jwk: JWK;
  try {
    jwk = JSON.parse(value) as JWK;
  } catch {
    throw new Error('SIGNING_KEY must be a private ES256 key as a JWK (JSON); it is not JSON');
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string' || !jwk.x || !jwk.y) {
    throw new Error('SIGNING_KEY must be a private ES256 key as a JWK: kty "EC", crv "P-256", with x, y and d');
  }
  let key: CryptoKey;
  try {
    key = (await importJWK(jwk, SIGNING_ALGORITHM)) as CryptoKey;
  } catch {
    throw new Error('SIGNING_KEY is not a usable ES256 private key');
  }
  const publicJwk = publicOnly(jwk);
  // Its own `kid` when it has one (tokens signed elsewhere with it name that), else its thumbprint.
  const kid = typeof jwk.kid === 'string' && jwk.kid.length > 0 ? jwk.kid : await calculateJwkThumbprint(publicJwk);
  return { jwk, key, publicJwk, kid };
}
