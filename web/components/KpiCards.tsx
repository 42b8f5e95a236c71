"use client";
/** KPI snapshot: latest (or the chosen iteration's) eval return, profit, survival, invalid rate, steps/s. */
import { fmtCompact, fmtInt, fmtNumber, fmtPercent } from "@/lib/format";
import type { Kpis } from "@/lib/types";
import { Skeleton } from "./Card";

export interface KpiItem {
  key: keyof Kpis;
  label: string;
  format: (v: number | null) => string;
  hint: string | ((policy: string | null) => string);
}

export const KPI_ITEMS: KpiItem[] = [
  { key: "eval/return_mean", label: "Eval return", format: (v) => fmtNumber(v, 2), hint: (p) =>
      p
        ? `mean return of the evaluation episodes, ${p} policy (${p === "greedy" ? "argmax actions" : "actions drawn from the policy"})`
        : "mean return of the evaluation episodes, with the policy the run's eval_policy set" },
  { key: "eval/profit_mean", label: "Eval profit", format: (v) => fmtNumber(v, 1), hint: "mean coins gained per episode" },
  { key: "eval/survival_rate", label: "Survival", format: (v) => fmtPercent(v), hint: "episodes that reached the last day" },
  { key: "eval/invalid_action_rate", label: "Invalid actions", format: (v) => fmtPercent(v, 2), hint: "share of invalid actions in eval" },
  { key: "sps", label: "Steps / s", format: (v) => fmtCompact(v), hint: "env steps per second, this window" },
];

interface KpiCardsProps {
  kpis: Kpis | null;
  loading: boolean;
  /** "latest" or the chosen iteration's window id, shown as the cards' context. */
  context: string;
  /** The policy the evaluation measured ("sampled" | "greedy"), when known. */
  evalPolicy?: string | null;
}

export function KpiCards({ kpis, loading, context, evalPolicy = null }: KpiCardsProps) {
  return (
    <div className="kpis" data-testid="kpi-cards">
      {KPI_ITEMS.map((item) => (
        <div className="kpi" key={item.key} data-testid={`kpi-${item.key}`} data-value={kpis?.[item.key] ?? ""}>
          <div className="kpi-label" title={typeof item.hint === "string" ? item.hint : item.hint(evalPolicy)}>
            {item.label}
          </div>
          {kpis ? (
            <div className="kpi-value">{item.format(kpis[item.key])}</div>
          ) : loading ? (
            <Skeleton lines={1} />
          ) : (
            <div className="kpi-value">–</div>
          )}
        </div>
      ))}
      <div className="kpi kpi-meta" data-testid="kpi-meta">
        <div className="kpi-label">Window · env steps</div>
        {kpis ? (
          <div className="kpi-value kpi-value-small">
            <span data-testid="kpi-window">{fmtInt(kpis.window_id)}</span> ·{" "}
            <span data-testid="kpi-env-steps">{fmtCompact(kpis.env_steps)}</span>
          </div>
        ) : loading ? (
          <Skeleton lines={1} />
        ) : (
          <div className="kpi-value">–</div>
        )}
        <div className="kpi-context">{context}</div>
      </div>
    </div>
  );
}

/** KPIs of one window row (for a chosen iteration), same keys as the summary's. */
export function kpisFromRow(row: Record<string, unknown>): Kpis {
  const n = (k: string) => (typeof row[k] === "number" && Number.isFinite(row[k]) ? (row[k] as number) : null);
  return {
    "eval/return_mean": n("eval/return_mean"),
    "eval/profit_mean": n("eval/profit_mean"),
    "eval/survival_rate": n("eval/survival_rate"),
    "eval/invalid_action_rate": n("eval/invalid_action_rate"),
    sps: n("sps"),
    env_steps: n("env_steps"),
    window_id: n("window_id"),
  };
}
