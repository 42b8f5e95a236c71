"use client";
/**
 * /analytics: source and run pickers, KPIs, the run's details, whole-run trends (one run or
 * several compared), every logged metric, the chosen iteration and the runs table. Each card
 * fails alone. Every choice lives in the URL (lib/urlState.ts), and every control shows the
 * state the page is in.
 */
import { useEffect, useMemo, useRef } from "react";
import { api as defaultApi, type ApiClient } from "@/lib/api";
import { dropEarly, HISTORY_POINTS, ITERATIONS_LIMIT, RUNS_LIMIT, TREND_KEYS } from "@/lib/early";
import { POLL_MS, RECHECK_MS } from "@/lib/config";
import { runColor } from "@/lib/palette";
import { sourceOptions } from "@/lib/sources";
import type { IterationResponse, Source } from "@/lib/types";
import { useApi, usePoll } from "@/lib/useApi";
import { useHistories } from "@/lib/useHistories";
import { useAnalyticsUrl } from "@/lib/urlState";
import { Card, ErrorNotice, StaleBanner } from "./Card";
import { IterationPanel } from "./IterationPanel";
import { IterationSelect } from "./IterationSelect";
import { KpiCards, kpisFromRow } from "./KpiCards";
import { MetricCharts } from "./MetricCharts";
import { RunDetails } from "./RunDetails";
import { RunPicker } from "./RunPicker";
import { RunsTable } from "./RunsTable";
import { ChartSettings, TrendCharts, type RunRows } from "./TrendCharts";


interface DashboardProps {
  client?: ApiClient;
  /** How often a running run is polled (every card). */
  pollMs?: number;
  /** How often a crashed, stalled or failed run's summary is re-checked (a resume turns it `running`). */
  recheckMs?: number;
}

