// Password hashing (argon2id, parameters from configuration) and the password rules the
// schema cannot say. A hash or a password is never logged or returned.
import argon2 from 'argon2';

export interface HashSettings {
  ARGON2_MEMORY_KIB: number;
  ARGON2_TIME_COST: number;
}

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;

/** E-mail addresses are compared case-insensitively: stored and looked up in this form. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Why a password is refused, or undefined when it is acceptable (length is also in the spec). */
export function passwordProblem(password: string, email: string): { code: string; message: string } | undefined {
  if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    return { code: 'password-length', message: `must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters` };
  }
  if (normalizeEmail(password) === normalizeEmail(email)) return { code: 'password-is-email', message: 'must not be the e-mail address' };
  return undefined;
}

/** The two argon2 calls hashing makes: injectable, so a test can see which verifications run. */
export interface Argon2 {
  hash(password: string, options: { type: 2; memoryCost: number; timeCost: number; parallelism: number }): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}

export class PasswordHasher {
  private dummy?: Promise<string>;

  constructor(
    private readonly settings: HashSettings,
    private readonly argon: Argon2 = argon2,
  ) {}

  hash(password: string): Promise<string> {
    return this.argon.hash(password, {
      type: argon2.argon2id,
      memoryCost: this.settings.ARGON2_MEMORY_KIB,
      timeCost: this.settings.ARGON2_TIME_COST,
      parallelism: 1,
    });
  }

  /** False for a wrong password and for a hash that cannot be read. */
  verify(hash: string, password: string): Promise<boolean> {
    return this.check(hash, password);
  }

  /**
   * Spends the time a verification takes when there is no account to check against, so an
   * unknown e-mail cannot be told from a wrong password by the response time: one argon2
   * verification, as for a known account, against a dummy hash made with the same parameters
   * as every password's (made once, on first use).
   */
  async verifyNothing(password: string): Promise<false> {
    this.dummy ??= this.hash('not a password anyone has: the dummy for unknown accounts');
    await this.check(await this.dummy, password);
    return false;
  }

  private async check(hash: string, password: string): Promise<boolean> {
    try {
      return await this.argon.verify(hash, password);
    } catch {
      return false;
    }
  }
}
