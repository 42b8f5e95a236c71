"use client";
/**
 * Whole-run trends: return, profit, survival, invalid rate and SPS against env steps or wall
 * time, for one run (eval and train lines) or several compared runs (one colour per run).
 */
import { useMemo } from "react";
import { fmtCompact, fmtDuration, fmtNumber, fmtPercent } from "@/lib/format";
import { COLORS, faint } from "@/lib/palette";
import { alignRuns, column, num, smooth } from "@/lib/series";
import { field, type HistoryRow } from "@/lib/types";
import { toggled, type AnalyticsUrl, type SetAnalyticsUrl, type XMode } from "@/lib/urlState";
import { LineChart, type LineSeries } from "./LineChart";

export type { XMode };

export interface ChartSpec {
  id: string;
  title: string;
  keys: { key: string; label: string; color: string }[];
  formatY: (v: number) => string;
  formatAxisY?: (v: number) => string;
  yRange?: [number, number];
}

/** Fixed scales for rates so charts compare at a glance; colours follow eval/train everywhere. */
export const TRENDS: ChartSpec[] = [
  {
    id: "return",
    title: "Return",
    keys: [
      { key: "eval/return_mean", label: "eval", color: COLORS.eval },
      { key: "train/return_mean", label: "train", color: COLORS.train },
    ],
    formatY: (v) => fmtNumber(v, 2),
  },
  {
    id: "profit",
    title: "Profit (coins)",
    keys: [
      { key: "eval/profit_mean", label: "eval", color: COLORS.eval },
      { key: "train/profit_mean", label: "train", color: COLORS.train },
    ],
    formatY: (v) => fmtCompact(v),
    formatAxisY: (v) => fmtCompact(v),
  },
  {
    id: "survival",
    title: "Survival rate",
    keys: [
      { key: "eval/survival_rate", label: "eval", color: COLORS.eval },
      { key: "train/survival_rate", label: "train", color: COLORS.train },
    ],
    formatY: (v) => fmtPercent(v, 1),
    formatAxisY: (v) => fmtPercent(v, 0),
    yRange: [0, 1],
  },
  {
    id: "invalid",
    title: "Invalid-action rate",
    keys: [
      { key: "eval/invalid_action_rate", label: "eval", color: COLORS.eval },
      { key: "train/invalid_action_rate", label: "train", color: COLORS.train },
    ],
    formatY: (v) => fmtPercent(v, 2),
    formatAxisY: (v) => fmtPercent(v, 0),
    yRange: [0, 1],
  },
  {
    id: "sps",
    title: "Env steps per second",
    keys: [{ key: "sps", label: "steps/s", color: COLORS.sps }],
    formatY: (v) => fmtCompact(v),
    formatAxisY: (v) => fmtCompact(v),
  },
];

/** One run's rows as charted: its label and colour (the colour is used when comparing). */
export interface RunRows {
  runId: string;
  label: string;
  color: string;
  rows: HistoryRow[];
}

export interface BuiltChart {
  spec: ChartSpec;
  x: number[];
  series: LineSeries[];
}

/** Line style of each key when runs are compared (colour is the run's): eval solid, train dashed. */
const COMPARE_DASH: (number[] | undefined)[] = [undefined, [7, 4], [2, 3]];

/**
 * The series of one chart. One run: each key its own colour (eval, train). Several runs: every
 * key of the chart for every run, one colour per run and one line style per key; the legend
 * has one entry per run (its colour) and one per key (its line style), each toggling its lines.
 */
export function buildChart(spec: ChartSpec, runs: RunRows[], xMode: XMode, smoothing: number): BuiltChart {
  const compare = runs.length > 1;
  const cols = runs.flatMap((r) =>
    spec.keys.map((k, ki) => ({ r, k, ki, x: r.rows.map((row) => num(field(row, xMode))), values: column(r.rows, k.key) })),
  );
  // One run too: uPlot needs an ascending x, and any x value may be null (a non-finite number is
  // served as null) or out of order; alignment leaves those rows out and sorts the rest.
  const aligned = alignRuns(cols);
  const x = aligned.x;
  const many = spec.keys.length > 1;
  const series: LineSeries[] = [];
  cols.forEach((c, i) => {
    const raw = aligned.columns[i];
    // Smooth each run along its own windows, then place it on the shared axis.
    const smOwn = smooth(c.values, smoothing);
    const smAligned = placeOn(x, c.x, smOwn);
    const label = compare ? (many ? `${c.r.label} ${c.k.label}` : c.r.label) : c.k.label;
    const color = compare ? c.r.color : c.k.color;
    const dash = compare ? COMPARE_DASH[c.ki % COMPARE_DASH.length] : undefined;
    const group = compare ? c.r.runId : c.k.label;
    const groupLabel = compare ? c.r.label : undefined;
    const subgroup = compare && many ? c.k.label : undefined;
    const isolated = aligned.isolated[i];
    const id = `${c.r.runId}|${c.k.key}`;
    if (smoothing > 0)
      series.push({ label: `${label} raw`, values: raw, color: faint(color), width: 1, dash, quiet: true, group, subgroup, id: `${id}|raw` });
    series.push({ label, values: smAligned, color, width: 2, dash, raw: smoothing > 0 ? raw : undefined, group, groupLabel, subgroup, isolated, id });
  });
  return { spec, x, series };
}

