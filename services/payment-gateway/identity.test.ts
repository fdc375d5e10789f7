// Payment gateway identity end to end: the real service on FerretDB/MongoDB and RabbitMQ, called
// through the generated client; every response is checked against specs/payment-gateway.yaml.
import { randomBytes, randomUUID } from 'node:crypto';
import argon2 from 'argon2';
import { expect } from 'chai';
import { type CryptoKey, type JWK, compactDecrypt, createLocalJWKSet, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify } from 'jose';
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import { type PaymentGatewayClient, createPaymentGatewayClient } from '../../generated/payment-gateway/client.js';
import type { IdentityDelegate, Schemas } from '../../generated/payment-gateway/delegate.js';
import spec from '../../generated/payment-gateway/spec.json' with { type: 'json' };
import { type OpenApiSpec, createContractCheckingMiddleware, getCoverageSummary, runInvalidRequests, skipUnlessWholeFileRuns } from '../../tools/contract-testing/index.js';
import { type EventProbe, startEventProbe } from '../../tools/testing/event-probe.js';
import { MONGO_URL, type TestService, dropDatabase, startTestService, testDatabaseName, withMongo } from '../../tools/testing/service-harness.js';
import { TEST_AUDIENCE, TEST_ISSUER, type TokenIssuer, createTokenIssuer, forgedToken, signWith, unsignedToken } from '../../tools/testing/tokens.js';
import { ensureIndexes } from '../common/mongo.js';
import { loadGatewayConfig } from './gateway-config.js';
import { createIdentityDelegate } from './identity/identity-delegate.js';
import { IdentityRepository, ensureFirstOperator, identityIndexes } from './identity/identity-repository.js';
import { encryptPrivateJwk, parseKek } from './identity/key-encryption.js';
import { type Argon2, PasswordHasher } from './identity/passwords.js';
import { SigningKeys } from './identity/signing-keys.js';
import { paymentGatewayService } from './main.js';

const FAST_HASHING = { ARGON2_MEMORY_KIB: '4096', ARGON2_TIME_COST: '1' };
/** The key-encryption key of the main instance (base64url) and another one (base64): 32 random bytes each. */
const KEK = randomBytes(32).toString('base64url');
const OTHER_KEK = randomBytes(32).toString('base64');
const OPERATOR = { email: 'ops@payspec.test', password: 'operator password 42' };
const PASSWORD = 'correct horse battery staple';
const silent = pino({ level: 'silent' });

let phoneCounter = 0;
/** A fresh, valid E.164 number per call. */
const newPhone = () => `+4477009${String(Date.now() % 100_000).padStart(5, '0')}${String(phoneCounter++ % 100).padStart(2, '0')}`;
const newEmail = (tag = 'user') => `${tag}-${randomUUID().slice(0, 8)}@example.com`;

function customer(overrides: Partial<Schemas['SignUpRequest']> = {}): Schemas['SignUpRequest'] {
  return { email: newEmail('ada'), password: PASSWORD, firstName: 'Ada', middleName: 'King', lastName: 'Lovelace', phone: newPhone(), role: 'customer', ...overrides };
}
function merchant(overrides: Partial<Schemas['SignUpRequest']> = {}): Schemas['SignUpRequest'] {
  return {
    email: newEmail('shop'),
    password: PASSWORD,
    firstName: 'Grace',
    lastName: 'Hopper',
    phone: newPhone(),
    role: 'merchant',
    business: { name: 'Hopper Compilers Ltd', acquiringBank: 'piggy-bank' },
    ...overrides,
  };
}

