// The identity operations of the Payment Gateway API: sign-up, sign-in, token refresh and
// sign-out, the profile, and the public keys. The gateway is the platform's token issuer.
// Nothing here logs or returns a password, a hash, a token or a key.
import type { IdentityDelegate, Schemas } from '../../../generated/payment-gateway/delegate.js';
import type { RequestContext } from '../../common/http/context.js';
import { problem } from '../../common/http/problem.js';
import type { GatewayConfig } from '../gateway-config.js';
import type { IdentityRepository, StoredUser } from './identity-repository.js';
import { PasswordHasher, normalizeEmail, passwordProblem } from './passwords.js';
import { newFamilyId } from './refresh-tokens.js';
import type { SigningKeys } from './signing-keys.js';

export interface IdentityDelegateDeps {
  users: IdentityRepository;
  keys: SigningKeys;
  settings: GatewayConfig;
  issuer: string;
  audience: string;
  /** Called after a registration is stored, so its event is relayed at once. */
  onChange: () => void;
  now?: () => Date;
  /** Hashes and verifies passwords (default: argon2id with the configured cost). */
  hasher?: PasswordHasher;
}

/** The least time between two purges of expired tokens and old sign-in attempts, per process. */
const PURGE_INTERVAL_MS = 60_000;

const NO_STORE = { 'cache-control': 'no-store' } as const;

const invalidCredentials = () => ({ status: 401 as const, body: problem(401, 'invalid-credentials', 'The e-mail or the password is wrong.') });
const invalidRefreshToken = () => ({
  status: 401 as const,
  body: problem(401, 'invalid-refresh-token', 'The refresh token is not valid (unknown, expired, used or revoked); sign in again.'),
});

function toApiUser(user: Omit<StoredUser, 'passwordHash'>): Schemas['User'] {
  return {
    id: user._id,
    email: user.email,
    firstName: user.firstName,
    ...(user.middleName !== undefined ? { middleName: user.middleName } : {}),
    lastName: user.lastName,
    phone: user.phone,
    role: user.role,
    ...(user.business !== undefined ? { business: { name: user.business.name, acquiringBank: user.business.acquiringBank } } : {}),
    createdAt: user.createdAt,
  };
}

