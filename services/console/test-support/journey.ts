// What the console's journey tests share: the platform and a browser for the whole file, and
// accounts made through the gateway's generated client (the journeys sign up in the browser
// where signing up is the point, and through the API where it is only the setup).
import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { createPaymentGatewayClient } from '../../../generated/payment-gateway/client.js';
import { launchBrowser } from '../../../tools/testing/browser.js';
import { type Platform, platform, stopPlatform } from '../../../tools/testing/platform.js';

export interface JourneyContext {
  platform: Platform;
  browser: Browser;
  /** The console's address. */
  consoleUrl: string;
}

/**
 * Call in a describe: starts the platform and a browser before, stops both after. Each journey
 * gets a platform of its own: billing runs once per period and database, and more than one
 * journey bills this month.
 */
export function useJourney(): JourneyContext {
  const context = {} as JourneyContext;
  before(async function () {
    this.timeout(180_000);
    context.platform = await platform();
    context.consoleUrl = context.platform.url('console');
    context.browser = await launchBrowser();
  });
  after(async function () {
    this.timeout(60_000);
    await context.browser?.close();
    await stopPlatform();
  });
  return context;
}

export const PASSWORD = 'correct horse battery';

/** An address and a phone number no other test uses (the gateway refuses a second account with either). */
export function uniqueContact(label: string): { email: string; phone: string } {
  const id = randomUUID().replace(/-/g, '');
  const digits = BigInt(`0x${id.slice(0, 12)}`).toString().slice(-9);
  return { email: `${label}-${id.slice(0, 12)}@example.com`, phone: `+447${digits}` };
}

/** Signs a user up through the gateway's API; its id. */
export async function signUpUser(platform: Platform, user: { role: 'customer' | 'merchant'; email: string; phone: string; firstName: string; lastName: string }): Promise<string> {
  const gateway = createPaymentGatewayClient({ baseUrl: platform.url('payment-gateway') });
  const { data, error } = await gateway.POST('/auth/sign-up', {
    body: { ...user, password: PASSWORD, ...(user.role === 'merchant' ? { business: { name: `${user.firstName}'s shop`, acquiringBank: 'piggy-bank' as const } } : {}) },
  });
  if (!data) throw new Error(`sign-up of ${user.email} failed: ${JSON.stringify(error)}`);
  return data.id;
}

/** Signs in through the API; the access token (for setting up through other APIs). */
export async function accessTokenFor(platform: Platform, email: string, password = PASSWORD): Promise<string> {
  const gateway = createPaymentGatewayClient({ baseUrl: platform.url('payment-gateway') });
  const { data, error } = await gateway.POST('/auth/sign-in', { body: { email, password } });
  if (!data) throw new Error(`sign-in of ${email} failed: ${JSON.stringify(error)}`);
  return data.accessToken;
}
