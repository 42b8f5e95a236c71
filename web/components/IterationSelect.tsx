"use client";
/**
 * Dropdown of the last 10 iterations (windows), newest first. A window chosen from elsewhere
 * (the URL, a chart) that is not among them is listed too, so the control always shows the
 * page's state. Entries give exact env steps, so neighbouring windows read differently.
 */
import type { WindowRow } from "@/lib/types";
import { fmtInt } from "@/lib/format";

export const MAX_ITERATIONS = 10;

interface IterationSelectProps {
  iterations: WindowRow[];
  value: number | null;
  /** A window the user chose (URL, chart): listed even when it is not among the last 10. */
  chosen?: number | null;
  onChange: (windowId: number) => void;
  disabled?: boolean;
}

export function IterationSelect({ iterations, value, chosen = null, onChange, disabled }: IterationSelectProps) {
  const shown = iterations
    .filter((r): r is WindowRow & { window_id: number } => r.window_id !== null)
    .sort((a, b) => b.window_id - a.window_id)
    .slice(0, MAX_ITERATIONS);
  const latest = shown[0]?.window_id;
  const extra = chosen !== null && !shown.some((r) => r.window_id === chosen) ? chosen : null;
  return (
    <div className="iteration-select">
      <label htmlFor="iteration-select">Iteration</label>
      <select
        id="iteration-select"
        value={value ?? ""}
        disabled={disabled || (shown.length === 0 && extra === null)}
        onChange={(e) => onChange(Number(e.target.value))}
      >
        {shown.length === 0 && extra === null ? <option value="">no iterations yet</option> : null}
        {extra !== null && (latest === undefined || extra > latest) ? <option value={extra}>{`Window ${extra} (chosen)`}</option> : null}
        {shown.map((r) => (
          <option key={r.window_id} value={r.window_id}>
            {`Window ${r.window_id}${r.window_id === latest ? " (latest)" : ""} · ${fmtInt(r.env_steps)} steps`}
          </option>
        ))}
        {extra !== null && latest !== undefined && extra <= latest ? <option value={extra}>{`Window ${extra} (chosen)`}</option> : null}
      </select>
    </div>
  );
}
