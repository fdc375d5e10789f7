// Identity storage on MongoDB, correct on FerretDB too (no transactions, no atomic
// read-modify-write). Users are inserted once; a taken e-mail or phone number is a collision on
// a unique index, never a check before the insert. Every user document has both indexed fields
// (`email`, normalized; `phoneKey`: the phone, or a per-user placeholder for an operator, who
// has none), so the indexes behave the same on both servers. The user document is also the
// outbox of its `identity.user-registered` event (`published: false` is written with it).
import type { Collection, Db } from 'mongodb';
import type { Logger } from 'pino';
import type { Schemas } from '../../../generated/payment-gateway/delegate.js';
import type { OutboxMessage, OutboxStore } from '../../common/events/outbox-relay.js';
import type { Role } from '../../common/http/context.js';
import { newId } from '../../common/ids.js';
import { type IndexPlan, isDuplicateKey } from '../../common/mongo.js';
import type { GatewayConfig } from '../gateway-config.js';
import { PasswordHasher, normalizeEmail, passwordProblem } from './passwords.js';
import { RefreshTokenStore, refreshTokenIndexes } from './refresh-tokens.js';
import { SignInLimiter, signInAttemptIndexes } from './sign-in-limiter.js';

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
  /** What the unique index sees: the phone, or `none:<id>` when there is none. */
  phoneKey: string;
  passwordHash: string;
  firstName: string;
  middleName?: string;
  lastName: string;
  role: Role;
  business?: Schemas['Business'];
  createdAt: string;
  requestId?: string;
  correlationId?: string;
  /** False until its `identity.user-registered` event is published. */
  published: boolean;
}

export type NewUser = Omit<StoredUser, '_id' | 'phoneKey' | 'published' | 'createdAt'>;

export type InsertResult = { created: true; user: StoredUser } | { created: false; taken: 'email' | 'phone' };

export const identityIndexes: IndexPlan = {
  users: [
    { key: { email: 1 }, name: 'email_unique', unique: true },
    { key: { phoneKey: 1 }, name: 'phone_unique', unique: true },
    { key: { published: 1, createdAt: 1 }, name: 'unpublished' },
  ],
  ...refreshTokenIndexes,
  ...signInAttemptIndexes,
};

const summaryProjection = { _id: 1, email: 1, firstName: 1, lastName: 1, role: 1 } as const;
const toSummary = (u: Pick<StoredUser, '_id' | 'email' | 'firstName' | 'lastName' | 'role'>): UserSummary => ({
  id: u._id,
  email: u.email,
  firstName: u.firstName,
  lastName: u.lastName,
  role: u.role,
});

export class IdentityRepository implements OutboxStore {
  private readonly users: Collection<StoredUser>;
  readonly refreshTokens: RefreshTokenStore;
  readonly signInAttempts: SignInLimiter;

  constructor(db: Db) {
    this.users = db.collection('users');
    this.refreshTokens = new RefreshTokenStore(db);
    this.signInAttempts = new SignInLimiter(db);
  }

  /** Inserts a user; a taken e-mail or phone number is reported, not thrown. */
  async insertUser(input: NewUser, now: Date): Promise<InsertResult> {
    const id = newId('usr');
    const user: StoredUser = {
      _id: id,
      ...input,
      email: normalizeEmail(input.email),
      phoneKey: input.phone || `none:${id}`,
      createdAt: now.toISOString(),
      published: false,
    };
    try {
      await this.users.insertOne(user);
      return { created: true, user };
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const taken = await this.whichTaken(err, user);
      if (!taken) throw err;
      return { created: false, taken };
    }
  }

  async findByEmail(email: string): Promise<UserSummary | undefined> {
    const user = await this.users.findOne({ email: normalizeEmail(email) }, { projection: summaryProjection });
    return user ? toSummary(user) : undefined;
  }

  async findById(id: string): Promise<UserSummary | undefined> {
    const user = await this.users.findOne({ _id: id }, { projection: summaryProjection });
    return user ? toSummary(user) : undefined;
  }

  /** What sign-in checks: the id, role and password hash of the account with this e-mail. */
  async findCredentials(email: string): Promise<Pick<StoredUser, '_id' | 'email' | 'role' | 'passwordHash'> | undefined> {
    return (
      (await this.users.findOne({ email: normalizeEmail(email) }, { projection: { _id: 1, email: 1, role: 1, passwordHash: 1 } })) ?? undefined
    );
  }

  /** The whole profile (everything but the password hash). */
  async getProfile(id: string): Promise<Omit<StoredUser, 'passwordHash'> | undefined> {
    return (await this.users.findOne({ _id: id }, { projection: { passwordHash: 0 } })) ?? undefined;
  }

  /** Unpublished registrations as `identity.user-registered` events, oldest first. */
  async pending(limit: number): Promise<OutboxMessage[]> {
    const users = await this.users
      .find({ published: false }, { projection: { _id: 1, email: 1, role: 1, createdAt: 1, requestId: 1, correlationId: 1 } })
      .sort({ createdAt: 1, _id: 1 })
      .limit(limit)
      .toArray();
    return users.map((user) => ({
      outboxId: user._id,
      type: 'identity.user-registered' as const,
      data: { userId: user._id, email: user.email, role: user.role, registeredAt: user.createdAt },
      meta: {
        id: `${user._id}:registered`,
        correlationId: user.correlationId ?? user._id,
        ...(user.requestId ? { causationId: user.requestId } : {}),
        time: user.createdAt,
      },
    }));
  }

  async markPublished(outboxIds: string[]): Promise<void> {
    await this.users.updateMany({ _id: { $in: outboxIds } }, { $set: { published: true } });
  }

  /**
   * Which unique index the insert hit. MongoDB names it in the error; FerretDB does not, so
   * then the existing holder is looked up (after the atomic refusal: it only names the reason).
   */
  private async whichTaken(err: unknown, user: StoredUser): Promise<'email' | 'phone' | undefined> {
    const pattern = (err as { keyPattern?: Record<string, unknown> }).keyPattern;
    if (pattern && 'email' in pattern) return 'email';
    if (pattern && 'phoneKey' in pattern) return 'phone';
    const message = err instanceof Error ? err.message : '';
    if (message.includes('email_unique')) return 'email';
    if (message.includes('phone_unique')) return 'phone';
    if (await this.users.findOne({ email: user.email }, { projection: { _id: 1 } })) return 'email';
    if (await this.users.findOne({ phoneKey: user.phoneKey }, { projection: { _id: 1 } })) return 'phone';
    return undefined;
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
    { email, phone: '', passwordHash: await hasher.hash(password), firstName: 'Platform', lastName: 'Operator', role: 'operator' },
    new Date(),
  );
  if (result.created) {
    log.info({ userId: result.user._id }, 'first operator created from OPERATOR_EMAIL');
    return;
  }
  // Another instance starting at the same time created it.
  const winner = await users.findByEmail(email);
  if (winner?.role !== 'operator') throw new Error(`OPERATOR_EMAIL belongs to an existing ${winner?.role ?? 'unknown'} account; choose another address`);
}
