"use client";
/** Dropdown of the last 10 iterations (windows), newest first; never lists more than 10. */
import type { WindowRow } from "@/lib/types";
import { fmtCompact } from "@/lib/format";

export const MAX_ITERATIONS = 10;

interface IterationSelectProps {
  iterations: WindowRow[];
  value: number | null;
  onChange: (windowId: number) => void;
  disabled?: boolean;
}

export function IterationSelect({ iterations, value, onChange, disabled }: IterationSelectProps) {
  const shown = iterations
    .filter((r): r is WindowRow & { window_id: number } => r.window_id !== null)
    .sort((a, b) => b.window_id - a.window_id)
    .slice(0, MAX_ITERATIONS);
  const latest = shown[0]?.window_id;
  return (
    <div className="iteration-select">
      <label htmlFor="iteration-select">Iteration</label>
      <select
        id="iteration-select"
        value={value ?? ""}
        disabled={disabled || shown.length === 0}
        onChange={(e) => onChange(Number(e.target.value))}
      >
        {shown.length === 0 ? <option value="">no iterations yet</option> : null}
        {shown.map((r) => (
          <option key={r.window_id} value={r.window_id}>
            {`Iteration ${r.window_id}${r.window_id === latest ? " (latest)" : ""} · ${fmtCompact(r.env_steps)} steps`}
          </option>
        ))}
      </select>
    </div>
  );
}
