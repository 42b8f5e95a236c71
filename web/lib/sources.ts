/** Which sources the site offers: those the service says are available (docs/API.md, Health). */
import type { HealthResponse, Source, SourceAvailability } from "./types";

export interface SourceOption {
  source: Source;
  label: string;
  available: boolean;
  /** Why it is not offered (the service's one line), null when available. */
  reason: string | null;
}

const LABELS: Record<Source, string> = { local: "local run records", wandb: "Weights & Biases" };

function availability(h: SourceAvailability | undefined): { available: boolean; reason: string | null } {
  if (!h) return { available: false, reason: "the service does not report this source" };
  // An older service has no `available`: configured and not known to be unreachable.
  const available = h.available ?? (h.configured && h.reachable !== false);
  return { available, reason: available ? null : (h.reason ?? h.detail ?? null) };
}

/**
 * Every source with whether it is offered. Without health (the service did not answer) only
 * local is offered, so the page still has a source to ask.
 */
export function sourceOptions(health: HealthResponse | null): SourceOption[] {
  return (["local", "wandb"] as const).map((source) => {
    if (!health) return { source, label: LABELS[source], available: source === "local", reason: source === "local" ? null : "the service's health is unknown" };
    const sources = health.sources as unknown as Record<Source, SourceAvailability | undefined>;
    return { source, label: LABELS[source], ...availability(sources[source]) };
  });
}