export function AnalyticsDashboard({ client = defaultApi, pollMs = POLL_MS, recheckMs = RECHECK_MS }: DashboardProps) {
  const [url, setUrl] = useAnalyticsUrl();
  // The chart library is a lazy chunk: fetch it while the data loads, not after.
  useEffect(() => {
    void import("uplot");
  }, []);

  const health = useApi("health", () => client.health());
  const options = sourceOptions(health.data);
  const source: Source | null = url.source ?? (health.data ? health.data.default_source : health.error ? "local" : null);
  const sourceOption = options.find((o) => o.source === source) ?? null;

  const runs = useApi(source ? `runs:${source}` : null, () => client.runs(source as Source, RUNS_LIMIT));
  const runId = url.run ?? runs.data?.runs[0]?.run_id ?? null;
  const runItem = runs.data?.runs.find((r) => r.run_id === runId) ?? null;

  const k = source && runId ? `${source}:${runId}` : null;
  // The inline script's answers are for the first run shown; once the run changes, the unused
  // ones are stale. Declared before the requests below, so it runs before they take any.
  const firstK = useRef<string | null>(null);
  useEffect(() => {
    if (k === null) return;
    if (firstK.current === null) firstK.current = k;
    else if (firstK.current !== k) dropEarly();
  }, [k]);
  const summary = useApi(k, () => client.summary(source as Source, runId as string));
  // Polling (docs/API.md, run liveness): a running run, every card every `pollMs`; a finished
  // run, nothing; any other state (crashed, stalled, failed: the trainer may be resumed), its
  // summary alone every `recheckMs`, so a resumed run turns `running` again without a reload.
  const state = summary.data?.run.state ?? runItem?.state ?? null;
  const running = state === "running";
  // Each compared run once (a hand-edited or shared URL may repeat one), the page's run aside.
  const compareIds = useMemo(() => [...new Set(url.compare)].filter((id) => id !== runId && id !== ""), [url.compare, runId]);
  const comparedStates = compareIds.map((id) => runs.data?.runs.find((r) => r.run_id === id)?.state);
  const comparedLive = comparedStates.some((s) => s === "running");
  // A compared run that crashed or stalled may be resumed too: the list (its state) is re-checked.
  const comparedGone = comparedStates.some((s) => s !== undefined && s !== "running" && s !== "finished");
  const poll = running ? pollMs : null;
  const recheck = state !== null && !running && state !== "finished" ? recheckMs : null;
  usePoll(runs.reload, running || comparedLive ? pollMs : comparedGone ? recheckMs : null);
  usePoll(summary.reload, poll ?? recheck);
  const iterations = useApi(k, () => client.iterations(source as Source, runId as string, ITERATIONS_LIMIT), poll);
  // The trend charts' columns only: a small payload, and the finest min-max buckets for them.
  const history = useApi(k, () => client.history(source as Source, runId as string, HISTORY_POINTS, TREND_KEYS), poll);

  const chosen = url.iteration;
  const latestWindow = iterations.data?.iterations[0]?.window_id ?? summary.data?.kpis.window_id ?? null;
  const windowId = chosen ?? latestWindow;
  // The panel of the previous window stays until the new one is in (a new latest window of a
  // running run, or another chosen window): no skeleton, no layout jump, charts updated in place.
  // A window's record never changes once written, so each window's panel is fetched once per
  // run and page (a failed fetch is forgotten, so Retry asks again).
  const details = useRef<{ run: string | null; byWindow: Map<number, Promise<IterationResponse>> }>({ run: null, byWindow: new Map() });
  const detail = (w: number): Promise<IterationResponse> => {
    const c = details.current;
    if (c.run !== k) details.current = { run: k, byWindow: new Map() };
    const byWindow = details.current.byWindow;
    let p = byWindow.get(w);
    if (!p) {
      p = client.iteration(source as Source, runId as string, w);
      byWindow.set(w, p);
      p.catch(() => byWindow.delete(w));
    }
    return p;
  };
  const iteration = useApi(
    k && windowId !== null ? `${k}:${windowId}` : null,
    () => detail(windowId as number),
    // Polled with the other cards while the run is live: a window already in is answered from
    // `detail`'s memo (no request); one that failed (a 5xx, the record mid-write) is asked again.
    poll,
    k ? `${k}:` : null,
  );
  // Only a payload of the window shown counts for the KPIs and the marker.
  const iterationNow = iteration.data?.window_id === windowId ? iteration.data : null;
  // Once the page has settled, the dropdown's other windows are fetched one after another (small
  // answers, one request at a time), so choosing one of them shows its panel without a round trip.
  const listed = iterations.data?.iterations.map((r) => r.window_id).join(",") ?? "";
  const settled = iterationNow !== null && history.data !== null;
  useEffect(() => {
    if (!settled || !listed) return;
    let cancelled = false;
    const ws = listed.split(",").map(Number).filter((w) => Number.isInteger(w) && w !== windowId);
    const next = (i: number) => {
      if (cancelled || i >= ws.length) return;
      void detail(ws[i])
        .catch(() => null)
        .then(() => next(i + 1));
    };
    const id = window.setTimeout(() => next(0), 0);
    return () => {
      cancelled = true;
      window.clearTimeout(id);
    };
    // `detail` reads the current run through refs; the list and the run decide the work
  }, [settled, listed, k]); // eslint-disable-line react-hooks/exhaustive-deps

  // Compared runs: the page's run first (first colour), then the chosen others.
  const livePoll = running || comparedLive ? pollMs : null;
  const others = useHistories(client, source, compareIds, TREND_KEYS, comparedLive ? pollMs : null);
  const charted = useMemo(() => (runId ? [runId, ...compareIds] : []), [runId, compareIds]);
  const chartRuns: RunRows[] = useMemo(() => {
    if (!runId || !history.data) return [];
    const label = (id: string) => runs.data?.runs.find((r) => r.run_id === id)?.name || id;
    return charted.flatMap((id, i) => {
      const rows = id === runId ? history.data!.rows : others.byRun[id]?.rows;
      return rows ? [{ runId: id, label: id === runId ? label(id) : `${label(id)}`, color: runColor(i), rows }] : [];
    });
  }, [charted, runId, history.data, others.byRun, runs.data]);

  const chartRunsMeta = useMemo(() => chartRuns.map(({ runId: id, label, color }) => ({ runId: id, label, color })), [chartRuns]);

  const chosenRow = useMemo(() => {
    if (chosen === null) return null;
    return iterations.data?.iterations.find((r) => r.window_id === chosen) ?? iterationNow?.row ?? null;
  }, [chosen, iterations.data, iterationNow]);
  // A chosen window shows its own row or nothing (loading, or its error): never another
  // window's KPIs under "KPIs at iteration N", nor a marker at another window.
  const highlightRow = chosen !== null ? chosenRow : (iterationNow?.row ?? iterations.data?.iterations[0] ?? null);
  const kpis = chosen !== null ? (chosenRow ? kpisFromRow(chosenRow) : null) : (summary.data?.kpis ?? null);
  const chosenPending = chosen !== null && chosenRow === null;
  const evalPolicy =
    (chosen !== null ? iterationNow?.eval?.policy : null) ??
    (typeof summary.data?.run.full_config?.eval_policy === "string" ? (summary.data.run.full_config.eval_policy as string) : null);

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

  const noRuns = runs.data && runs.data.runs.length === 0;
  // The page's run shows its summary's state (re-checked on its own while the list is not polled).
  // A run the list does not hold (older than its newest RUNS_LIMIT) is described by its summary.
  const shownItem = summary.data
    ? runItem
      ? { ...runItem, state: summary.data.run.state, updated_at: summary.data.run.updated_at }
      : { ...summary.data.run, window_id: summary.data.kpis.window_id, env_steps: summary.data.kpis.env_steps, kpis: summary.data.kpis }
    : runItem;
  const pickerRuns = runs.data
    ? runs.data.runs
        .slice(0, 10)
        .map((r) => (r === runItem && shownItem ? shownItem : r))
        .concat(shownItem && !runs.data.runs.slice(0, 10).some((r) => r.run_id === shownItem.run_id) ? [shownItem] : [])
    : [];
  const offered = options.filter((o) => o.available || o.source === source);
  const missing = options.filter((o) => !o.available && health.data);
  return (
    <div className="dashboard">
      {stalePayload ? <StaleBanner fetchedAt={stalePayload.fetched_at} /> : null}
      <div className="toolbar card" data-testid="toolbar">
        <div className="source-picker">
          <label htmlFor="source-select">Source</label>
          <select
            id="source-select"
            value={source ?? ""}
            onChange={(e) => setUrl({ source: e.target.value as Source, run: null, iteration: null, compare: null })}
          >
            {source === null ? <option value="">…</option> : null}
            {offered.map((o) => (
              <option key={o.source} value={o.source}>
                {o.label}
                {o.available ? "" : " (unavailable)"}
              </option>
            ))}
          </select>
          {missing.length > 0 ? (
            <span className="muted small" data-testid="sources-missing">
              {missing.map((o) => `${o.label}: ${o.reason ?? "unavailable"}`).join("; ")}
            </span>
          ) : null}
        </div>
        {pickerRuns.length > 0 ? (
          <RunPicker runs={pickerRuns} value={runId} onChange={(id) => setUrl({ run: id, iteration: null })} />
        ) : null}
        <IterationSelect
          iterations={iterations.data?.iterations ?? []}
          value={windowId}
          chosen={chosen}
          // Until the list is in, the control could not show what it would choose from.
          disabled={iterations.data === null}
          onChange={(w) => setUrl({ iteration: w === latestWindow && chosen === null ? null : w })}
        />
        {chosen !== null ? (
          <button type="button" className="btn btn-small" onClick={() => setUrl({ iteration: null })}>
            Follow latest
          </button>
        ) : null}
        {runs.error && k !== null ? <ErrorNotice error={runs.error} onRetry={runs.reload} /> : null}
      </div>
      {sourceOption && !sourceOption.available && health.data ? (
        <p className="error-notice" role="status">
          {sourceOption.label} is not available on this service: {sourceOption.reason}.
        </p>
      ) : null}
      {noRuns ? (
        <div className="card">
          <h2>No runs yet</h2>
          <p>
            Start one with <code>make run</code>; it appears here as soon as its first iteration is written.
          </p>
        </div>
      ) : (
        <>
          <Card
            title={chosen !== null ? `KPIs at iteration ${chosen}` : "Latest KPIs"}
            loading={waiting || summary.loading || (chosen !== null && iterations.loading) || (chosenPending && iteration.loading)}
            error={summary.error ?? (chosenPending && !iterations.loading ? iteration.error : null) ?? upstreamError}
            onRetry={upstreamError ? retryUpstream : chosenPending && iteration.error && !summary.error ? iteration.reload : summary.reload}
            hasData={true}
            testId="kpi-card"
          >
            <KpiCards
              kpis={kpis}
              loading={waiting || summary.loading || (chosenPending && iteration.loading)}
              context={chosen !== null ? `iteration ${chosen} (chosen)` : "latest iteration"}
              evalPolicy={evalPolicy}
            />
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
                  {history.data.rows.length} of {history.data.total_rows} iterations
                  {history.data.downsampled ? " (downsampled, each bucket's extremes kept)" : ""}
                  {compareIds.length > 0 ? ` · comparing ${charted.length} runs` : ""}
                </span>
              ) : null
            }
          >
            {history.data && runId ? (
              <div className="trends">
                <ChartSettings url={url} setUrl={setUrl} csvUrl={source ? client.windowsCsvUrl(source, runId) : null} />
                {Object.entries(others.errors).map(([id, e]) => (
                  <ErrorNotice key={id} error={e} />
                ))}
                <TrendCharts runs={chartRuns} highlight={highlightRow} url={url} setUrl={setUrl} csvUrl={null} />
              </div>
            ) : null}
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
            {iteration.data ? (
              <div className={iterationNow ? undefined : "panel-pending"}>
                <IterationPanel data={iteration.data} />
              </div>
            ) : null}
          </Card>
          <Card
            title="Every metric"
            loading={waiting || history.loading}
            error={upstreamError}
            onRetry={retryUpstream}
            hasData={history.data !== null}
            testId="metrics-card"
          >
            {history.data && source ? (
              <MetricCharts
                client={client}
                source={source}
                runs={chartRunsMeta}
                pollMs={livePoll}
                highlight={highlightRow}
                url={url}
                setUrl={setUrl}
              />
            ) : null}
          </Card>
          <Card
            title="Run details"
            loading={waiting || summary.loading}
            error={summary.error ?? upstreamError}
            onRetry={upstreamError ? retryUpstream : summary.reload}
            hasData={summary.data !== null}
            testId="run-card"
          >
            {summary.data ? <RunDetails run={summary.data.run} /> : null}
          </Card>
          <Card
            title="Compare runs"
            loading={waiting || runs.loading}
            error={runs.error ?? health.error ?? null}
            onRetry={retryUpstream}
            hasData={runs.data !== null}
            testId="compare-card"
          >
            {runs.data ? (
              <RunsTable
                runs={runs.data.runs}
                charted={charted}
                onToggle={(id) => setUrl({ compare: url.compare.includes(id) ? url.compare.filter((x) => x !== id) : [...url.compare, id] })}
                onGroup={(g) => {
                  const members = runs.data!.runs.filter((r) => r.group === g).map((r) => r.run_id);
                  setUrl({ run: members.includes(runId ?? "") ? runId : members[0], compare: members, iteration: null });
                }}
                sort={url.sort}
                onSort={(sort) => setUrl({ sort })}
              />
            ) : null}
          </Card>
        </>
      )}
    </div>
  );
}

export function DashboardSkeleton() {
  return (
    <div className="dashboard" aria-busy="true">
      <div className="card">
        <div className="skeleton-line" style={{ width: "60%" }} />
      </div>
    </div>
  );
}
