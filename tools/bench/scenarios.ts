// Running one benchmark scenario: its wall time and the machine's load around it, a failure kept as
// data (the other scenarios still run), and a scenario script run on its own for development
// (`npx tsx tools/bench/gateway.ts`: it prints its section of docs/benchmarks.md and leaves the file alone).
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type { Scenario } from './results.js';
import { failedRows } from './results.js';
import type { BillingDetails } from './billing.js';
import type { EventsDetails } from './events.js';
import type { FloorDetails } from './floor.js';
import type { GatewayDetails } from './gateway.js';
import type { PaymentsDetails } from './payments.js';
import type { HttpDetails } from './run.js';
import type { ScaleDetails } from './scale.js';
import type { VoucherDetails } from './voucher.js';

/** Each scenario's own figures, by its id (also the order `make bench` runs them in). */
export interface DetailsOf {
  http: HttpDetails;
  events: EventsDetails;
  gateway: GatewayDetails;
  scale: ScaleDetails;
  payments: PaymentsDetails;
  floor: FloorDetails;
  billing: BillingDetails;
  voucher: VoucherDetails;
}
export type ScenarioId = keyof DetailsOf;
export const SCENARIO_IDS: ScenarioId[] = ['http', 'events', 'gateway', 'scale', 'payments', 'floor', 'billing', 'voucher'];

export interface Timing {
  /** ISO date, seconds. */
  startedAt: string;
  seconds: number;
  /** 1-minute load average before and after. */
  loadBefore: number;
  loadAfter: number;
}

export type Outcome =
  | { [K in ScenarioId]: { id: K; ok: true; result: Scenario<DetailsOf[K]>; timing: Timing } }[ScenarioId]
  | { id: ScenarioId; ok: false; error: string; timing: Timing };

export const isoSeconds = (date: Date) => date.toISOString().replace(/\.\d+Z$/, 'Z');

/** Runs one scenario, timing it; a throw becomes a failed outcome (its cleanup has run by then). */
export async function runScenario<K extends ScenarioId>(id: K, run: () => Promise<Scenario<DetailsOf[K]>>): Promise<Outcome> {
  const started = new Date();
  const loadBefore = loadavg()[0]!;
  const timing = () => ({ startedAt: isoSeconds(started), seconds: (Date.now() - started.getTime()) / 1000, loadBefore, loadAfter: loadavg()[0]! });
  try {
    const result = await run();
    return { id, ok: true, result, timing: timing() } as Outcome;
  } catch (err) {
    console.error(`[bench] ${id} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return { id, ok: false, error: err instanceof Error ? err.message : String(err), timing: timing() };
  }
}

/** Whether the module at `url` is the script node was started with (not imported by all.ts). */
export function isMain(url: string): boolean {
  const script = process.argv[1];
  return script !== undefined && resolve(script) === fileURLToPath(url);
}

/**
 * A scenario script run on its own: runs it, prints its section as `make bench` would write it
 * (docs/benchmarks.md is left alone), exits 1 if it failed or any measured request failed.
 * Called without a top-level await (`void runAlone(…)`): doc.ts imports every scenario module,
 * the script's own included, which must have finished evaluating by then.
 */
export async function runAlone<K extends ScenarioId>(id: K, run: () => Promise<Scenario<DetailsOf[K]>>): Promise<void> {
  const outcome = await runScenario(id, run);
  const { renderScenario } = await import('./doc.js');
  console.log(`\n${renderScenario(outcome)}\n`);
  // Whatever a library left open (a timer, a socket) must not keep the script waiting.
  process.exit(!outcome.ok || failedRows(outcome.result.rows).length > 0 ? 1 : 0);
}
