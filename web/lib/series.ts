/** Pure helpers for chart data: smoothing, numeric extraction, CSV. */
import { field } from "./types";

/** A finite number or null (rows carry null for non-finite values). */
export function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/**
 * Exponential moving average with bias correction (as TensorBoard does), so the first points
 * are not pulled towards zero. weight 0 returns the raw values; nulls stay null and are skipped.
 */
export function smooth(values: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return values.slice();
  const w = Math.min(weight, 0.999);
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null) return null;
    last = last * w + (1 - w) * v;
    n += 1;
    return last / (1 - Math.pow(w, n));
  });
}

export function column(rows: object[], key: string): (number | null)[] {
  return rows.map((r) => num(field(r, key)));
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: string[], rows: unknown[][]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(",")).join("\n") + "\n";
}

/** Offer `text` as a file download in the browser. */
export function downloadText(filename: string, text: string, mime = "text/csv"): void {
  const url = URL.createObjectURL(new Blob([text], { type: mime }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * Indices of isolated values: a number whose neighbours on both sides are null or absent. A
 * line through one point has no length, so a chart marks these with a dot (a one-window run,
 * or a value between gaps, would otherwise look empty while holding data).
 */
export function isolatedIndices(values: (number | null | undefined)[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] === null || values[i] === undefined) continue;
    const prev = i > 0 ? values[i - 1] : null;
    const next = i + 1 < values.length ? values[i + 1] : null;
    if ((prev === null || prev === undefined) && (next === null || next === undefined)) out.push(i);
  }
  return out;
}

/**
 * Several runs' columns on one shared x-axis (uPlot draws aligned data): x is the sorted union
 * of the runs' x values; each run's values sit at its own x and are null elsewhere. `isolated`
 * holds, per run, the shared indices of the values that are isolated in the run's own data
 * (the nulls that alignment adds do not count).
 */
export function alignRuns(runs: { x: (number | null)[]; values: (number | null)[] }[]): {
  x: number[];
  columns: (number | null)[][];
  isolated: number[][];
} {
  const xs = new Set<number>();
  for (const r of runs) for (const v of r.x) if (v !== null) xs.add(v);
  const x = [...xs].sort((a, b) => a - b);
  const at = new Map(x.map((v, i) => [v, i]));
  const columns: (number | null)[][] = [];
  const isolated: number[][] = [];
  for (const r of runs) {
    const col: (number | null)[] = new Array(x.length).fill(null);
    r.x.forEach((xv, i) => {
      if (xv !== null && r.values[i] !== null && r.values[i] !== undefined) col[at.get(xv)!] = r.values[i];
    });
    columns.push(col);
    isolated.push(isolatedIndices(r.values).flatMap((i) => (r.x[i] === null ? [] : [at.get(r.x[i] as number)!])));
  }
  return { x, columns, isolated };
}
