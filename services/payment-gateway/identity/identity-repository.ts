// Identity storage on MongoDB, correct on FerretDB too (no transactions; a unique `_id` is the
// only atomic guard; every hot read and write is a filter of `_id` alone — docs/architecture.md).
// A user is found by e-mail through a claim document keyed by the normalized address
// (`user_emails`), and a phone number is held by one in `user_phones`: signing up claims both
// (a taken one is a collision, never a check before an insert), then hashes the password, then
// writes the user. A claim whose user never appeared (a crash in between) is taken over after
// ORPHAN_AFTER_MS, once (the takeover is itself a unique insert). The registration's
// `identity.user-registered` event goes through the outbox.
import type { Collection, Db } from 'mongodb';
import type { Logger } from 'pino';
import type { Schemas } from '../../../generated/payment-gateway/delegate.js';
import { insertOnce } from '../../common/data/insert-or-get.js';
import type { Outbox, OutboxSource } from '../../common/events/outbox.js';
import type { Role } from '../../common/http/context.js';
import { newId } from '../../common/ids.js';
import type { IndexPlan } from '../../common/mongo.js';
import type { GatewayConfig } from '../gateway-config.js';
import { PasswordHasher, normalizeEmail, passwordProblem } from './passwords.js';
import { RefreshTokenStore, refreshTokenIndexes } from './refresh-tokens.js';
import { AttemptLimiter, attemptIndexes } from './attempt-limiter.js';

export interface UserSummary {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  role: Role;
}

export interface StoredUser {
  _id: string;
  /** Normalized (trimmed, lower case): e-mail addresses are compared case-insensitively. */
  email: string;
  /** E.164; empty for an operator created from configuration. */
  phone: string;
  passwordHash: string;
  firstName: string;
  middleName?: string;
  lastName: string;
  role: Role;
  business?: Schemas['Business'];
  createdAt: string;
  requestId?: string;
  correlationId?: string;
}

/** A unique value held by one user: `_id` is the normalized e-mail, or the phone number. */
interface Claim {
  _id: string;
  userId: string;
  at: Date;
}

export type NewUser = Omit<StoredUser, '_id' | 'createdAt' | 'passwordHash'>;

export type InsertResult = { created: true; user: StoredUser } | { created: false; taken: 'email' | 'phone' };

export const identityIndexes: IndexPlan = {
  // Uniqueness lives in the claims' `_id`s; this serves reports on MongoDB.
  users: [{ key: { createdAt: 1 }, name: 'by_time' }],
  ...refreshTokenIndexes,
  ...attemptIndexes('sign_in_attempts'),
  ...attemptIndexes('sign_up_attempts'),
};

const summaryProjection = { _id: 1, email: 1, firstName: 1, lastName: 1, role: 1 } as const;
const toSummary = (u: Pick<StoredUser, '_id' | 'email' | 'firstName' | 'lastName' | 'role'>): UserSummary => ({
  id: u._id,
  email: u.email,
  firstName: u.firstName,
  lastName: u.lastName,
  role: u.role,
});

/** A claim older than this whose user does not exist was left by a sign-up that died midway. */
const ORPHAN_AFTER_MS = 60_000;

export class IdentityRepository {
  private readonly users: Collection<StoredUser>;
  private readonly emails: Collection<Claim>;
  private readonly phones: Collection<Claim>;
  private readonly takeovers: Collection<Claim>;
  readonly refreshTokens: RefreshTokenStore;
  /** Sign-ins per account and per client: failed ones (and those in flight) count. */
  readonly signInAttempts: AttemptLimiter<'account' | 'client'>;
  /** Sign-ups per client: every one counts. */
  readonly signUpAttempts: AttemptLimiter<'client'>;

  constructor(
    db: Db,
    private readonly outbox?: Outbox,
  ) {
    this.users = db.collection('users');
    this.emails = db.collection('user_emails');
    this.phones = db.collection('user_phones');
    this.takeovers = db.collection('user_claim_takeovers');
    this.refreshTokens = new RefreshTokenStore(db);
    this.signInAttempts = new AttemptLimiter(db, 'sign_in_attempts', { counts: 'failures' });
    this.signUpAttempts = new AttemptLimiter(db, 'sign_up_attempts', { counts: 'all' });
  }

  outboxSources(): Record<string, OutboxSource> {
    return {
      'identity.user-registered': async (userId) => {
        const user = await this.users.findOne({ _id: userId }, { projection: { _id: 1, email: 1, role: 1, createdAt: 1, requestId: 1, correlationId: 1 } });
        if (!user) return 'missing';
        return {
          type: 'identity.user-registered' as const,
          data: { userId: user._id, email: user.email, role: user.role, registeredAt: user.createdAt },
          meta: {
            id: `${user._id}:registered`,
            correlationId: user.correlationId ?? user._id,
            ...(user.requestId ? { causationId: user.requestId } : {}),
            time: user.createdAt,
          },
        };
      },
    };
  }