describe('Payment gateway identity (integration)', function () {
  let issuer: TokenIssuer;
  let svc: TestService;
  let anonymous: PaymentGatewayClient;
  let probe: EventProbe;
  const checked = () => [createContractCheckingMiddleware({ api: 'payment-gateway', spec: spec as OpenApiSpec })];
  const clientFor = (token?: string, base = svc) => createPaymentGatewayClient({ baseUrl: base.url, ...(token ? { token } : {}), middleware: checked() });
  // Every test calls from 127.0.0.1: one client, so its limits are out of the way here (tested on their own below).
  const env = {
    ...FAST_HASHING,
    OPERATOR_EMAIL: OPERATOR.email,
    OPERATOR_PASSWORD: OPERATOR.password,
    SIGN_IN_MAX_FAILURES_PER_CLIENT: '1000',
    SIGN_UP_MAX_PER_CLIENT: '1000',
    SIGNING_KEY_ENCRYPTION_KEY: KEK,
  };

  before(async () => {
    issuer = await createTokenIssuer();
    // Listening before the service starts, so the operator's registration is heard too.
    probe = await startEventProbe('identity-events-probe', ['identity.user-registered']);
    svc = await startTestService(paymentGatewayService, issuer, env);
    anonymous = clientFor();
  });

  after(async () => {
    await svc?.stop();
    await svc?.drop();
    await probe?.stop();
  });

  async function signUp(body: Schemas['SignUpRequest'], client = anonymous) {
    const { data, response } = await client.POST('/auth/sign-up', { body });
    expect(response.status, 'sign-up status').to.equal(201);
    return data!;
  }

  async function signIn(email: string, password = PASSWORD, client = anonymous) {
    const { data, response } = await client.POST('/auth/sign-in', { body: { email, password } });
    expect(response.status, 'sign-in status').to.equal(200);
    return data!;
  }

  describe('signing up', () => {
    it('creates a customer: 201 with Location /me, the e-mail normalized, and nothing secret in the answer', async () => {
      const body = customer({ email: `Ada.${randomUUID().slice(0, 8)}@Example.COM` });
      const { data, response } = await anonymous.POST('/auth/sign-up', { body });
      expect(response.status).to.equal(201);
      expect(response.headers.get('location')).to.equal('/me');
      expect(data!.id).to.match(/^usr_[0-9a-z]{26}$/);
      expect(data).to.deep.include({ email: body.email.toLowerCase(), firstName: 'Ada', middleName: 'King', lastName: 'Lovelace', phone: body.phone, role: 'customer' });
      expect(data!.business).to.equal(undefined);
      expect(Date.now() - Date.parse(data!.createdAt)).to.be.within(0, 60_000);
      const text = JSON.stringify(data);
      expect(text).not.to.include(PASSWORD);
      expect(text).not.to.include('argon2');
    });

    it('creates a merchant with its business', async () => {
      const created = await signUp(merchant());
      expect(created.role).to.equal('merchant');
      expect(created.business).to.deep.equal({ name: 'Hopper Compilers Ltd', acquiringBank: 'piggy-bank' });
    });

    const refusals: [string, () => Schemas['SignUpRequest'], string, string][] = [
      ['a merchant without a business', () => merchant({ business: undefined }), 'business-required', '/body/business'],
      ['a customer with a business', () => customer({ business: { name: 'Side Hustle', acquiringBank: 'acme-acquiring' } }), 'business-not-allowed', '/body/business'],
      ['a password that is the e-mail (in another case)', () => { const email = `${randomUUID().slice(0, 8)}-long@example.com`; return customer({ email, password: email.toUpperCase() }); }, 'password-is-email', '/body/password'],
    ];
    for (const [what, body, code, pointer] of refusals) {
      it(`refuses ${what} with 422 ${code}, storing nothing`, async () => {
        const request = body();
        const { error, response } = await anonymous.POST('/auth/sign-up', { body: request });
        expect(response.status).to.equal(422);
        expect(error!.code).to.equal(code);
        expect(error!.errors?.[0]?.pointer).to.equal(pointer);
        // Nothing was stored: the same e-mail and phone sign up once corrected.
        const fixed = { ...request, password: PASSWORD, ...(request.role === 'merchant' ? { business: { name: 'Fixed', acquiringBank: 'piggy-bank' as const } } : { business: undefined }) };
        await signUp(fixed);
      });
    }

    it('refuses a taken e-mail (in another case) with 409 email-taken and a taken phone with 409 phone-taken', async () => {
      const first = customer();
      await signUp(first);
      const sameEmail = await anonymous.POST('/auth/sign-up', { body: customer({ email: first.email.toUpperCase() }) });
      expect(sameEmail.response.status).to.equal(409);
      expect(sameEmail.error!.code).to.equal('email-taken');
      const samePhone = await anonymous.POST('/auth/sign-up', { body: merchant({ phone: first.phone }) });
      expect(samePhone.response.status).to.equal(409);
      expect(samePhone.error!.code).to.equal('phone-taken');
    });

    it('creates exactly one account when 20 sign-ups with one e-mail race', async () => {
      const email = newEmail('race');
      const results = await Promise.all(Array.from({ length: 20 }, () => anonymous.POST('/auth/sign-up', { body: customer({ email }) })));
      const statuses = results.map((r) => r.response.status);
      expect(statuses.filter((s) => s === 201)).to.have.length(1);
      expect(statuses.filter((s) => s === 409)).to.have.length(19);
      for (const r of results.filter((r) => r.response.status === 409)) expect(r.error!.code).to.equal('email-taken');
      const count = await withMongo((client) => client.db(svc.dbName).collection('users').countDocuments({ email }));
      expect(count).to.equal(1);
    });
  });

  describe('signing in and the profile', () => {
    it('answers an ES256 access token with the user\'s claims and a refresh token, not to be cached; /me shows the profile', async () => {
      const body = merchant();
      const created = await signUp(body);
      const { data, response } = await anonymous.POST('/auth/sign-in', { body: { email: body.email.toUpperCase(), password: PASSWORD } });
      expect(response.status).to.equal(200);
      expect(response.headers.get('cache-control')).to.equal('no-store');
      expect(data).to.include({ tokenType: 'Bearer', expiresIn: 600, refreshExpiresIn: 30 * 24 * 3600 });
      expect(data!.refreshToken.length).to.be.at.least(43);
      const header = decodeProtectedHeader(data!.accessToken);
      expect(header.alg).to.equal('ES256');
      const claims = decodeJwt(data!.accessToken);
      expect(claims).to.deep.include({ sub: created.id, roles: ['merchant'], email: body.email, iss: TEST_ISSUER, aud: TEST_AUDIENCE });
      expect(claims.exp! - claims.iat!).to.equal(600);
      expect(Math.abs(claims.iat! - Date.now() / 1000)).to.be.below(30);

      const jwks = await anonymous.GET('/.well-known/jwks.json', {});
      expect(jwks.data!.keys.map((k) => k.kid)).to.include(header.kid);
      const me = await clientFor(data!.accessToken).GET('/me', {});
      expect(me.response.status).to.equal(200);
      expect(me.data).to.deep.equal(created);
    });

    it('answers a wrong password and an unknown e-mail with the same 401', async () => {
      const body = customer();
      await signUp(body);
      const wrong = await anonymous.POST('/auth/sign-in', { body: { email: body.email, password: 'not the password at all' } });
      const unknown = await anonymous.POST('/auth/sign-in', { body: { email: newEmail('nobody'), password: 'not the password at all' } });
      for (const { response, error } of [wrong, unknown]) {
        expect(response.status).to.equal(401);
        expect(error).to.deep.include({ code: 'invalid-credentials', detail: 'The e-mail or the password is wrong.' });
      }
      // That both cost one argon2 verification is shown by what runs (below, "password hashing");
      // the time they take is measured by `make bench` (tools/bench/gateway.ts).
    });

    it('refuses access tokens that are unsigned, signed by another key, or from another issuer with 401; missing one too', async () => {
      const { accessToken } = await signIn(OPERATOR.email, OPERATOR.password);
      const { kid } = decodeProtectedHeader(accessToken);
      const stranger = await generateKeyPair('ES256');
      const tokens = {
        'alg none': unsignedToken('usr_00000000000000000000000000', ['customer']),
        'unknown key': await forgedToken('usr_00000000000000000000000000', ['customer']),
        'the right kid, another key': await signWith(stranger.privateKey, kid!, 'usr_00000000000000000000000000', { roles: ['operator'] }),
        'a test issuer\'s key': await issuer.sign('usr_00000000000000000000000000', { roles: ['operator'] }),
        garbage: 'not-a-jwt',
      };
      for (const [what, token] of Object.entries(tokens)) {
        const { response, error } = await clientFor(token).GET('/me', {});
        expect(response.status, what).to.equal(401);
        expect(error!.code, what).to.be.oneOf(['invalid-token', 'malformed-token']);
      }
      const missing = await anonymous.GET('/me', {});
      expect(missing.response.status).to.equal(401);
      expect(missing.error!.code).to.equal('missing-token');
      expect((await clientFor(accessToken).GET('/me', {})).response.status).to.equal(200);
    });

    it('refuses an operator on the wallet (customers and merchants only) with 403', async () => {
      const { accessToken } = await signIn(OPERATOR.email, OPERATOR.password);
      const { response, error } = await clientFor(accessToken).GET('/wallet', {});
      expect(response.status).to.equal(403);
      expect(error!.code).to.equal('forbidden');
    });
  });

  describe('password hashing (the delegate on its own database, with a counting argon2)', () => {
    // What runs decides whether an unknown e-mail can be told from a wrong password, and whether a
    // taken e-mail costs a hash: counted here, never timed (the times are in `make bench`).
    let dbName: string;
    let mongo: MongoClient;
    let delegate: IdentityDelegate;
    let users: IdentityRepository;
    const calls = { hash: 0, verify: [] as string[], hasherVerify: 0, hasherVerifyNothing: 0 };
    const reset = () => Object.assign(calls, { hash: 0, verify: [], hasherVerify: 0, hasherVerifyNothing: 0 });
    const argon: Argon2 = {
      hash: (password, options) => {
        calls.hash++;
        return argon2.hash(password, options);
      },
      verify: (hash, password) => {
        calls.verify.push(hash);
        return argon2.verify(hash, password);
      },
    };
    class CountingHasher extends PasswordHasher {
      override verify(hash: string, password: string) {
        calls.hasherVerify++;
        return super.verify(hash, password);
      }
      override verifyNothing(password: string) {
        calls.hasherVerifyNothing++;
        return super.verifyNothing(password);
      }
    }
    const ctx = () => ({ requestId: `req-${randomUUID()}`, correlationId: 'corr-hashing', log: silent, signal: new AbortController().signal, clientAddress: '192.0.2.10' });
    /** The argon2 parameters of an encoded hash: `$argon2id$v=19$m=…,t=…,p=…`. */
    const parametersOf = (hash: string) => hash.split('$').slice(0, 4).join('$');

    before(async () => {
      dbName = testDatabaseName(`hashing_${randomUUID().slice(0, 6)}`);
      mongo = new MongoClient(MONGO_URL);
      await mongo.connect();
      const db = mongo.db(dbName);
      await ensureIndexes(db, identityIndexes);
      const settings = loadGatewayConfig(FAST_HASHING);
      users = new IdentityRepository(db);
      const keys = await SigningKeys.load(db, undefined, silent);
      delegate = createIdentityDelegate({ users, keys, settings, issuer: TEST_ISSUER, audience: TEST_AUDIENCE, onChange: () => {}, hasher: new CountingHasher(settings, argon) });
    });

    after(async () => {
      await mongo?.db(dbName).dropDatabase();
      await mongo?.close();
    });

    it('checks an unknown e-mail with exactly one dummy verification, of the same cost as a known account\'s wrong password', async () => {
      const body = customer();
      expect((await delegate.signUp({ body }, ctx())).status).to.equal(201);
      const stored = (await users.findCredentials(body.email))!.passwordHash;

      reset();
      const wrong = await delegate.signIn({ body: { email: body.email, password: 'not the password at all' } }, ctx());
      expect(wrong.status).to.equal(401);
      expect(calls).to.deep.include({ hasherVerify: 1, hasherVerifyNothing: 0, hash: 0 });
      expect(calls.verify).to.deep.equal([stored]); // one argon2 verification, against the account's hash

      for (const round of [1, 2]) {
        reset();
        const unknown = await delegate.signIn({ body: { email: newEmail('nobody'), password: 'not the password at all' } }, ctx());
        expect(unknown, `round ${round}`).to.deep.equal(wrong); // the same answer
        expect(calls, `round ${round}`).to.deep.include({ hasherVerify: 0, hasherVerifyNothing: 1 });
        expect(calls.verify, `round ${round}`).to.have.length(1); // one argon2 verification too…
        expect(calls.verify[0], `round ${round}`).not.to.equal(stored);
        expect(parametersOf(calls.verify[0]!), `round ${round}`).to.equal(parametersOf(stored)); // …of a hash with the same cost
        expect(calls.hash, `round ${round}`).to.equal(round === 1 ? 1 : 0); // the dummy is hashed once, on first use
      }

      reset();
      const right = await delegate.signIn({ body: { email: body.email, password: PASSWORD } }, ctx());
      expect(right.status).to.equal(200);
      expect(calls).to.deep.include({ hasherVerify: 1, hasherVerifyNothing: 0 });
      expect(calls.verify).to.deep.equal([stored]);
    });

    it('does not hash the password of a sign-up whose e-mail or phone is taken', async () => {
      const first = customer();
      reset();
      expect((await delegate.signUp({ body: first }, ctx())).status).to.equal(201);
      expect(calls.hash).to.equal(1);

      reset();
      const sameEmail = await delegate.signUp({ body: customer({ email: first.email.toUpperCase() }) }, ctx());
      expect(sameEmail.status).to.equal(409);
      expect((sameEmail.body as Schemas['Problem']).code).to.equal('email-taken');
      const second = customer({ phone: first.phone });
      const samePhone = await delegate.signUp({ body: second }, ctx());
      expect(samePhone.status).to.equal(409);
      expect((samePhone.body as Schemas['Problem']).code).to.equal('phone-taken');
      expect(calls.hash, 'argon2 hashes for taken sign-ups').to.equal(0);

      // The phone's refusal released the e-mail it had claimed: that e-mail signs up, with one hash.
      reset();
      expect((await delegate.signUp({ body: { ...second, phone: newPhone() } }, ctx())).status).to.equal(201);
      expect(calls.hash).to.equal(1);
    });
  });

  describe('refresh tokens', () => {
    async function session() {
      const body = customer();
      const user = await signUp(body);
      return { user, body, tokens: await signIn(body.email) };
    }
    const refresh = (refreshToken: string) => anonymous.POST('/auth/refresh', { body: { refreshToken } });

    it('rotates: each refresh answers new tokens for the same user and uses the old refresh token up', async () => {
      const { user, tokens } = await session();
      const first = await refresh(tokens.refreshToken);
      expect(first.response.status).to.equal(200);
      expect(first.response.headers.get('cache-control')).to.equal('no-store');
      expect(first.data!.refreshToken).not.to.equal(tokens.refreshToken);
      expect(decodeJwt(first.data!.accessToken)).to.deep.include({ sub: user.id, roles: ['customer'] });
      const second = await refresh(first.data!.refreshToken);
      expect(second.response.status).to.equal(200);
      expect((await clientFor(second.data!.accessToken).GET('/me', {})).data!.id).to.equal(user.id);
    });

    it('revokes the whole family when a used refresh token comes back: the newer token stops working too', async () => {
      const { body, tokens } = await session();
      const other = await signIn(body.email); // another device: another family
      const rotated = await refresh(tokens.refreshToken);
      expect(rotated.response.status).to.equal(200);
      const replayed = await refresh(tokens.refreshToken);
      expect(replayed.response.status).to.equal(401);
      expect(replayed.error!.code).to.equal('invalid-refresh-token');
      const newer = await refresh(rotated.data!.refreshToken);
      expect(newer.response.status).to.equal(401);
      expect((await refresh(other.refreshToken)).response.status).to.equal(200);
    });

    it('lets exactly one of 10 concurrent refreshes with one token through', async () => {
      const { tokens } = await session();
      const results = await Promise.all(Array.from({ length: 10 }, () => refresh(tokens.refreshToken)));
      expect(results.filter((r) => r.response.status === 200)).to.have.length(1);
      expect(results.filter((r) => r.response.status === 401)).to.have.length(9);
    });

    it('signs out: 204, the family is revoked, other sessions stay; unknown or repeated sign-outs answer 204 too', async () => {
      const { body, tokens } = await session();
      const other = await signIn(body.email);
      const rotated = await refresh(tokens.refreshToken);
      const out = await anonymous.POST('/auth/sign-out', { body: { refreshToken: tokens.refreshToken } });
      expect(out.response.status).to.equal(204);
      expect((await refresh(rotated.data!.refreshToken)).response.status).to.equal(401);
      expect((await anonymous.POST('/auth/sign-out', { body: { refreshToken: tokens.refreshToken } })).response.status).to.equal(204);
      expect((await anonymous.POST('/auth/sign-out', { body: { refreshToken: 'x'.repeat(43) } })).response.status).to.equal(204);
      expect((await refresh(other.refreshToken)).response.status).to.equal(200);
    });

    it('refuses an unknown refresh token with 401', async () => {
      const { response, error } = await refresh('A'.repeat(43));
      expect(response.status).to.equal(401);
      expect(error!.code).to.equal('invalid-refresh-token');
    });
  });

  describe('signing keys', () => {
    it('publishes only public keys at /.well-known/jwks.json, and they verify the tokens', async () => {
      const { accessToken } = await signIn(OPERATOR.email, OPERATOR.password);
      const { data, response } = await anonymous.GET('/.well-known/jwks.json', {});
      expect(response.status).to.equal(200);
      for (const key of data!.keys) {
        expect(Object.keys(key).sort()).to.deep.equal(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
        expect(key).to.include({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      }
      const { payload } = await jwtVerify(accessToken, createLocalJWKSet(data as { keys: JWK[] }), { issuer: TEST_ISSUER, audience: TEST_AUDIENCE });
      expect(payload.roles).to.deep.equal(['operator']);
      // The endpoint takes no parameters.
      const unknown = await anonymous.GET('/.well-known/jwks.json', { params: { query: { kid: 'x' } } } as never);
      expect(unknown.response.status).to.equal(400);
    });

    it('keeps the key it generated across a restart: tokens from before still verify, new ones use the same key', async () => {
      const before = await signIn(OPERATOR.email, OPERATOR.password);
      const kid = decodeProtectedHeader(before.accessToken).kid;
      await svc.stop();
      svc = await startTestService(paymentGatewayService, issuer, { ...env, MONGO_DB: svc.dbName });
      anonymous = clientFor();
      expect((await clientFor(before.accessToken).GET('/me', {})).response.status).to.equal(200);
      const after = await signIn(OPERATOR.email, OPERATOR.password);
      expect(decodeProtectedHeader(after.accessToken).kid).to.equal(kid);
      // The refresh token of before the restart still works too.
      expect((await anonymous.POST('/auth/refresh', { body: { refreshToken: before.refreshToken } })).response.status).to.equal(200);
    });

    it('after a rotation signs with the new key and keeps verifying tokens of the old one', async () => {
      const before = await signIn(OPERATOR.email, OPERATOR.password);
      const oldKid = decodeProtectedHeader(before.accessToken).kid;
      const newKid = await withMongo(async (client) => {
        const keys = await SigningKeys.load(client.db(svc.dbName), undefined, silent, { encryption: { key: parseKek(KEK) } });
        return keys.rotate();
      });
      // Another instance (the rotation above) added the key: this one verifies with it at once.
      await svc.stop();
      svc = await startTestService(paymentGatewayService, issuer, { ...env, MONGO_DB: svc.dbName });
      anonymous = clientFor();
      const after = await signIn(OPERATOR.email, OPERATOR.password);
      expect(decodeProtectedHeader(after.accessToken).kid).to.equal(newKid).and.not.equal(oldKid);
      expect((await clientFor(before.accessToken).GET('/me', {})).response.status).to.equal(200);
      expect((await clientFor(after.accessToken).GET('/me', {})).response.status).to.equal(200);
      const jwks = await anonymous.GET('/.well-known/jwks.json', {});
      expect(jwks.data!.keys.map((k) => k.kid).sort()).to.deep.equal([oldKid, newKid].sort());
    });

    it('stores the private half of a generated key encrypted under SIGNING_KEY_ENCRYPTION_KEY: no `d` in the clear', async () => {
      const records = await withMongo((client) => client.db(svc.dbName).collection('signing_keys').find({}).toArray());
      expect(records.length).to.be.at.least(1);
      const kekId = parseKek(KEK).id;
      for (const record of records) {
        expect(record.origin).to.equal('generated');
        expect(record).not.to.have.property('privateJwk');
        expect(record.kekId).to.equal(kekId);
        expect(decodeProtectedHeader(record.privateJwe as string)).to.deep.include({ alg: 'dir', enc: 'A256GCM', kid: kekId, skid: record.kid });
        // The private key is in the ciphertext, and only there.
        const { plaintext } = await compactDecrypt(record.privateJwe as string, Buffer.from(KEK, 'base64url'));
        const jwk = JSON.parse(new TextDecoder().decode(plaintext)) as JWK;
        expect(jwk).to.include({ x: (record.publicJwk as JWK).x, y: (record.publicJwk as JWK).y });
        expect(jwk.d).to.be.a('string');
        expect(JSON.stringify(record)).not.to.include(jwk.d);
        expect(JSON.stringify(record.publicJwk)).not.to.include('"d"');
      }
    });

    it('refuses to start with another SIGNING_KEY_ENCRYPTION_KEY, or none, naming the variable and showing no key', async () => {
      const records = await withMongo((client) => client.db(svc.dbName).collection('signing_keys').find({}).toArray());
      const { SIGNING_KEY_ENCRYPTION_KEY: _kek, ...withoutKek } = env;
      for (const kek of [OTHER_KEK, undefined]) {
        let failure: unknown;
        try {
          const started = await startTestService(paymentGatewayService, issuer, { ...withoutKek, ...(kek ? { SIGNING_KEY_ENCRYPTION_KEY: kek } : {}), MONGO_DB: svc.dbName });
          await started.stop();
        } catch (err) {
          failure = err;
        }
        const message = (failure as Error | undefined)?.message ?? 'it started';
        expect(message).to.match(/SIGNING_KEY_ENCRYPTION_KEY/);
        expect(message).to.include(parseKek(KEK).id); // which key the records need, by its id
        for (const secret of [KEK, OTHER_KEK, Buffer.from(OTHER_KEK, 'base64').toString('base64url'), ...records.map((r) => r.privateJwe as string)]) {
          expect(message).not.to.include(secret);
        }
      }
      // The records are as they were: the running instance still signs and verifies.
      expect((await clientFor((await signIn(OPERATOR.email, OPERATOR.password)).accessToken).GET('/me', {})).response.status).to.equal(200);
    });

    it('with NODE_ENV=production refuses to start without SIGNING_KEY_ENCRYPTION_KEY when it would generate keys; with SIGNING_KEY it needs none', async () => {
      const dbName = testDatabaseName(`prod_${randomUUID().slice(0, 6)}`);
      // Production also needs the card vault's keys (payments); those are given, so what is missing is the signing key's.
      const vaultKeys = { CARD_VAULT_KEY: randomBytes(32).toString('base64url'), CARD_VAULT_KEY_ID: 'k1', CARD_FINGERPRINT_KEY: randomBytes(32).toString('base64url'), MANDATE_SEAL_KEY: randomBytes(32).toString('base64url') };
      const production = { ...FAST_HASHING, ...vaultKeys, NODE_ENV: 'production', MONGO_DB: dbName };
      try {
        let failure: unknown;
        try {
          const started = await startTestService(paymentGatewayService, issuer, production);
          await started.stop();
        } catch (err) {
          failure = err;
        }
        expect((failure as Error | undefined)?.message).to.match(/SIGNING_KEY_ENCRYPTION_KEY is required with NODE_ENV=production .*Make one with: node -p/);
        expect(await withMongo((client) => client.db(dbName).collection('signing_keys').countDocuments())).to.equal(0);

        const { privateKey } = await generateKeyPair('ES256', { extractable: true });
        const configured = await startTestService(paymentGatewayService, issuer, { ...production, SIGNING_KEY: JSON.stringify(await exportJWK(privateKey)) });
        await configured.stop();
        const records = await withMongo((client) => client.db(dbName).collection('signing_keys').find({}).toArray());
        expect(records.map((r) => r.origin)).to.deep.equal(['configured']);
        expect(records[0]).not.to.have.property('privateJwk');
        expect(records[0]).not.to.have.property('privateJwe');
      } finally {
        await dropDatabase(dbName);
      }
    });

    it('refuses a SIGNING_KEY_ENCRYPTION_KEY that is not 32 bytes of base64, without showing it', () => {
      for (const value of ['c2VjcmV0LXRvby1zaG9ydA', 'not base64 at all!', randomBytes(48).toString('base64')]) {
        let failure: unknown;
        try {
          loadGatewayConfig({ SIGNING_KEY_ENCRYPTION_KEY: value });
        } catch (err) {
          failure = err;
        }
        expect((failure as Error | undefined)?.message).to.match(/SIGNING_KEY_ENCRYPTION_KEY: must be 32 random bytes in base64 or base64url/);
        expect((failure as Error).message).not.to.include(value);
      }
      expect(loadGatewayConfig({ SIGNING_KEY_ENCRYPTION_KEY: KEK }).SIGNING_KEY_ENCRYPTION_KEY!.id).to.equal(parseKek(KEK).id);
      expect(parseKek(OTHER_KEK).id).to.equal(parseKek(Buffer.from(OTHER_KEK, 'base64').toString('base64url')).id); // either alphabet
    });

    it('encrypts keys stored in the clear at the first start with a key-encryption key, and re-encrypts them when it changes (unit)', async () => {
      const dbName = testDatabaseName(`kek_${randomUUID().slice(0, 6)}`);
      const [first, second] = [parseKek(KEK), parseKek(OTHER_KEK)];
      try {
        await withMongo(async (client) => {
          const db = client.db(dbName);
          const stored = () => db.collection('signing_keys').find({}).sort({ _id: 1 }).toArray();
          // Before: a key generated without a key-encryption key, in the clear (as every key was).
          const clear = await SigningKeys.load(db, undefined, silent);
          const token = await clear.sign({ sub: 'usr_x' }, { issuer: 'i', audience: 'a', expiresInS: 600 });
          expect((await stored())[0]).to.have.nested.property('privateJwk.d');

          const sealed = await SigningKeys.load(db, undefined, silent, { encryption: { key: first } });
          expect(sealed.currentKid).to.equal(clear.currentKid);
          let [record] = await stored();
          expect(record).not.to.have.property('privateJwk');
          expect(record).to.include({ kekId: first.id });
          await jwtVerify(token, sealed.getKey); // the same key: tokens from before still verify
          await jwtVerify(await sealed.sign({ sub: 'usr_x' }, { issuer: 'i', audience: 'a', expiresInS: 600 }), clear.getKey);

          // A new key-encryption key, the old one kept as previous: re-encrypted under the new one.
          const rotated = await SigningKeys.load(db, undefined, silent, { encryption: { key: second, previous: [first] } });
          expect(rotated.currentKid).to.equal(clear.currentKid);
          [record] = await stored();
          expect(record).to.include({ kekId: second.id });
          expect(decodeProtectedHeader(record!.privateJwe as string).kid).to.equal(second.id);
          // From now on the new one alone is enough, and the old one alone is not.
          await jwtVerify(token, (await SigningKeys.load(db, undefined, silent, { encryption: { key: second } })).getKey);
          let refused: unknown;
          await SigningKeys.load(db, undefined, silent, { encryption: { key: first } }).catch((err: unknown) => (refused = err));
          expect((refused as Error | undefined)?.message).to.match(new RegExp(`encrypted under key-encryption key ${second.id}.*set SIGNING_KEY_ENCRYPTION_KEY`));

          // A damaged record refuses too, rather than signing with something else.
          const stranger = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
          const other = await encryptPrivateJwk(stranger, record!.kid as string, second);
          await db.collection('signing_keys').updateOne({ _id: record!._id }, { $set: { privateJwe: other } });
          refused = undefined;
          await SigningKeys.load(db, undefined, silent, { encryption: { key: second } }).catch((err: unknown) => (refused = err));
          expect((refused as Error | undefined)?.message).to.match(/decrypts to another key than the record's/);
        });
      } finally {
        await dropDatabase(dbName);
      }
    });

    it('drops a superseded key once every token it signed has expired (unit, with a clock)', async () => {
      const dbName = testDatabaseName(`keys_${randomUUID().slice(0, 6)}`);
      let clock = new Date('2026-01-01T00:00:00Z');
      try {
        await withMongo(async (client) => {
          const db = client.db(dbName);
          // Concurrent first starts agree on one key.
          const starts = await Promise.all(Array.from({ length: 5 }, () => SigningKeys.load(db, undefined, silent, { accessTokenTtlS: 600, now: () => clock })));
          expect(new Set(starts.map((k) => k.currentKid)).size).to.equal(1);
          expect(await db.collection('signing_keys').countDocuments()).to.equal(1);
          const keys = starts[0]!;
          const oldKid = keys.currentKid;
          const token = await keys.sign({ sub: 'usr_x' }, { issuer: 'i', audience: 'a', expiresInS: 600, now: clock });
          const newKid = await keys.rotate();
          expect(newKid).not.to.equal(oldKid);
          expect(keys.jwks().keys.map((k) => k.kid)).to.deep.equal([newKid, oldKid]);
          clock = new Date(clock.getTime() + 600_000); // the old key's last token is just expiring
          expect(keys.jwks().keys.map((k) => k.kid)).to.include(oldKid);
          await jwtVerify(token, keys.getKey, { currentDate: new Date(clock.getTime() - 1_000) });
          clock = new Date(clock.getTime() + 3_600_000);
          expect(keys.jwks().keys.map((k) => k.kid)).to.deep.equal([newKid]);
          let refused: unknown;
          await jwtVerify(token, keys.getKey).catch((err: unknown) => (refused = err));
          expect((refused as Error | undefined)?.name).to.equal('JWKSNoMatchingKey');
        });
      } finally {
        await dropDatabase(dbName);
      }
    });
  });

  describe('the first operator', () => {
    it('comes from configuration, signs in as an operator, and is created once across restarts', async () => {
      const tokens = await signIn(OPERATOR.email, OPERATOR.password);
      expect(decodeJwt(tokens.accessToken).roles).to.deep.equal(['operator']);
      const me = await clientFor(tokens.accessToken).GET('/me', {});
      expect(me.data).to.include({ email: OPERATOR.email, role: 'operator' });
      // The keys tests above restarted the service twice on this database.
      const count = await withMongo((client) => client.db(svc.dbName).collection('users').countDocuments({ email: OPERATOR.email }));
      expect(count).to.equal(1);
    });

    it('is created once when instances start at the same time', async () => {
      const dbName = testDatabaseName(`ops_${randomUUID().slice(0, 6)}`);
      try {
        await withMongo(async (client) => {
          const db = client.db(dbName);
          await ensureIndexes(db, identityIndexes);
          const settings = loadGatewayConfig({ ...FAST_HASHING, OPERATOR_EMAIL: OPERATOR.email, OPERATOR_PASSWORD: OPERATOR.password });
          await Promise.all(Array.from({ length: 5 }, () => ensureFirstOperator(new IdentityRepository(db), settings, silent)));
          expect(await db.collection('users').countDocuments({ role: 'operator' })).to.equal(1);
        });
      } finally {
        await dropDatabase(dbName);
      }
    });

    it('refuses to start with only one of OPERATOR_EMAIL and OPERATOR_PASSWORD', async () => {
      const partials: Record<string, string>[] = [{ OPERATOR_EMAIL: 'half@payspec.test' }, { OPERATOR_PASSWORD: 'a long enough password' }];
      for (const partial of partials) {
        const dbName = testDatabaseName(`half_${randomUUID().slice(0, 6)}`);
        let failure: unknown;
        try {
          const started = await startTestService(paymentGatewayService, issuer, { ...FAST_HASHING, ...partial, MONGO_DB: dbName });
          await started.stop();
        } catch (err) {
          failure = err;
        } finally {
          await dropDatabase(dbName);
        }
        expect((failure as Error | undefined)?.message).to.match(/OPERATOR_EMAIL and OPERATOR_PASSWORD must be set together/);
      }
    });
  });

  describe('events', () => {
    it('announces each registration once as identity.user-registered, with the request\'s correlation id', async () => {
      const correlationId = `corr-${randomUUID()}`;
      const { data } = await anonymous.POST('/auth/sign-up', { body: merchant(), headers: { 'X-Correlation-Id': correlationId } });
      const events = await probe.waitFor((e) => (e.data as { userId?: string }).userId === data!.id, 1);
      expect(events).to.have.length(1);
      expect(events[0]).to.deep.include({ type: 'identity.user-registered', source: 'payspec/payment-gateway', correlationid: correlationId });
      expect(events[0]!.data).to.deep.equal({ userId: data!.id, email: data!.email, role: 'merchant', registeredAt: data!.createdAt });
      const operator = await probe.waitFor((e) => (e.data as { email?: string }).email === OPERATOR.email, 1);
      expect(operator.map((e) => (e.data as { role: string }).role)).to.deep.equal(['operator']);
      // A refused sign-up announces nothing; a second wait shows no duplicate.
      await anonymous.POST('/auth/sign-up', { body: customer({ email: data!.email }) });
      expect(await probe.waitFor((e) => (e.data as { email?: string }).email === data!.email, 2, 1_000)).to.have.length(1);
    });
  });

  describe('short-lived settings (a second instance with a known signing key)', () => {
    let short: TestService;
    let client: PaymentGatewayClient;
    let signingKey: CryptoKey;
    const KID = 'test-signing-key';
    /** The instance's clock: moved forward instead of waiting windows and lifetimes out. */
    let ahead = 0;
    const passes = (ms: number) => void (ahead += ms);

    before(async () => {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      const jwk = { ...(await exportJWK(privateKey)), kid: KID };
      signingKey = (await importJWK(jwk, 'ES256')) as CryptoKey;
      short = await startTestService(paymentGatewayService, issuer, {
        ...FAST_HASHING,
        MONGO_DB: testDatabaseName('payment-gateway-short'),
        SIGNING_KEY: JSON.stringify(jwk),
        REFRESH_TOKEN_TTL_S: '1',
        SIGN_IN_WINDOW_S: '2',
        SIGN_IN_MAX_FAILURES_PER_ACCOUNT: '3',
        SIGN_IN_MAX_FAILURES_PER_CLIENT: '5',
      }, { clock: () => new Date(Date.now() + ahead) });
      client = clientFor(undefined, short);
    });

    after(async () => {
      await short?.stop();
      await short?.drop();
    });

    const signUpHere = async () => {
      const body = customer();
      return { body, user: await signUp(body, client) };
    };
    const attempt = (email: string, password: string) => client.POST('/auth/sign-in', { body: { email, password } });

    it('signs with SIGNING_KEY; expired tokens and tokens for another issuer or audience get 401', async () => {
      const { body, user } = await signUpHere();
      const tokens = await signIn(body.email, PASSWORD, client);
      expect(decodeProtectedHeader(tokens.accessToken).kid).to.equal(KID);
      const sub = user.id;
      // Forged with the real key: accepted when everything else is right, so each refusal below is for its own reason.
      const good = await signWith(signingKey, KID, sub, { roles: ['customer'] });
      expect((await clientFor(good, short).GET('/me', {})).response.status).to.equal(200);
      // A genuine token without a role the operation allows: 403.
      const roleless = await clientFor(await signWith(signingKey, KID, sub, { roles: [] }), short).GET('/me', {});
      expect(roleless.response.status).to.equal(403);
      expect(roleless.error!.code).to.equal('forbidden');
      const refused = {
        expired: await signWith(signingKey, KID, sub, { roles: ['customer'], expiresIn: Math.floor(Date.now() / 1000) - 60 }),
        'other issuer': await signWith(signingKey, KID, sub, { roles: ['customer'], issuer: 'someone-else' }),
        'other audience': await signWith(signingKey, KID, sub, { roles: ['customer'], audience: 'another-api' }),
      };
      for (const [what, token] of Object.entries(refused)) {
        const { response, error } = await clientFor(token, short).GET('/me', {});
        expect(response.status, what).to.equal(401);
        expect(error!.code, what).to.equal(what === 'expired' ? 'token-expired' : 'invalid-token');
      }
    });

    it('refuses an expired refresh token with 401', async () => {
      const { body } = await signUpHere();
      const tokens = await signIn(body.email, PASSWORD, client);
      expect(tokens.refreshExpiresIn).to.equal(1);
      passes(1_100);
      const { response, error } = await client.POST('/auth/refresh', { body: { refreshToken: tokens.refreshToken } });
      expect(response.status).to.equal(401);
      expect(error!.code).to.equal('invalid-refresh-token');
    });

    it('limits failed sign-ins per account: 429 with Retry-After even for the right password, successes not counted, free again after the wait', async () => {
      const { body } = await signUpHere();
      for (let i = 0; i < 4; i++) await signIn(body.email, PASSWORD, client); // successes do not count
      for (let i = 0; i < 3; i++) expect((await attempt(body.email, `wrong password ${i}`)).response.status).to.equal(401);
      const limited = await attempt(body.email.toUpperCase(), PASSWORD);
      expect(limited.response.status).to.equal(429);
      expect(limited.error!.code).to.equal('too-many-sign-in-attempts');
      const retryAfter = Number(limited.response.headers.get('retry-after'));
      expect(retryAfter).to.be.within(1, 2);
      // Another account from the same client is not affected (3 failures < 5 per client).
      const other = await signUpHere();
      await signIn(other.body.email, PASSWORD, client);
      passes(retryAfter * 1_000);
      await signIn(body.email, PASSWORD, client);
    });

    it('lets at most the limit of concurrent wrong guesses at one account through', async () => {
      const { body } = await signUpHere();
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => attempt(body.email, `guess number ${i}`)));
      const statuses = results.map((r) => r.response.status);
      expect(statuses.filter((s) => s === 401).length).to.be.within(1, 3);
      expect(statuses.filter((s) => s === 429).length).to.be.at.least(5);
      expect(statuses.filter((s) => s !== 401 && s !== 429)).to.deep.equal([]);
      passes(2_000); // the window passes for the next test
    });

    it('limits failed sign-ins per client across accounts', async () => {
      const { body } = await signUpHere();
      for (let i = 0; i < 5; i++) expect((await attempt(newEmail('unknown'), 'whatever it is')).response.status).to.equal(401);
      const limited = await attempt(body.email, PASSWORD);
      expect(limited.response.status).to.equal(429);
      expect(Number(limited.response.headers.get('retry-after'))).to.be.within(1, 2);
    });
  });

  describe('sign-up limits (an instance allowing 3 sign-ups per client in 2 s, behind a trusted proxy)', () => {
    let limited: TestService;
    let client: PaymentGatewayClient;
    let ahead = 0; // the instance's clock runs this far ahead: moved instead of waiting the window out
    const from = (address: string, body: Schemas['SignUpRequest']) => client.POST('/auth/sign-up', { body, headers: { 'X-Forwarded-For': address } });

    before(async () => {
      limited = await startTestService(paymentGatewayService, issuer, {
        ...FAST_HASHING,
        MONGO_DB: testDatabaseName('payment-gateway-sign-ups'),
        SIGN_UP_MAX_PER_CLIENT: '3',
        SIGN_UP_WINDOW_S: '2',
        TRUST_PROXY: 'loopback',
      }, { clock: () => new Date(Date.now() + ahead) });
      client = clientFor(undefined, limited);
    });

    after(async () => {
      await limited?.stop();
      await limited?.drop();
    });

    it('counts every sign-up of a client (created, taken, refused): past the limit 429 with Retry-After, free again after the wait', async () => {
      const address = '203.0.113.7';
      const first = customer();
      expect((await from(address, first)).response.status).to.equal(201);
      expect((await from(address, customer({ email: first.email }))).response.status).to.equal(409);
      expect((await from(address, merchant({ business: undefined }))).response.status).to.equal(422);
      const refused = await from(address, customer());
      expect(refused.response.status).to.equal(429);
      expect(refused.response.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(refused.error).to.deep.include({ status: 429, code: 'too-many-sign-ups' });
      const retryAfter = Number(refused.response.headers.get('retry-after'));
      expect(retryAfter).to.be.within(1, 2);
      // Another client address is not affected.
      expect((await from('203.0.113.8', customer())).response.status).to.equal(201);
      ahead += retryAfter * 1_000;
      expect((await from(address, customer())).response.status).to.equal(201);
    });

    it('lets exactly the limit of 10 concurrent sign-ups from one client through', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, () => from('203.0.113.9', customer())));
      const statuses = results.map((r) => r.response.status).sort();
      expect(statuses).to.deep.equal([201, 201, 201, 429, 429, 429, 429, 429, 429, 429]);
    });
  });

  describe('contract tests derived from the spec', () => {
    it('answers every schema-derived invalid identity request with a 4xx problem+json, never a 5xx', async () => {
      const body = customer();
      await signUp(body);
      const tokens = await signIn(body.email);
      const forged = await forgedToken('usr_00000000000000000000000000', ['customer']);
      const valid: Record<string, Parameters<typeof runInvalidRequests>[0]['valid']> = {
        signUp: { body: merchant() },
        signIn: { body: { email: body.email, password: PASSWORD } },
        refreshTokens: { body: { refreshToken: tokens.refreshToken } },
        signOut: { body: { refreshToken: 'y'.repeat(43) } },
        getProfile: {},
        getJwks: {},
      };
      let cases = 0;
      const failures: string[] = [];
      for (const [operationId, request] of Object.entries(valid)) {
        const result = await runInvalidRequests({
          api: 'payment-gateway',
          baseUrl: svc.url,
          spec: spec as OpenApiSpec,
          operationId,
          valid: request,
          tokens: { valid: tokens.accessToken, forged },
          validateResponses: true,
        });
        cases += result.cases;
        failures.push(...result.failures);
      }
      console.log(`      payment-gateway identity: ${cases} schema-derived invalid requests, ${failures.length} failures`);
      expect(failures).to.deep.equal([]);
      expect(cases).to.be.greaterThan(50);
      // None of them used the refresh token up.
      expect((await anonymous.POST('/auth/refresh', { body: { refreshToken: tokens.refreshToken } })).response.status).to.equal(200);
    });

    it('has exercised every identity operation with a success status', function () {
      skipUnlessWholeFileRuns(this); // what this file exercised: only meaningful when all of it ran
      const api = getCoverageSummary().apis.find((a) => a.api === 'payment-gateway');
      expect(api, 'coverage for the payment-gateway API').to.not.equal(undefined);
      const identity = ['signUp', 'signIn', 'refreshTokens', 'signOut', 'getProfile', 'getJwks'];
      const missing = api!.operations.filter((op) => identity.includes(op.operationId) && !op.statuses.some((s) => s.exercised && s.key.startsWith('2')));
      expect(missing.map((op) => op.operationId)).to.deep.equal([]);
      expect(api!.operations.filter((op) => identity.includes(op.operationId))).to.have.length(identity.length);
    });
  });
});