function placeOn(x: number[], ownX: (number | null)[], values: (number | null)[]): (number | null)[] {
  const at = new Map(x.map((v, i) => [v, i]));
  const out: (number | null)[] = new Array(x.length).fill(null);
  ownX.forEach((xv, i) => {
    if (xv !== null && values[i] !== null) out[at.get(xv)!] = values[i];
  });
  return out;
}

const fmtWall = (v: number) => fmtDuration(v);

interface TrendChartsProps {
  runs: RunRows[];
  /** The chosen iteration's row of the first run (drawn as a marker and read out under each chart). */
  highlight: HistoryRow | null;
  url: Pick<AnalyticsUrl, "x" | "smooth" | "log" | "auto">;
  setUrl: SetAnalyticsUrl;
  /** The service's full-resolution CSV of the first run. */
  csvUrl: string | null;
  specs?: ChartSpec[];
  idPrefix?: string;
}

export function ChartSettings({ url, setUrl, csvUrl }: Pick<TrendChartsProps, "url" | "setUrl" | "csvUrl">) {
  return (
    <div className="controls" role="group" aria-label="Chart controls">
      <fieldset className="segmented">
        <legend>x-axis</legend>
        <label>
          <input type="radio" name="xmode" value="env_steps" checked={url.x === "env_steps"} onChange={() => setUrl({ x: "env_steps" })} />
          env steps
        </label>
        <label>
          <input type="radio" name="xmode" value="wall_time_s" checked={url.x === "wall_time_s"} onChange={() => setUrl({ x: "wall_time_s" })} />
          wall time
        </label>
      </fieldset>
      <label className="slider">
        Smoothing <output htmlFor="smoothing">{url.smooth.toFixed(2)}</output>
        <input
          id="smoothing"
          type="range"
          min={0}
          max={0.99}
          step={0.01}
          value={url.smooth}
          onChange={(e) => setUrl({ smooth: Number(e.target.value) })}
        />
      </label>
      {csvUrl ? (
        <a className="btn btn-small" href={csvUrl} download title="Every iteration and every logged metric, at full resolution, from the service">
          Download CSV
        </a>
      ) : null}
    </div>
  );
}

export function TrendCharts({ runs, highlight, url, setUrl, specs = TRENDS, idPrefix = "" }: TrendChartsProps) {
  const smoothing = Math.min(0.99, Math.max(0, url.smooth));
  const charts = useMemo(() => specs.map((spec) => buildChart(spec, runs, url.x, smoothing)), [specs, runs, url.x, smoothing]);
  const formatX = url.x === "env_steps" ? fmtCompact : fmtWall;
  const xLabel = url.x === "env_steps" ? "env steps" : "wall time";
  const highlightX = highlight ? num(field(highlight, url.x)) : null;
  const first = runs[0];
  // The first run's smoothed columns, for the readouts: computed once per data, not per iteration change.
  const smoothedFirst = useMemo(() => {
    const out = new Map<string, (number | null)[]>();
    if (!first || smoothing <= 0) return out;
    for (const spec of specs) for (const k of spec.keys) out.set(k.key, smooth(column(first.rows, k.key), smoothing));
    return out;
  }, [first, specs, smoothing]);
  const hlIndex = highlight && first ? first.rows.findIndex((r) => r.window_id === highlight.window_id) : -1;

  return (
    <div className="chart-grid">
      {charts.map(({ spec, x, series }) => {
        const id = `${idPrefix}${spec.id}`;
        const log = url.log.includes(id);
        const auto = url.auto.includes(id);
        return (
          <div key={spec.id} className="chart-cell">
            <LineChart
              title={spec.title}
              x={x}
              series={series}
              xLabel={xLabel}
              formatX={formatX}
              formatY={spec.formatY}
              formatAxisY={spec.formatAxisY}
              yRange={auto ? undefined : spec.yRange}
              logY={log}
              highlightX={highlightX}
              syncKey="trend"
              toggles={series.filter((s) => !s.quiet).length > 1}
            />
            <div className="chart-toggles" role="group" aria-label={`${spec.title} axis`}>
              <label>
                <input type="checkbox" checked={log} onChange={() => setUrl({ log: toggled(url.log, id) })} /> log scale
              </label>
              {spec.yRange ? (
                <label>
                  <input type="checkbox" checked={auto} onChange={() => setUrl({ auto: toggled(url.auto, id) })} /> auto-scale
                </label>
              ) : null}
            </div>
            {highlight ? (
              <p className="readout" data-testid={`readout-${spec.id}`}>
                Iteration {highlight.window_id}:{" "}
                {spec.keys.map((k, i) => {
                  const raw = num(field(highlight, k.key));
                  const sm = hlIndex >= 0 ? (smoothedFirst.get(k.key)?.[hlIndex] ?? null) : null;
                  return (
                    <span key={k.key} data-key={k.key} data-value={raw ?? ""}>
                      {i > 0 ? "; " : ""}
                      {k.label} raw {spec.formatY(raw ?? NaN)}
                      {sm !== null ? ` · smoothed ${spec.formatY(sm)}` : ""}
                    </span>
                  );
                })}
              </p>
            ) : null}
          </div>
        );
      })}
    </div>
  );
}
