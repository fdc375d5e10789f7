// The chart of the scale section (docs/benchmarks-scale.svg): each route's req/s and p50 latency at
// each record count, one line per route, drawn by vega-lite + vega in Node (no canvas, no browser).
// The same results give the same SVG.
import * as vega from 'vega';
import { type TopLevelSpec, compile } from 'vega-lite';
import type { Row } from './results.js';

interface Point {
  route: string;
  records: string;
  /** The records' position on the axis. */
  order: number;
  rate: number | null;
  p50: number | null;
}

/**
 * Two panels over the record counts of `scales` (labels as the rows' groups, in order): the rate
 * per second of every row (requests, finds, events) and the p50 latency of those that have one.
 * Both on log scales (bare Express runs at thousands per second, the list routes below one); a p50
 * under a millisecond (autocannon's resolution) is left out of the latency panel.
 */
export async function scaleChartSvg(rows: Row[], groups: string[]): Promise<string> {
  const points: Point[] = rows
    .filter((r) => r.group !== undefined && groups.includes(r.group))
    .map((r) => ({
      // Measures keep their first words: `findOne({_id}) on wallet_ledger (finds)`.
      route: r.unit === 'req' ? r.name : `${r.name.replace(/ \(.*$/, '').replace(/,.*$/, '')} (${r.unit})`,
      records: r.group!,
      order: groups.indexOf(r.group!),
      rate: r.rate > 0 ? r.rate : null,
      p50: r.p50 !== undefined && r.p50 > 0 ? r.p50 : null,
    }));
  const routes = [...new Set(points.map((p) => p.route))];
  const x = { field: 'records', type: 'ordinal', sort: groups, title: 'records of each kind stored', axis: { labelAngle: 0 } } as const;
  const color = { field: 'route', type: 'nominal', sort: routes, title: 'route or measure', scale: { scheme: 'tableau20' }, legend: { labelLimit: 420, orient: 'bottom', columns: 2 } } as const;
  const panel = (field: 'rate' | 'p50', title: string) => ({
    width: 380,
    height: 300,
    title,
    transform: [{ filter: `datum.${field} !== null` }],
    mark: { type: 'line', point: true },
    encoding: {
      x,
      y: { field, type: 'quantitative', scale: { type: 'log' }, title: field === 'rate' ? 'per second (log)' : 'p50 ms (log)' },
      color,
      tooltip: [{ field: 'route' }, { field: 'records' }, { field, format: '.3~s' }],
    },
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Scale: each route as the stored records grow', subtitle: 'docs/benchmarks.md, scale section — one line per route; log scales' },
    data: { values: points },
    hconcat: [panel('rate', 'Throughput'), panel('p50', 'Latency (p50)')],
    resolve: { scale: { color: 'shared' } },
    config: { font: 'Helvetica, Arial, sans-serif', background: 'white' },
  } as unknown as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
