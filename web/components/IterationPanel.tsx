"use client";
/** The chosen iteration: its metrics, per-update loss curves, eval histograms and action mix. */
import { memo, useMemo } from "react";
import { fmtCompact, fmtDuration, fmtNumber, fmtPercent } from "@/lib/format";
import { COLORS } from "@/lib/palette";
import { num } from "@/lib/series";
import { field, type IterationResponse } from "@/lib/types";
import { ActionMix } from "./ActionMix";
import { Histogram } from "./Histogram";
import { LineChart, type LineSeries } from "./LineChart";

const METRICS: { key: string; label: string; fmt: (v: number | null) => string }[] = [
  { key: "eval/return_mean", label: "Eval return (mean)", fmt: (v) => fmtNumber(v) },
  { key: "eval/return_p10", label: "Eval return p10", fmt: (v) => fmtNumber(v) },
  { key: "eval/return_p90", label: "Eval return p90", fmt: (v) => fmtNumber(v) },
  { key: "eval/profit_mean", label: "Eval profit", fmt: (v) => fmtNumber(v, 1) },
  { key: "eval/survival_rate", label: "Eval survival", fmt: (v) => fmtPercent(v) },
  { key: "eval/invalid_action_rate", label: "Eval invalid rate", fmt: (v) => fmtPercent(v, 2) },
  { key: "train/return_mean", label: "Train return", fmt: (v) => fmtNumber(v) },
  { key: "train/episodes", label: "Train episodes", fmt: (v) => fmtCompact(v) },
  { key: "sps", label: "Steps / s", fmt: (v) => fmtCompact(v) },
  { key: "window_time_s", label: "Iteration time", fmt: (v) => fmtDuration(v) },
  { key: "loss/approx_kl", label: "Approx. KL", fmt: (v) => fmtNumber(v, 4) },
  { key: "loss/explained_variance", label: "Explained variance", fmt: (v) => fmtNumber(v, 3) },
];

const LOSSES: { key: string; title: string; color: string }[] = [
  { key: "loss/policy", title: "Policy loss", color: COLORS.policy },
  { key: "loss/value", title: "Value loss", color: COLORS.value },
  { key: "loss/entropy", title: "Entropy", color: COLORS.entropy },
  { key: "loss/approx_kl", title: "Approx. KL", color: COLORS.kl },
];

/** Memoised: re-rendered only for another window's payload. */
export const IterationPanel = memo(function IterationPanel({ data }: { data: IterationResponse }) {
  const { row, updates } = data;
  const x = useMemo(() => updates.map((u, i) => u.update ?? i), [updates]);
  const lossSeries = useMemo(
    () =>
      LOSSES.map((l) => ({
        ...l,
        series: [{ label: l.title, values: updates.map((u) => num(field(u, l.key))), color: l.color }] as LineSeries[],
      })),
    [updates],
  );
  return (
    <div className="iteration-panel" data-testid="iteration-panel" data-window={data.window_id}>
      <dl className="metrics">
        {METRICS.map((m) => (
          <div key={m.key} data-testid={`metric-${m.key}`} data-value={num(field(row, m.key)) ?? ""}>
            <dt>{m.label}</dt>
            <dd>{m.fmt(num(field(row, m.key)))}</dd>
          </div>
        ))}
      </dl>
      <h3>Per-update losses ({updates.length} updates)</h3>
      {updates.length > 0 ? (
        <div className="chart-grid chart-grid-4">
          {lossSeries.map((l) => (
            <LineChart key={l.key} title={l.title} x={x} series={l.series} xLabel="update" height={140} syncKey="updates" />
          ))}
        </div>
      ) : (
        <p className="muted">No update rows for this window.</p>
      )}
      <h3>Evaluation</h3>
      {data.eval ? (
        <div className="eval-grid">
          <Histogram title="Return" hist={data.eval.histograms.return} color={COLORS.eval} />
          <Histogram title="Profit" hist={data.eval.histograms.profit} color={COLORS.sps} />
          <ActionMix mix={data.eval.action_mix} title="Eval action mix" />
        </div>
      ) : (
        <p className="muted">This iteration has no evaluation.</p>
      )}
    </div>
  );
});