export function createIdentityDelegate({
  users,
  keys,
  settings,
  issuer,
  audience,
  onChange,
  now = () => new Date(),
  hasher = new PasswordHasher(settings),
}: IdentityDelegateDeps): IdentityDelegate {
  const clientOf = (ctx: RequestContext) => ctx.clientAddress ?? 'unknown';

  let lastPurge = 0;
  /** Expired tokens and old attempts are deleted now and then (there are no TTL indexes). */
  function purgeNowAndThen(ctx: RequestContext) {
    if (Date.now() - lastPurge < PURGE_INTERVAL_MS) return;
    lastPurge = Date.now();
    const at = now();
    Promise.all([
      users.refreshTokens.purge(at),
      users.signInAttempts.purge(at, settings.SIGN_IN_WINDOW_S),
      users.signUpAttempts.purge(at, settings.SIGN_UP_WINDOW_S),
    ]).catch((err: unknown) =>
      ctx.log.warn({ err }, 'purging expired identity records failed'),
    );
  }

  /** An access token and the next refresh token of `familyId`. */
  async function tokens(user: { _id: string; email: string; role: StoredUser['role'] }, familyId: string) {
    const at = now();
    const [accessToken, refreshToken] = await Promise.all([
      keys.sign({ sub: user._id, roles: [user.role], email: user.email }, { issuer, audience, expiresInS: settings.ACCESS_TOKEN_TTL_S, now: at }),
      users.refreshTokens.issue(familyId, user._id, at, settings.REFRESH_TOKEN_TTL_S),
    ]);
    return {
      status: 200 as const,
      headers: NO_STORE,
      body: {
        accessToken,
        tokenType: 'Bearer' as const,
        expiresIn: settings.ACCESS_TOKEN_TTL_S,
        refreshToken,
        refreshExpiresIn: settings.REFRESH_TOKEN_TTL_S,
      },
    };
  }

  return {
    async signUp({ body }, ctx) {
      purgeNowAndThen(ctx);
      // Every sign-up counts against its client address, whatever its outcome.
      const decision = await users.signUpAttempts.begin([{ scope: 'client', key: clientOf(ctx), max: settings.SIGN_UP_MAX_PER_CLIENT }], now(), settings.SIGN_UP_WINDOW_S);
      if (!decision.allowed) {
        ctx.log.warn({ retryAfterS: decision.retryAfterS }, 'sign-up refused: too many from this client');
        return {
          status: 429,
          headers: { 'retry-after': decision.retryAfterS },
          body: problem(429, 'too-many-sign-ups', `Too many sign-ups from this address; try again in ${decision.retryAfterS} seconds.`),
        };
      }
      if (body.role === 'merchant' && body.business === undefined) {
        return {
          status: 422,
          body: problem(422, 'business-required', 'A merchant signs up with its business name and acquiring bank.', {
            errors: [{ pointer: '/body/business', message: 'is required for a merchant' }],
          }),
        };
      }
      if (body.role === 'customer' && body.business !== undefined) {
        return {
          status: 422,
          body: problem(422, 'business-not-allowed', 'Only merchants have a business; leave it out for a customer.', {
            errors: [{ pointer: '/body/business', message: 'is not allowed for a customer' }],
          }),
        };
      }
      const refused = passwordProblem(body.password, body.email);
      if (refused) {
        return { status: 422, body: problem(422, refused.code, `The password ${refused.message}.`, { errors: [{ pointer: '/body/password', message: refused.message }] }) };
      }

      const result = await users.insertUser(
        {
          email: normalizeEmail(body.email),
          phone: body.phone,
          firstName: body.firstName,
          ...(body.middleName !== undefined ? { middleName: body.middleName } : {}),
          lastName: body.lastName,
          role: body.role,
          ...(body.business !== undefined ? { business: { name: body.business.name, acquiringBank: body.business.acquiringBank } } : {}),
          requestId: ctx.requestId,
          correlationId: ctx.correlationId,
        },
        () => hasher.hash(body.password),
        now(),
      );
      if (!result.created) {
        return result.taken === 'email'
          ? { status: 409, body: problem(409, 'email-taken', 'An account with this e-mail address exists already.') }
          : { status: 409, body: problem(409, 'phone-taken', 'An account with this phone number exists already.') };
      }
      onChange();
      ctx.log.info({ userId: result.user._id, role: result.user.role }, 'user signed up');
      return { status: 201, headers: { location: '/me' }, body: toApiUser(result.user) };
    },

    async signIn({ body }, ctx) {
      purgeNowAndThen(ctx);
      const account = normalizeEmail(body.email);
      const decision = await users.signInAttempts.begin(
        [
          { scope: 'account', key: account, max: settings.SIGN_IN_MAX_FAILURES_PER_ACCOUNT },
          { scope: 'client', key: clientOf(ctx), max: settings.SIGN_IN_MAX_FAILURES_PER_CLIENT },
        ],
        now(),
        settings.SIGN_IN_WINDOW_S,
      );
      if (!decision.allowed) {
        ctx.log.warn({ limitedBy: decision.limitedBy, retryAfterS: decision.retryAfterS }, 'sign-in refused: too many failed attempts');
        return {
          status: 429,
          headers: { 'retry-after': decision.retryAfterS },
          body: problem(429, 'too-many-sign-in-attempts', `Too many failed sign-ins; try again in ${decision.retryAfterS} seconds.`),
        };
      }
      const user = await users.findCredentials(account);
      // An unknown e-mail costs the same time as a wrong password and answers the same.
      const valid = user ? await hasher.verify(user.passwordHash, body.password) : await hasher.verifyNothing(body.password);
      if (!user || !valid) {
        ctx.log.info({ known: user !== undefined }, 'sign-in failed');
        await users.signInAttempts.failed(decision.attemptId);
        return invalidCredentials();
      }
      await users.signInAttempts.succeeded(decision.attemptId);
      ctx.log.info({ userId: user._id }, 'signed in');
      return tokens(user, newFamilyId());
    },

    async refreshTokens({ body }, ctx) {
      const at = now();
      const record = await users.refreshTokens.find(body.refreshToken);
      if (!record || record.expiresAt.getTime() <= at.getTime()) return invalidRefreshToken();
      if (await users.refreshTokens.isRevoked(record.familyId)) return invalidRefreshToken();
      if (!(await users.refreshTokens.use(record, at))) {
        // Used before: one of the two presenters may be a thief. The family ends here.
        await users.refreshTokens.revokeFamily(record.familyId, 'reused', at, settings.REFRESH_TOKEN_TTL_S);
        ctx.log.warn({ userId: record.userId }, 'refresh token reused: its family is revoked');
        return invalidRefreshToken();
      }
      const user = await users.findById(record.userId);
      if (!user) return invalidRefreshToken();
      return tokens({ _id: user.id, email: user.email, role: user.role }, record.familyId);
    },

    async signOut({ body }) {
      const record = await users.refreshTokens.find(body.refreshToken);
      if (record) await users.refreshTokens.revokeFamily(record.familyId, 'signed-out', now(), settings.REFRESH_TOKEN_TTL_S);
      return { status: 204 };
    },

    async getProfile(_request, ctx) {
      const user = await users.getProfile(ctx.principal.subject);
      if (!user) return { status: 401, body: problem(401, 'unknown-user', 'The token names an account that does not exist.') };
      return { status: 200, body: toApiUser(user) };
    },

    async getJwks() {
      return { status: 200, body: keys.jwks() };
    },
  };
}
