// The Grafana dashboard (docs/grafana/payspec-dashboard.json) may only query metrics the services
// export: every metric name in its PromQL is checked against the registry the runtime builds
// (metrics.ts: the HTTP, event and runtime gauge definitions), so a renamed metric fails here
// instead of leaving an empty panel.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { createEventMetrics, createMetrics, createRuntimeGauges } from './metrics.js';

const DASHBOARD = new URL('../../docs/grafana/payspec-dashboard.json', import.meta.url);

interface Dashboard {
  templating: { list: { name: string; type: string; query?: unknown }[] };
  panels: { title: string; datasource?: { uid?: string }; targets?: { expr: string; datasource?: { uid?: string } }[] }[];
}

/** Series names the services expose: a histogram's _bucket, _sum and _count, every other metric as named. */
async function exportedSeries(): Promise<Set<string>> {
  const { registry } = createMetrics('dashboard-test');
  createEventMetrics(registry);
  createRuntimeGauges(registry, {
    outboxSize: async () => 0,
    outboxOldestAt: async () => undefined,
    reconcilerBacklogs: async () => ({}),
    parkedDepth: async () => 0,
  });
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
  }
  return names;
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression reads: identifiers outside label matchers, ranges and strings that are not functions or keywords. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?![A-Za-z0-9_:]|\s*\()/g)]
    .map((m) => m[0])
    .filter((word) => !PROMQL_WORDS.has(word.toLowerCase()) && !/^\$/.test(word));
}

describe('Grafana dashboard (docs/grafana/payspec-dashboard.json)', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

  it('reads PromQL the way the check needs: names, not functions, labels or ranges', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, operation) (rate(http_request_duration_seconds_bucket{service=~"$service", x="a{b}"}[$__rate_interval])))')).to.deep.equal([
      'http_request_duration_seconds_bucket',
    ]);
    expect(metricNames('max by (service) (outbox_lag_seconds) or on (service) up')).to.deep.equal(['outbox_lag_seconds', 'up']);
  });

  it('queries only metrics the services export', async () => {
    const exported = await exportedSeries();
    const queried = new Map<string, string>();
    for (const panel of dashboard.panels) {
      expect(panel.targets?.length ?? 0, `panel "${panel.title}" has queries`).to.be.greaterThan(0);
      for (const target of panel.targets!) for (const name of metricNames(target.expr)) queried.set(name, panel.title);
    }
    for (const variable of dashboard.templating.list) {
      const query = JSON.stringify(variable.query ?? '');
      for (const [, metric] of query.matchAll(/label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,/g)) queried.set(metric!, `variable $${variable.name}`);
    }
    const unknown = [...queried].filter(([name]) => !exported.has(name)).map(([name, where]) => `${name} (${where})`);
    expect(unknown, 'metrics the dashboard queries but no service exports').to.deep.equal([]);
    // What the issue asks the dashboard to show, each on some panel.
    for (const name of [
      'http_request_duration_seconds_count',
      'http_request_duration_seconds_bucket',
      'http_server_errors_total',
      'events_published_total',
      'events_consumed_total',
      'outbox_parked_total',
      'outbox_lag_seconds',
      'outbox_pending',
      'reconciler_backlog',
      'events_parked_depth',
    ]) {
      expect([...queried.keys()], `a panel shows ${name}`).to.include(name);
    }
  });

  it('takes its Prometheus from a datasource variable that every panel and query uses', () => {
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable, 'a datasource variable').to.include({ name: 'datasource', query: 'prometheus' });
    for (const panel of dashboard.panels) {
      expect(panel.datasource?.uid, `panel "${panel.title}"`).to.equal('${datasource}');
      for (const target of panel.targets ?? []) expect(target.datasource?.uid, `a query of "${panel.title}"`).to.equal('${datasource}');
    }
  });
});
