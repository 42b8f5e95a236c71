"use client";
/**
 * Every logged window metric as a whole-run chart: a chooser with a filter lists every numeric
 * key the records hold; the chosen ones (kept in the URL) are drawn with the trend charts'
 * x-axis, smoothing, comparison, log-scale and zoom.
 */
import { useMemo, useRef, useState } from "react";
import type { ApiClient } from "@/lib/api";
import { useApi } from "@/lib/useApi";
import { useHistories } from "@/lib/useHistories";
import { useInView } from "@/lib/useInView";
import { fmtNumber } from "@/lib/format";
import { COLORS } from "@/lib/palette";
import { toggled, type AnalyticsUrl, type SetAnalyticsUrl } from "@/lib/urlState";
import type { HistoryRow, Source } from "@/lib/types";
import { ErrorNotice, Skeleton } from "./Card";
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
  client: ApiClient;
  source: Source;
  /** The charted runs (page run first) with their labels and colours. */
  runs: Omit<RunRows, "rows">[];
  /** While a charted run is running: re-fetch its metrics (and the key list) every pollMs. */
  pollMs?: number | null;
  highlight: HistoryRow | null;
  url: AnalyticsUrl;
  setUrl: SetAnalyticsUrl;
}

/**
 * Loads nothing until the card nears the viewport: then the key list (a 2-row history) and, per
 * charted run, the history of just the chosen metrics (so each gets the finest min-max buckets).
 * While a charted run is running, both are polled like the other cards.
 */
export function MetricCharts({ client, source, runs, pollMs = null, highlight, url, setUrl }: MetricChartsProps) {
  const ref = useRef<HTMLDivElement>(null);
  const visible = useInView(ref);
  const first = runs[0]?.runId ?? null;
  // New keys can appear while a run trains (e.g. the first evaluation's), so the list is polled too.
  const probe = useApi(visible && first ? `keys:${source}:${first}` : null, () => client.history(source, first as string, 2), pollMs);
  const keys = useMemo(() => metricKeys(probe.data?.rows ?? [], probe.data?.keys), [probe.data]);
  const wanted = url.metrics.filter((k) => keys.includes(k));
  const hist = useHistories(client, source, visible && keys.length ? runs.map((r) => r.runId) : [], ["env_steps", "wall_time_s", ...wanted], pollMs);
  const rowsRuns: RunRows[] = useMemo(
    () => runs.flatMap((r) => (hist.byRun[r.runId] ? [{ ...r, rows: hist.byRun[r.runId].rows }] : [])),
    [runs, hist.byRun],
  );
  const [filter, setFilter] = useState("");
  const shownKeys = keys.filter((k) => k.toLowerCase().includes(filter.trim().toLowerCase()));
  const chosen = wanted;
  const specs = useMemo(() => chosen.map(metricSpec), [chosen.join("|")]); // eslint-disable-line react-hooks/exhaustive-deps
  const loaded = rowsRuns.length > 0 && chosen.every((k) => rowsRuns[0].rows.length === 0 || k in rowsRuns[0].rows[0]);
  if (!probe.data) {
    // Not scrolled near yet, or the key list is loading: say so, never "0 metrics".
    return (
      <div className="metric-charts" ref={ref} aria-busy={!probe.error} data-testid="metrics-pending">
        {probe.error ? <ErrorNotice error={probe.error} onRetry={probe.reload} /> : <Skeleton lines={3} />}
      </div>
    );
  }
  return (
    <div className="metric-charts" ref={ref} aria-busy={!loaded}>
      {Object.entries(hist.errors).map(([id, e]) => (
        <ErrorNotice key={id} error={e} />
      ))}
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
      {specs.length > 0 && !loaded ? <Skeleton lines={4} /> : null}
      {specs.length > 0 && loaded ? (
        <TrendCharts runs={rowsRuns} highlight={highlight} url={url} setUrl={setUrl} csvUrl={null} specs={specs} idPrefix="m:" />
      ) : specs.length === 0 ? (
        <p className="muted">Choose metrics above to chart them.</p>
      ) : null}
    </div>
  );
}
