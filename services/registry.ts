// Every service of the platform, once: its name, port and spec. `make run`
// (tools/dev/platform.ts) starts these; docker-compose.yml and the README's table of services
// list the same, and services/registry.test.ts fails when any of them disagrees — or when a
// service's own definition (main.ts) names another port.
export interface ServiceEntry {
  name: string;
  /** Its default PORT (its ServiceDefinition's defaultPort). */
  port: number;
  /** The entry point `make run` and the image start: `services/<name>/main.ts`. */
  entry: string;
  spec: string;
}

export const SERVICES: readonly ServiceEntry[] = [
  { name: 'payment-gateway', port: 8080, entry: 'services/payment-gateway/main.ts', spec: 'specs/payment-gateway.yaml' },
  { name: 'contract', port: 8081, entry: 'services/contract/main.ts', spec: 'specs/contract.yaml' },
];
