"use client";
/** /analytics: run picker, KPIs, chosen-iteration panel and whole-run trends, each card failing alone. */
import { useCallback, useEffect, useMemo, useState } from "react";
import { api as defaultApi, type ApiClient } from "@/lib/api";
import { POLL_MS } from "@/lib/config";
import type { Source } from "@/lib/types";
import { useApi, usePoll } from "@/lib/useApi";
import { Card, ErrorNotice, StaleBanner } from "./Card";
import { IterationPanel } from "./IterationPanel";
import { IterationSelect } from "./IterationSelect";
import { KpiCards, kpisFromRow } from "./KpiCards";
import { RunPicker } from "./RunPicker";
import { TrendCharts } from "./TrendCharts";

interface UrlState {
  source: Source | null;
  run: string | null;
  iteration: number | null;
}

function readUrl(): UrlState {
  const p = new URLSearchParams(window.location.search);
  const src = p.get("source");
  const it = p.get("iteration");
  return {
    source: src === "local" || src === "wandb" ? src : null,
    run: p.get("run"),
    iteration: it !== null && /^\d+$/.test(it) ? Number(it) : null,
  };
}

function writeUrl(s: UrlState): void {
  const p = new URLSearchParams();
  if (s.source) p.set("source", s.source);
  if (s.run) p.set("run", s.run);
  if (s.iteration !== null) p.set("iteration", String(s.iteration));
  const q = p.toString();
  window.history.replaceState(null, "", q ? `?${q}` : window.location.pathname);
}

