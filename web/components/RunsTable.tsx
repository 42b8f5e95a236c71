"use client";
/**
 * Runs table (compare runs): every listed run with config columns, state, duration and final
 * KPIs, sortable by any column; a checkbox adds a run to the comparison, and a group's button
 * selects all of its `--num-seeds` runs in one click.
 */
import { fmtCompact, fmtDuration, fmtNumber, fmtPercent } from "@/lib/format";
import { runColor } from "@/lib/palette";
import type { RunListItem } from "@/lib/types";
import { StateBadge } from "./StateBadge";

interface Column {
  key: string;
  label: string;
  value: (r: RunListItem) => number | string | null;
  format?: (v: number | string | null) => string;
  numeric?: boolean;
}

const n = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const cfg = (k: string) => (r: RunListItem) => {
  const v = (r.config as Record<string, unknown> | null)?.[k];
  return typeof v === "number" || typeof v === "string" ? v : typeof v === "boolean" ? String(v) : null;
};
const kpi = (k: string) => (r: RunListItem) => n((r.kpis as Record<string, unknown> | null)?.[k]);
const num = (f: (v: number | null) => string) => (v: number | string | null) => f(typeof v === "number" ? v : null);

export const RUN_COLUMNS: Column[] = [
  { key: "run_id", label: "Run", value: (r) => r.run_id },
  { key: "group", label: "Group", value: (r) => r.group ?? null },
  { key: "state", label: "State", value: (r) => r.state },
  { key: "created_at", label: "Started", value: (r) => r.created_at ?? null, format: (v) => (v ? String(v).replace("T", " ").replace(/:\d\dZ$/, "Z") : "–") },
  { key: "duration_s", label: "Duration", value: (r) => n(r.duration_s), format: num(fmtDuration), numeric: true },
  { key: "env_steps", label: "Env steps", value: (r) => n(r.env_steps), format: num(fmtCompact), numeric: true },
  { key: "num_envs", label: "Envs", value: cfg("num_envs"), format: num(fmtCompact), numeric: true },
  { key: "lr", label: "LR", value: cfg("lr"), format: (v) => (typeof v === "number" ? v.toExponential(1) : "–"), numeric: true },
  { key: "hidden", label: "Hidden", value: cfg("hidden"), numeric: true },
  { key: "seed", label: "Seed", value: cfg("seed"), numeric: true },
  { key: "action_masking", label: "Masking", value: cfg("action_masking") },
  { key: "eval/return_mean", label: "Eval return", value: kpi("eval/return_mean"), format: num((v) => fmtNumber(v, 2)), numeric: true },
  { key: "eval/profit_mean", label: "Eval profit", value: kpi("eval/profit_mean"), format: num((v) => fmtNumber(v, 1)), numeric: true },
  { key: "eval/survival_rate", label: "Survival", value: kpi("eval/survival_rate"), format: num((v) => fmtPercent(v)), numeric: true },
  { key: "sps", label: "Steps/s", value: kpi("sps"), format: num(fmtCompact), numeric: true },
];

/** Runs sorted by `sort` ("key" ascending, "-key" descending); missing values last. */
export function sortRuns(runs: RunListItem[], sort: string): RunListItem[] {
  const desc = sort.startsWith("-");
  const col = RUN_COLUMNS.find((c) => c.key === sort.replace(/^-/, "")) ?? RUN_COLUMNS[3];
  return [...runs].sort((a, b) => {
    const va = col.value(a);
    const vb = col.value(b);
    if (va === null || vb === null) return va === vb ? 0 : va === null ? 1 : -1;
    const c = typeof va === "number" && typeof vb === "number" ? va - vb : String(va).localeCompare(String(vb));
    return desc ? -c : c;
  });
}

interface RunsTableProps {
  runs: RunListItem[];
  /** The page's run (always charted, first colour) and the compared ones, in order. */
  charted: string[];
  onToggle: (runId: string) => void;
  onGroup: (group: string) => void;
  sort: string;
  onSort: (sort: string) => void;
}

export function RunsTable({ runs, charted, onToggle, onGroup, sort, onSort }: RunsTableProps) {
  const sorted = sortRuns(runs, sort);
  const groups = [...new Set(runs.map((r) => r.group).filter((g): g is string => !!g))];
  const sortKey = sort.replace(/^-/, "");
  return (
    <div className="runs-table-card" data-testid="runs-table">
      {groups.length > 0 ? (
        <div className="row group-buttons">
          {groups.map((g) => (
            <button key={g} type="button" className="btn btn-small" onClick={() => onGroup(g)}>
              Compare group {g} ({runs.filter((r) => r.group === g).length} runs)
            </button>
          ))}
        </div>
      ) : null}
      <div className="table-wrap">
        <table className="runs">
          <caption className="sr-only">Runs; choose runs to compare on every chart</caption>
          <thead>
            <tr>
              <th scope="col">Compare</th>
              {RUN_COLUMNS.map((c) => (
                <th
                  key={c.key}
                  scope="col"
                  aria-sort={sortKey === c.key ? (sort.startsWith("-") ? "descending" : "ascending") : undefined}
                >
                  <button
                    type="button"
                    className="sort-button"
                    onClick={() => onSort(sortKey === c.key && !sort.startsWith("-") ? `-${c.key}` : c.key)}
                  >
                    {c.label}
                    {sortKey === c.key ? (sort.startsWith("-") ? " ▼" : " ▲") : ""}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {sorted.map((r) => {
              const i = charted.indexOf(r.run_id);
              return (
                <tr key={r.run_id} data-run={r.run_id} className={i >= 0 ? "selected" : ""}>
                  <td>
                    <label className="compare-check">
                      <input
                        type="checkbox"
                        checked={i >= 0}
                        disabled={i === 0}
                        onChange={() => onToggle(r.run_id)}
                        aria-label={`Compare ${r.run_id}`}
                      />
                      {i >= 0 ? <span className="swatch" style={{ background: runColor(i) }} aria-hidden="true" /> : null}
                    </label>
                  </td>
                  {RUN_COLUMNS.map((c) => {
                    const v = c.value(r);
                    return (
                      <td key={c.key} data-col={c.key} data-value={v ?? ""} className={c.numeric ? "num" : ""}>
                        {c.key === "state" ? <StateBadge state={r.state} testId="row-state" /> : c.format ? c.format(v) : (v ?? "–")}
                      </td>
                    );
                  })}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
