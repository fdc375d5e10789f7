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

export class PasswordHasher {
  private dummy?: Promise<string>;

  constructor(private readonly settings: HashSettings) {}

  hash(password: string): Promise<string> {
    return argon2.hash(password, {
      type: argon2.argon2id,
      memoryCost: this.settings.ARGON2_MEMORY_KIB,
      timeCost: this.settings.ARGON2_TIME_COST,
      parallelism: 1,
    });
  }

  /** False for a wrong password and for a hash that cannot be read. */
  async verify(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  }

  /**
   * Spends the time a verification takes when there is no account to check against, so an
   * unknown e-mail cannot be told from a wrong password by the response time.
   */
  async verifyNothing(password: string): Promise<false> {
    this.dummy ??= this.hash('not a password anyone has: the dummy for unknown accounts');
    await this.verify(await this.dummy, password);
    return false;
  }
}
