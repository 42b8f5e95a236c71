"use client";
/** Run picker: the last runs newest first, with the chosen run's state badge and last update age. */
import { fmtAgo } from "@/lib/format";
import { useNow } from "@/lib/useApi";
import type { RunListItem } from "@/lib/types";
import { StateBadge } from "./StateBadge";

interface RunPickerProps {
  runs: RunListItem[];
  value: string | null;
  onChange: (runId: string) => void;
}

export function RunPicker({ runs, value, onChange }: RunPickerProps) {
  const now = useNow(1000);
  const current = runs.find((r) => r.run_id === value) ?? null;
  return (
    <div className="run-picker">
      <label htmlFor="run-select">Run</label>
      <select id="run-select" value={value ?? ""} onChange={(e) => onChange(e.target.value)}>
        {runs.map((r) => (
          <option key={r.run_id} value={r.run_id}>
            {r.name && r.name !== r.run_id ? `${r.name} (${r.run_id})` : r.run_id} · {r.state}
          </option>
        ))}
        {/* The page's run even when nothing describes it (not found, or not loaded yet): the
            picker never shows another run than the page's. */}
        {value && !current ? <option value={value}>{value}</option> : null}
      </select>
      {current ? (
        <>
          <StateBadge state={current.state} />
          <span className="muted" data-testid="updated-ago" title={current.updated_at ?? undefined}>
            updated {fmtAgo(current.updated_at, now)}
          </span>
        </>
      ) : null}
    </div>
  );
}
