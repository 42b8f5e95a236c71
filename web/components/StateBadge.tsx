/** Coloured badge for a run's state (running, finished, crashed, failed). */
export function StateBadge({ state, testId = "state-badge" }: { state: string; testId?: string }) {
  const known = ["running", "finished", "crashed", "failed"].includes(state) ? state : "unknown";
  return (
    <span className={`badge badge-${known}`} data-testid={testId}>
      {known === "running" ? <span className="pulse" aria-hidden="true" /> : null}
      {state}
    </span>
  );
}
