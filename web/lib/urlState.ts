"use client";
/**
 * Everything the analytics page shows is in its URL (nuqs), so a view can be shared or
 * reloaded as it is: source, run, chosen iteration, compared runs, chart settings and the
 * chosen metrics. Invalid values read as absent (the default).
 */
import {
  createParser,
  parseAsArrayOf,
  parseAsFloat,
  parseAsInteger,
  parseAsString,
  parseAsStringLiteral,
  useQueryStates,
} from "nuqs";

export const X_MODES = ["env_steps", "wall_time_s"] as const;
export type XMode = (typeof X_MODES)[number];

/** Charts on the "every metric" card shown until the user chooses. */
export const DEFAULT_METRICS = [
  "loss/policy",
  "loss/value",
  "loss/entropy",
  "loss/approx_kl",
  "loss/clip_frac",
  "opt/grad_norm",
  "opt/lr",
  "loss/explained_variance",
];

/** A run id: an empty `?run=` is absent (the newest run), as lib/early.ts reads it. */
const parseAsRunId = createParser({ parse: (v: string) => (v === "" ? null : v), serialize: (v: string) => v });
/**
 * A window id: digits only. parseAsInteger would read "1.5" or "12abc" as a window the URL does
 * not name; lib/early.ts reads the same digits.
 */
export const WINDOW_ID_RE = /^\d{1,15}$/;
const parseAsWindowId = createParser({ parse: (v: string) => (WINDOW_ID_RE.test(v) ? Number(v) : null), serialize: (v: number) => String(v) });

export const analyticsParams = {
  source: parseAsStringLiteral(["local", "wandb"] as const),
  run: parseAsRunId,
  iteration: parseAsWindowId,
  /** Runs overlaid on every chart besides `run` (comma-separated ids). */
  compare: parseAsArrayOf(parseAsString).withDefault([]),
  x: parseAsStringLiteral(X_MODES).withDefault("env_steps"),
  smooth: parseAsFloat.withDefault(0.6),
  /** Metric keys charted on the "every metric" card. */
  metrics: parseAsArrayOf(parseAsString).withDefault(DEFAULT_METRICS),
  /** Chart ids drawn on a log y-axis. */
  log: parseAsArrayOf(parseAsString).withDefault([]),
  /** Chart ids whose fixed 0–100 % axis is replaced by the data's own range. */
  auto: parseAsArrayOf(parseAsString).withDefault([]),
  /** Runs-table sort: column key, "-" prefix for descending. */
  sort: parseAsString.withDefault("-created_at"),
};

export function useAnalyticsUrl() {
  return useQueryStates(analyticsParams, { history: "replace" });
}

export type AnalyticsUrl = ReturnType<typeof useAnalyticsUrl>[0];
export type SetAnalyticsUrl = ReturnType<typeof useAnalyticsUrl>[1];

/** Toggle `id` in a list-valued URL key. */
export function toggled(list: string[], id: string): string[] {
  return list.includes(id) ? list.filter((x) => x !== id) : [...list, id];
}
