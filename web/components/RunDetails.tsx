"use client";
/** The run itself: code version, duration, group, start time and its whole config. */
import { fmtDuration } from "@/lib/format";
import type { SummaryResponse } from "@/lib/types";

function show(v: unknown): string {
  if (v === null || v === undefined) return "–";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** A git commit shortened to 12 hex digits (its "-dirty" suffix kept); other strings as they are. */
export function shortVersion(v: string | null | undefined): string {
  if (!v) return "not recorded";
  const m = /^([0-9a-f]{12})[0-9a-f]{28}(.*)$/.exec(v);
  return m ? `${m[1]}${m[2]}` : v;
}

export function RunDetails({ run }: { run: SummaryResponse["run"] }) {
  const config = run.full_config ?? run.config ?? {};
  const entries = Object.entries(config).sort(([a], [b]) => a.localeCompare(b));
  return (
    <div className="run-details" data-testid="run-details">
      <dl className="metrics">
        <div data-testid="run-code-version" data-value={run.code_version ?? ""}>
          <dt>Code version</dt>
          <dd>
            <code title={run.code_version ?? undefined}>{shortVersion(run.code_version)}</code>
          </dd>
        </div>
        <div data-testid="run-duration" data-value={run.duration_s ?? ""}>
          <dt>Training time</dt>
          <dd>{fmtDuration(run.duration_s ?? null)}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{run.created_at ? new Date(run.created_at).toLocaleString() : "–"}</dd>
        </div>
        <div>
          <dt>Group</dt>
          <dd>{run.group ? `${run.group} (seed ${run.seed_index ?? "?"})` : "single run"}</dd>
        </div>
      </dl>
      <details className="config">
        <summary>Config ({entries.length} settings)</summary>
        <table className="config-table" data-testid="run-config">
          <tbody>
            {entries.map(([k, v]) => (
              <tr key={k} data-key={k}>
                <th scope="row">{k}</th>
                <td>{show(v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </div>
  );
}
