"use client";
/** Whole-run trends: return, profit, survival, invalid rate and SPS against env steps or wall time. */
import { useMemo, useState } from "react";
import { fmtCompact, fmtDuration, fmtNumber, fmtPercent } from "@/lib/format";
import { COLORS, faint } from "@/lib/palette";
import { column, downloadText, num, smooth, toCsv } from "@/lib/series";
import { field, type WindowRow } from "@/lib/types";
import { LineChart, type LineSeries } from "./LineChart";

export type XMode = "env_steps" | "wall_time_s";

interface TrendSpec {
  id: string;
  title: string;
  keys: { key: string; label: string; color: string }[];
  formatY: (v: number) => string;
  formatAxisY?: (v: number) => string;
  yRange?: [number, number];
}

/** Fixed scales for rates so charts compare at a glance; colours follow eval/train everywhere. */
export const TRENDS: TrendSpec[] = [
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

interface TrendChartsProps {
  runId: string;
  rows: WindowRow[];
  /** The chosen iteration's row (drawn as a marker and read out under each chart). */
  highlight: WindowRow | null;
}

export function TrendCharts({ runId, rows, highlight }: TrendChartsProps) {
  const [xMode, setXMode] = useState<XMode>("env_steps");
  const [smoothing, setSmoothing] = useState(0.6);

  const x = useMemo(() => rows.map((r) => num(r[xMode]) ?? 0), [rows, xMode]);
  const charts = useMemo(
    () =>
      TRENDS.map((spec) => {
        const series: LineSeries[] = [];
        const csvCols: { name: string; values: (number | null)[] }[] = [];
        for (const k of spec.keys) {
          const raw = column(rows, k.key);
          const sm = smooth(raw, smoothing);
          if (smoothing > 0) series.push({ label: `${k.label} raw`, values: raw, color: faint(k.color), width: 1, quiet: true });
          series.push({ label: k.label, values: sm, color: k.color, width: 2 });
          csvCols.push({ name: `${k.key}`, values: raw }, { name: `${k.key} (smoothed)`, values: sm });
        }
        return { spec, series, csvCols };
      }),
    [rows, smoothing],
  );

  const formatX = xMode === "env_steps" ? fmtCompact : (v: number) => fmtDuration(v);
  const xLabel = xMode === "env_steps" ? "env steps" : "wall time";
  const highlightX = highlight ? num(highlight[xMode]) : null;

  const downloadCsv = () => {
    const header = ["window_id", "env_steps", "wall_time_s"];
    const cols = charts.flatMap((c) => c.csvCols);
    const body = rows.map((r, i) => [r.window_id, r.env_steps, r.wall_time_s, ...cols.map((c) => c.values[i])]);
    downloadText(`${runId}-trends.csv`, toCsv([...header, ...cols.map((c) => c.name)], body));
  };

  return (
    <div className="trends">
      <div className="controls" role="group" aria-label="Chart controls">
        <fieldset className="segmented">
          <legend>x-axis</legend>
          <label>
            <input type="radio" name="xmode" value="env_steps" checked={xMode === "env_steps"} onChange={() => setXMode("env_steps")} />
            env steps
          </label>
          <label>
            <input type="radio" name="xmode" value="wall_time_s" checked={xMode === "wall_time_s"} onChange={() => setXMode("wall_time_s")} />
            wall time
          </label>
        </fieldset>
        <label className="slider">
          Smoothing <output htmlFor="smoothing">{smoothing.toFixed(2)}</output>
          <input
            id="smoothing"
            type="range"
            min={0}
            max={0.99}
            step={0.01}
            value={smoothing}
            onChange={(e) => setSmoothing(Number(e.target.value))}
          />
        </label>
        <button type="button" className="btn btn-small" onClick={downloadCsv} disabled={rows.length === 0}>
          Download CSV
        </button>
      </div>
      <div className="chart-grid">
        {charts.map(({ spec, series }) => (
          <div key={spec.id} className="chart-cell">
            <LineChart
              title={spec.title}
              x={x}
              series={series}
              xLabel={xLabel}
              formatX={formatX}
              formatY={spec.formatY}
              formatAxisY={spec.formatAxisY}
              yRange={spec.yRange}
              highlightX={highlightX}
              syncKey="trend"
            />
            {highlight ? (
              <p className="readout" data-testid={`readout-${spec.id}`}>
                Iteration {highlight.window_id}:{" "}
                {spec.keys.map((k, i) => (
                  <span key={k.key} data-key={k.key} data-value={num(field(highlight, k.key)) ?? ""}>
                    {i > 0 ? ", " : ""}
                    {k.label} {spec.formatY(num(field(highlight, k.key)) ?? NaN)}
                  </span>
                ))}
              </p>
            ) : null}
          </div>
        ))}
      </div>
    </div>
  );
}
