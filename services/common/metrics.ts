// Prometheus metrics: one registry per service, so several services can share a process in tests.
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { matchedOperationId } from './http/operation-router.js';

export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const requests = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by operation (the spec\'s operationId; the route template for the runtime\'s own routes) and status',
    labelNames: ['method', 'operation', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'http_server_errors_total',
    help: '5xx answers by operation',
    labelNames: ['operation'] as const,
    registers: [registry],
  });

  const middleware: RequestHandler = (req, res, next) => {
    const end = requests.startTimer();
    res.on('finish', () => {
      // The operationId (or the route template of /health, /metrics…), never the raw path, keeps
      // the label set small. Operations are matched by the spec, not by Express routes.
      const operation = matchedOperationId(req) ?? (req.route?.path as string | undefined) ?? 'unmatched';
      end({ method: req.method, operation, status: String(res.statusCode) });
      if (res.statusCode >= 500) errors.inc({ operation });
    });
    next();
  };
  return { registry, middleware };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The event bus's counters, registered beside the HTTP metrics of the same service. */
export function createEventMetrics(registry: Registry) {
  return {
    published: new Counter({
      name: 'events_published_total',
      help: 'Events published and confirmed by the broker, by type',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    consumed: new Counter({
      name: 'events_consumed_total',
      help: 'Deliveries by type and outcome: handled, duplicate (skipped by the inbox), deferred (being handled elsewhere), retried, parked',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    }),
    outboxParked: new Counter({
      name: 'outbox_parked_total',
      help: 'Events the bus refused at publish (their schema) and the outbox set aside, by type',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
  };
}

export type EventMetrics = ReturnType<typeof createEventMetrics>;

/** What the runtime's gauges read when /metrics is scraped (bootstrap.ts wires them to the outbox, reconcilers and bus). */
export interface RuntimeGaugeReads {
  outboxSize(): Promise<number>;
  outboxOldestAt(): Promise<Date | undefined>;
  /** Pending items per declared reconciler, by its name. */
  reconcilerBacklogs(): Promise<Record<string, number>>;
  parkedDepth(): Promise<number>;
}

/** The gauges of what is pending: counts of small sets, read at scrape time (nothing to keep up to date). */
export function createRuntimeGauges(registry: Registry, reads: RuntimeGaugeReads): void {
  registry.registerMetric(gauge('outbox_pending', "Events written but not yet confirmed by the broker (the outbox's size)", reads.outboxSize));
  registry.registerMetric(
    gauge('outbox_lag_seconds', 'Age of the oldest event waiting in the outbox, in seconds (0 when none waits)', async () => {
      const oldest = await reads.outboxOldestAt();
      return oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0;
    }),
  );
  registry.registerMetric(labelledGauge('reconciler_backlog', 'Pending work items per reconciler, young ones included', 'reconciler', reads.reconcilerBacklogs));
  registry.registerMetric(gauge('events_parked_depth', "Messages waiting in this service's parking queue (make parked lists them)", reads.parkedDepth));
}

/** A gauge read when /metrics is scraped (NaN when the read fails: the scrape itself still answers). */
function gauge(name: string, help: string, read: () => Promise<number>): Gauge {
  return new Gauge({
    name,
    help,
    registers: [],
    async collect() {
      this.set(await read().catch(() => Number.NaN));
    },
  });
}

/** A gauge with one label, every value read when /metrics is scraped (one NaN series when the read fails). */
function labelledGauge(name: string, help: string, label: string, read: () => Promise<Record<string, number>>): Gauge<string> {
  return new Gauge({
    name,
    help,
    labelNames: [label],
    registers: [],
    async collect() {
      const values = await read().catch(() => undefined);
      this.reset();
      if (!values) return this.set(Number.NaN);
      for (const [value, count] of Object.entries(values)) this.set({ [label]: value }, count);
    },
  });
}
