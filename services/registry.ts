// Every service of the platform, once: its name, port and spec. `make run`
// (tools/dev/platform.ts) starts these; docker-compose.yml and the README's table of services
// list the same, and services/registry.test.ts fails when any of them disagrees — or when a
// service's own definition (main.ts) names another port.
export interface ServiceEntry {
  name: string;
  /** Its default PORT (its ServiceDefinition's defaultPort). */
  port: number;
  /** The entry point `make run` and the image start: `services/<name>/main.ts` unless it lives elsewhere. */
  entry: string;
  spec: string;
  /**
   * When the service runs as several differently configured processes (one per simulated bank):
   * each one. The first is on the service's default port. Without it, one instance named after
   * the service.
   */
  instances?: readonly ServiceInstance[];
}

/** One running process of a service: how `make run` and docker-compose.yml name and start it. */
export interface ServiceInstance {
  name: string;
  port: number;
  /** Its own settings, on top of the platform's. */
  env: Readonly<Record<string, string>>;
}

export const SERVICES: readonly ServiceEntry[] = [
  { name: 'payment-gateway', port: 8080, entry: 'services/payment-gateway/main.ts', spec: 'specs/payment-gateway.yaml' },
  { name: 'contract', port: 8081, entry: 'services/contract/main.ts', spec: 'specs/contract.yaml' },
  { name: 'billing', port: 8082, entry: 'services/billing/main.ts', spec: 'specs/billing.yaml' },
  { name: 'voucher', port: 8083, entry: 'services/voucher/main.ts', spec: 'specs/voucher.yaml' },
  { name: 'invoice-mailer', port: 8084, entry: 'services/invoice-mailer/main.ts', spec: 'specs/invoice-mailer.yaml' },
  { name: 'console', port: 8085, entry: 'services/console/main.ts', spec: 'specs/console.yaml' },
  {
    name: 'acquiring-bank',
    port: 8090,
    entry: 'services/simulators/acquiring-bank/main.ts',
    spec: 'specs/acquiring-bank.yaml',
    // Each instance is one bank; a second bank is a second instance on another port.
    instances: [
      { name: 'piggy-bank', port: 8090, env: { BANK_NAME: 'piggy-bank' } },
      { name: 'acme-acquiring', port: 8091, env: { BANK_NAME: 'acme-acquiring' } },
    ],
  },
  { name: 'voucher-provider', port: 8092, entry: 'services/simulators/voucher-provider/main.ts', spec: 'specs/voucher-provider.yaml' },
];

/** The processes a service runs as: its instances, or itself alone. */
export function instancesOf(entry: ServiceEntry): readonly ServiceInstance[] {
  return entry.instances ?? [{ name: entry.name, port: entry.port, env: {} }];
}