  /**
   * Registers a user: claims the e-mail and the phone number first, so a taken one is reported
   * before `hashPassword` (deliberately slow) runs; then stores the user.
   */
  async insertUser(input: NewUser, hashPassword: () => Promise<string>, now: Date): Promise<InsertResult> {
    const id = newId('usr');
    const email = normalizeEmail(input.email);
    if (!(await this.claim(this.emails, email, id, now))) return { created: false, taken: 'email' };
    if (input.phone && !(await this.claim(this.phones, input.phone, id, now))) {
      await this.emails.deleteOne({ _id: email }); // ours: released for the next try
      return { created: false, taken: 'phone' };
    }
    let passwordHash: string;
    try {
      passwordHash = await hashPassword();
    } catch (err) {
      await this.release(email, input.phone);
      throw err;
    }
    const user: StoredUser = { _id: id, ...input, email, passwordHash, createdAt: now.toISOString() };
    await this.outbox?.add('identity.user-registered', id);
    await this.users.insertOne(user);
    return { created: true, user };
  }

  async findByEmail(email: string): Promise<UserSummary | undefined> {
    const userId = await this.holderOf(email);
    return userId === undefined ? undefined : this.findById(userId);
  }

  async findById(id: string): Promise<UserSummary | undefined> {
    const user = await this.users.findOne({ _id: id }, { projection: summaryProjection });
    return user ? toSummary(user) : undefined;
  }

  /** What sign-in checks: the id, role and password hash of the account with this e-mail. */
  async findCredentials(email: string): Promise<Pick<StoredUser, '_id' | 'email' | 'role' | 'passwordHash'> | undefined> {
    const userId = await this.holderOf(email);
    if (userId === undefined) return undefined;
    return (await this.users.findOne({ _id: userId }, { projection: { _id: 1, email: 1, role: 1, passwordHash: 1 } })) ?? undefined;
  }

  /** The whole profile (everything but the password hash). */
  async getProfile(id: string): Promise<Omit<StoredUser, 'passwordHash'> | undefined> {
    return (await this.users.findOne({ _id: id }, { projection: { passwordHash: 0 } })) ?? undefined;
  }

  private async holderOf(email: string): Promise<string | undefined> {
    return (await this.emails.findOne({ _id: normalizeEmail(email) }))?.userId;
  }

  /**
   * Claims `value` for `userId`; false when a user holds it. A claim left by a sign-up that died
   * before writing its user is taken over once it is old enough — by one taker only.
   */
  private async claim(claims: Collection<Claim>, value: string, userId: string, now: Date): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await insertOnce(claims, { _id: value, userId, at: now })) return true;
      const holder = await claims.findOne({ _id: value });
      if (!holder) continue; // released meanwhile
      if (now.getTime() - holder.at.getTime() < ORPHAN_AFTER_MS) return false;
      if (await this.users.findOne({ _id: holder.userId }, { projection: { _id: 1 } })) return false;
      if (!(await insertOnce(this.takeovers, { _id: `${claims.collectionName}:${value}:${holder.userId}`, userId, at: now }))) return false;
      await claims.deleteOne({ _id: value });
    }
    return false;
  }

  private async release(email: string, phone: string): Promise<void> {
    await this.emails.deleteOne({ _id: email });
    if (phone) await this.phones.deleteOne({ _id: phone });
  }
}

/**
 * Creates the first operator from OPERATOR_EMAIL / OPERATOR_PASSWORD when both are set and the
 * account does not exist yet. Restarts and concurrent starts create it once (the e-mail's unique
 * index decides); a later change of OPERATOR_PASSWORD does not change an existing account's password.
 */
export async function ensureFirstOperator(users: IdentityRepository, settings: GatewayConfig, log: Logger): Promise<void> {
  const email = settings.OPERATOR_EMAIL?.trim() || undefined;
  const password = settings.OPERATOR_PASSWORD || undefined;
  if (email === undefined && password === undefined) return;
  if (email === undefined || password === undefined) {
    throw new Error('OPERATOR_EMAIL and OPERATOR_PASSWORD must be set together (the first operator needs both), or neither');
  }
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) || email.length > 254) throw new Error('OPERATOR_EMAIL is not an e-mail address');
  const refused = passwordProblem(password, email);
  if (refused) throw new Error(`OPERATOR_PASSWORD ${refused.message}`);

  const existing = await users.findByEmail(email);
  if (existing) {
    if (existing.role !== 'operator') throw new Error(`OPERATOR_EMAIL belongs to an existing ${existing.role} account; choose another address`);
    return;
  }
  const hasher = new PasswordHasher(settings);
  const result = await users.insertUser(
    { email, phone: '', firstName: 'Platform', lastName: 'Operator', role: 'operator' },
    () => hasher.hash(password),
    new Date(),
  );
  if (result.created) {
    log.info({ userId: result.user._id }, 'first operator created from OPERATOR_EMAIL');
    return;
  }
  // Another instance starting at the same time holds the e-mail: its account appears once that
  // instance has hashed the password (a bounded wait; a claim that never fills is taken over).
  let winner = await users.findByEmail(email);
  for (let waited = 0; winner === undefined && waited < 30_000; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    winner = await users.findByEmail(email);
  }
  if (winner?.role !== 'operator') throw new Error(`OPERATOR_EMAIL belongs to an existing ${winner?.role ?? 'unknown'} account; choose another address`);
}
