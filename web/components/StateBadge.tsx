/** Coloured badge for a run's state (docs/API.md: running, stalled, finished, crashed, failed, killed). */
export function StateBadge({ state, testId = "state-badge" }: { state: string; testId?: string }) {
  const known = ["running", "stalled", "finished", "crashed", "failed", "killed"].includes(state) ? state : "unknown";
  return (
    <span className={`badge badge-${known}`} data-testid={testId}>
      {known === "running" ? <span className="pulse" aria-hidden="true" /> : null}
      {state}
    </span>
  );
}
