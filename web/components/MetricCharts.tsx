"use client";
/**
 * Every logged window metric as a whole-run chart: a chooser with a filter lists every numeric
 * key the records hold; the chosen ones (kept in the URL) are drawn with the trend charts'
 * x-axis, smoothing, comparison, log-scale and zoom.
 */
import { useMemo, useState } from "react";
import { fmtNumber } from "@/lib/format";
import { COLORS } from "@/lib/palette";
import { toggled, type AnalyticsUrl, type SetAnalyticsUrl } from "@/lib/urlState";
import type { HistoryRow } from "@/lib/types";
import { TrendCharts, type ChartSpec, type RunRows } from "./TrendCharts";

const NOT_METRICS = new Set(["window_id", "timestamp", "first_update", "last_update"]);

/** Numeric keys present in the rows (or listed by the service), in a stable grouped order. */
export function metricKeys(rows: HistoryRow[], listed?: string[]): string[] {
  const keys = new Set<string>(listed ?? []);
  for (const r of rows.slice(0, 50)) for (const k of Object.keys(r)) keys.add(k);
  return [...keys].filter((k) => !NOT_METRICS.has(k)).sort((a, b) => a.localeCompare(b));
}

function fmtMetric(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return fmtNumber(v, a < 1 ? 4 : 2);
}

export function metricSpec(key: string): ChartSpec {
  return { id: key, title: key, keys: [{ key, label: key, color: COLORS.eval }], formatY: fmtMetric };
}

interface MetricChartsProps {
  runs: RunRows[];
  keys: string[];
  highlight: HistoryRow | null;
  url: AnalyticsUrl;
  setUrl: SetAnalyticsUrl;
}

export function MetricCharts({ runs, keys, highlight, url, setUrl }: MetricChartsProps) {
  const [filter, setFilter] = useState("");
  const shownKeys = keys.filter((k) => k.toLowerCase().includes(filter.trim().toLowerCase()));
  const chosen = url.metrics.filter((k) => keys.includes(k));
  const specs = useMemo(() => chosen.map(metricSpec), [chosen.join("|")]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <div className="metric-charts">
      <details className="metric-chooser" open>
        <summary>
          Metrics: {chosen.length} of {keys.length} charted
        </summary>
        <div className="row">
          <label htmlFor="metric-filter">Filter</label>
          <input id="metric-filter" type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="e.g. loss, eval/, kl" />
          <button type="button" className="btn btn-small" onClick={() => setUrl({ metrics: [...new Set([...url.metrics, ...shownKeys])] })}>
            Chart all {shownKeys.length} shown
          </button>
          <button type="button" className="btn btn-small" onClick={() => setUrl({ metrics: url.metrics.filter((k) => !shownKeys.includes(k)) })}>
            Clear shown
          </button>
        </div>
        <ul className="metric-list" aria-label="Metrics">
          {shownKeys.map((k) => (
            <li key={k}>
              <label>
                <input type="checkbox" checked={url.metrics.includes(k)} onChange={() => setUrl({ metrics: toggled(url.metrics, k) })} /> {k}
              </label>
            </li>
          ))}
        </ul>
      </details>
      {specs.length > 0 ? (
        <TrendCharts runs={runs} highlight={highlight} url={url} setUrl={setUrl} csvUrl={null} specs={specs} idPrefix="m:" />
      ) : (
        <p className="muted">Choose metrics above to chart them.</p>
      )}
    </div>
  );
}
