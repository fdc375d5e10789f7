// The console's own settings (besides the common ones): where the APIs it passes through run.
// Each defaults to the service's local address from the registry (`make run`).
import { url } from 'envalid';
import { loadConfig } from '../common/config.js';
import { SERVICES } from '../registry.js';

/** The APIs the console's pages call, under /api/<name>/, and the variable naming each one's address. */
export const CONSOLE_APIS = ['payment-gateway', 'contract', 'billing', 'voucher', 'invoice-mailer'] as const;
export type ConsoleApi = (typeof CONSOLE_APIS)[number];

/** PAYMENT_GATEWAY_URL for payment-gateway, and so on. */
export const upstreamVariable = (api: ConsoleApi) => `${api.toUpperCase().replace(/-/g, '_')}_URL`;

export function consoleSpecs() {
  return Object.fromEntries(
    CONSOLE_APIS.map((api) => {
      const port = SERVICES.find((s) => s.name === api)?.port;
      return [upstreamVariable(api), url({ default: `http://127.0.0.1:${port}`, desc: `Where the ${api} API runs; the console passes /api/${api}/… to it` })];
    }),
  ) as Record<string, ReturnType<typeof url>>;
}

export function loadConsoleConfig(env: NodeJS.ProcessEnv): Record<ConsoleApi, string> {
  const config = loadConfig(consoleSpecs(), env) as Record<string, string>;
  return Object.fromEntries(CONSOLE_APIS.map((api) => [api, config[upstreamVariable(api)]!])) as Record<ConsoleApi, string>;
}