export function AnalyticsDashboard({ client = defaultApi, pollMs = POLL_MS }: { client?: ApiClient; pollMs?: number }) {
  const [url, setUrl] = useState<UrlState | null>(null);
  useEffect(() => setUrl(readUrl()), []);

  const health = useApi(url && !url.source ? "health" : null, () => client.health());
  const source: Source | null = url?.source ?? (health.data ? health.data.default_source : health.error ? "local" : null);

  const runs = useApi(source ? `runs:${source}` : null, () => client.runs(source as Source, 10));
  const runId = url?.run ?? runs.data?.runs[0]?.run_id ?? null;
  const runItem = runs.data?.runs.find((r) => r.run_id === runId) ?? null;

  const k = source && runId ? `${source}:${runId}` : null;
  const summary = useApi(k, () => client.summary(source as Source, runId as string));
  // Only a live run is polled: a crashed or stalled one (docs/API.md, run liveness) is not.
  const running = (summary.data?.run.state ?? runItem?.state) === "running";
  const poll = running ? pollMs : null;
  usePoll(runs.reload, poll);
  usePoll(summary.reload, poll);
  const iterations = useApi(k, () => client.iterations(source as Source, runId as string, 10), poll);
  const history = useApi(k, () => client.history(source as Source, runId as string, 1000), poll);

  const chosen = url?.iteration ?? null;
  const latestWindow = iterations.data?.iterations[0]?.window_id ?? summary.data?.kpis.window_id ?? null;
  const windowId = chosen ?? latestWindow;
  // While following the latest window of a running run, the old panel stays until the new one is in.
  const iteration = useApi(
    k && windowId !== null ? `${k}:${windowId}` : null,
    () => client.iteration(source as Source, runId as string, windowId as number),
    null,
    chosen === null && running && k ? `${k}:` : null,
  );

  const update = useCallback((patch: Partial<UrlState>) => {
    setUrl((u) => {
      const next = { ...(u ?? { source: null, run: null, iteration: null }), ...patch };
      writeUrl(next);
      return next;
    });
  }, []);

  const chosenRow = useMemo(() => {
    if (chosen === null) return null;
    return iterations.data?.iterations.find((r) => r.window_id === chosen) ?? iteration.data?.row ?? null;
  }, [chosen, iterations.data, iteration.data]);
  const highlightRow = chosenRow ?? iteration.data?.row ?? iterations.data?.iterations[0] ?? null;
  const kpis = chosenRow ? kpisFromRow(chosenRow) : (summary.data?.kpis ?? null);

  // Until the run is known, cards wait on it (skeletons), unless finding it failed.
  const waiting = k === null && !runs.error && !health.error;
  // Without a run, every card shows why (the runs list or health failed) and retries that.
  const upstreamError = k === null ? (runs.error ?? health.error ?? null) : null;
  const retryUpstream = () => {
    health.reload();
    runs.reload();
  };
  const payloads = [runs.data, summary.data, iterations.data, history.data, iteration.data];
  const stalePayload = payloads.find((p) => p?.stale);

  if (url === null) return <DashboardSkeleton />;

  const noRuns = runs.data && runs.data.runs.length === 0;
  return (
    <div className="dashboard">
      {stalePayload ? <StaleBanner fetchedAt={stalePayload.fetched_at} /> : null}
      <div className="toolbar card" data-testid="toolbar">
        <div className="source-picker">
          <label htmlFor="source-select">Source</label>
          <select
            id="source-select"
            value={source ?? ""}
            onChange={(e) => update({ source: e.target.value as Source, run: null, iteration: null })}
          >
            {source === null ? <option value="">…</option> : null}
            <option value="local">local run records</option>
            <option value="wandb">Weights &amp; Biases</option>
          </select>
        </div>
        {runs.data && runs.data.runs.length > 0 ? (
          <RunPicker runs={runs.data.runs} value={runId} onChange={(id) => update({ run: id, iteration: null })} />
        ) : null}
        <IterationSelect
          iterations={iterations.data?.iterations ?? []}
          value={windowId}
          onChange={(w) => update({ iteration: w === latestWindow && chosen === null ? null : w })}
        />
        {chosen !== null ? (
          <button type="button" className="btn btn-small" onClick={() => update({ iteration: null })}>
            Follow latest
          </button>
        ) : null}
        {runs.error && k !== null ? <ErrorNotice error={runs.error} onRetry={runs.reload} /> : null}
      </div>
      {noRuns ? (
        <div className="card">
          <h2>No runs yet</h2>
          <p>
            Start one with <code>make run</code>; it appears here as soon as its first window is written.
          </p>
        </div>
      ) : (
        <>
          <Card
            title={chosen !== null ? `KPIs at window ${chosen}` : "Latest KPIs"}
            loading={waiting || summary.loading || (chosen !== null && iterations.loading)}
            error={summary.error ?? upstreamError}
            onRetry={upstreamError ? retryUpstream : summary.reload}
            hasData={true}
            testId="kpi-card"
          >
            <KpiCards
              kpis={kpis}
              loading={waiting || summary.loading}
              context={chosen !== null ? `window ${chosen} (chosen)` : "latest window"}
            />
          </Card>
          <Card
            title={windowId !== null ? `Iteration ${windowId}` : "Iteration"}
            loading={waiting || iteration.loading || iterations.loading}
            error={iteration.error ?? iterations.error ?? upstreamError}
            onRetry={
              upstreamError
                ? retryUpstream
                : () => {
                    iterations.reload();
                    iteration.reload();
                  }
            }
            hasData={iteration.data !== null}
            skeletonLines={6}
            testId="iteration-card"
          >
            {iteration.data ? <IterationPanel data={iteration.data} /> : null}
          </Card>
          <Card
            title="Whole run"
            loading={waiting || history.loading}
            error={history.error ?? upstreamError}
            onRetry={upstreamError ? retryUpstream : history.reload}
            hasData={history.data !== null}
            skeletonLines={8}
            testId="history-card"
            actions={
              history.data ? (
                <span className="muted">
                  {history.data.rows.length} of {history.data.total_rows} windows
                  {history.data.downsampled ? " (downsampled)" : ""}
                </span>
              ) : null
            }
          >
            {history.data && runId ? <TrendCharts runId={runId} rows={history.data.rows} highlight={highlightRow} /> : null}
          </Card>
        </>
      )}
    </div>
  );
}

function DashboardSkeleton() {
  return (
    <div className="dashboard" aria-busy="true">
      <div className="card">
        <div className="skeleton-line" style={{ width: "60%" }} />
      </div>
    </div>
  );
}
