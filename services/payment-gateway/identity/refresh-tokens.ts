// Refresh tokens: opaque random strings, stored only as their SHA-256 (a 256-bit random token
// needs no slow hash). Each belongs to a family started by one sign-in; a refresh uses its
// token up and issues the next in the same family.
//
// Every rule concurrent requests could break is an insert under a unique key (docs/architecture.md):
// - "used once": using a token inserts a marker keyed by its hash; a collision is a reuse;
// - "a revoked family stays revoked": revocation inserts a marker keyed by the family id,
//   checked on every use, so tokens issued in a family after (or while) it was revoked are dead too.
import { createHash, randomBytes } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { IndexPlan } from '../../common/mongo.js';
import { isDuplicateKey } from '../../common/mongo.js';

export interface RefreshTokenRecord {
  _id: string; // SHA-256 of the token, base64url
  familyId: string;
  userId: string;
  issuedAt: Date;
  expiresAt: Date;
}

interface UseMarker {
  _id: string; // the used token's hash
  familyId: string;
  at: Date;
  /** Kept while the token could still be presented (then it is unknown anyway). */
  expiresAt: Date;
}

interface FamilyRevocation {
  _id: string; // family id
  reason: 'signed-out' | 'reused';
  at: Date;
  /** Kept until every token of the family has expired (purged after). */
  keepUntil: Date;
}

export const refreshTokenIndexes: IndexPlan = {
  refresh_tokens: [{ key: { expiresAt: 1 }, name: 'by_expiry' }],
  refresh_token_uses: [{ key: { expiresAt: 1 }, name: 'by_expiry' }],
  refresh_family_revocations: [{ key: { keepUntil: 1 }, name: 'by_keep_until' }],
};

export const hashRefreshToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('base64url');

/** 32 random bytes, base64url (43 characters). */
export const newRefreshToken = () => randomBytes(32).toString('base64url');

export const newFamilyId = () => `rtf_${randomBytes(16).toString('base64url')}`;

export class RefreshTokenStore {
  private readonly tokens: Collection<RefreshTokenRecord>;
  private readonly uses: Collection<UseMarker>;
  private readonly revocations: Collection<FamilyRevocation>;

  constructor(db: Db) {
    this.tokens = db.collection('refresh_tokens');
    this.uses = db.collection('refresh_token_uses');
    this.revocations = db.collection('refresh_family_revocations');
  }

  /** Stores a new token of `familyId` (only its hash) and returns the token. */
  async issue(familyId: string, userId: string, now: Date, ttlS: number): Promise<string> {
    const token = newRefreshToken();
    await this.tokens.insertOne({ _id: hashRefreshToken(token), familyId, userId, issuedAt: now, expiresAt: new Date(now.getTime() + ttlS * 1000) });
    return token;
  }

  async find(token: string): Promise<RefreshTokenRecord | undefined> {
    return (await this.tokens.findOne({ _id: hashRefreshToken(token) })) ?? undefined;
  }

  /** Marks the token used; false when it already was (a reuse). */
  async use(record: RefreshTokenRecord, now: Date): Promise<boolean> {
    try {
      await this.uses.insertOne({ _id: record._id, familyId: record.familyId, at: now, expiresAt: record.expiresAt });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async revokeFamily(familyId: string, reason: FamilyRevocation['reason'], now: Date, refreshTtlS: number): Promise<void> {
    try {
      // A token issued in the family by a refresh racing this revocation lives at most refreshTtlS.
      await this.revocations.insertOne({ _id: familyId, reason, at: now, keepUntil: new Date(now.getTime() + (refreshTtlS + 3600) * 1000) });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err; // already revoked
    }
  }

  async isRevoked(familyId: string): Promise<boolean> {
    return (await this.revocations.findOne({ _id: familyId }, { projection: { _id: 1 } })) !== null;
  }

  /** Deletes what can no longer matter: expired tokens and their markers, lapsed revocations. */
  async purge(now: Date): Promise<void> {
    await Promise.all([
      this.tokens.deleteMany({ expiresAt: { $lt: now } }),
      this.uses.deleteMany({ expiresAt: { $lt: now } }),
      this.revocations.deleteMany({ keepUntil: { $lt: now } }),
    ]);
  }
}
