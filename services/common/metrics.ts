// Prometheus metrics: one registry per service, so several services can share a process in tests.
import type { RequestHandler } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
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
