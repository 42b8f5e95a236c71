/** Shapes of the analytics service's payloads (docs/API.md) and of the game view. */

import type { components } from "./api-schema";

type Schemas = components["schemas"];

// Wire types come straight from the service's OpenAPI schema (lib/api-schema.d.ts, generated
// by scripts/gen-api-types.mjs; the e2e suite checks it against the live service).
export type Source = RunsResponse["source"];
export type RunState = "running" | "finished" | "crashed" | "failed";
// Fields of the issue-14 contract (docs/API.md); optional here so the site also reads an older
// service, and intersected so the regenerated schema's own (stricter) types win.
export interface RunExtras {
  group?: string | null;
  seed_index?: number | null;
  code_version?: string | null;
  duration_s?: number | null;
  config?: Record<string, unknown> | null;
  kpis?: Partial<Record<string, number | null>> | null;
  full_config?: Record<string, unknown> | null;
}
export type RunListItem = Schemas["RunInfo"] & RunExtras;
export type RunsResponse = Omit<Schemas["RunsResponse"], "runs"> & { runs: RunListItem[] };
export type SummaryResponse = Omit<Schemas["SummaryResponse"], "run"> & { run: Schemas["SummaryResponse"]["run"] & RunExtras };
export type Kpis = Schemas["Kpis"];
export type WindowRow = Schemas["WindowRow"];
export type UpdateRow = Schemas["UpdateRow"];
export type HistoryResponse = Schemas["HistoryResponse"] & { buckets?: number | null; keys?: string[] };
export type IterationsResponse = Schemas["IterationsResponse"];
export interface EvalReplay {
  rank: "best" | "median" | "worst" | string;
  seed: number;
  return: number | null;
  profit: number | null;
  survived: boolean | null;
  length: number | null;
}
export type IterationEval = Schemas["EvalDetail"] & { policy?: string | null; replays?: EvalReplay[] };
export type IterationResponse = Omit<Schemas["IterationResponse"], "eval"> & { eval: IterationEval | null; replayable?: boolean };
export interface ReplayableWindow {
  window_id: number;
  env_steps: number | null;
  policy: string | null;
  replays: EvalReplay[];
}
export type ReplayableResponse = Envelope & { run_id: string; windows: ReplayableWindow[] };
export interface SourceAvailability {
  available?: boolean;
  reason?: string | null;
  configured: boolean;
  reachable: boolean | null;
  detail: string;
}
export type Histogram = Schemas["Histogram"];
export type HealthResponse = Schemas["HealthResponse"];
export type ApiErrorBody = Schemas["ErrorResponse"];
export type EpisodeMetrics = Schemas["EpisodeMetrics"];
export type ActionRef = Schemas["ActionTaken"];
export type Envelope = Pick<RunsResponse, "source" | "fetched_at" | "stale">;

/** A row's value by a metric key held in a string (rows are typed by their fixed keys). */
export function field(row: object, key: string): unknown {
  return (row as Record<string, unknown>)[key];
}

// ---- play (envjax.render.describe, docs/INTERFACES.md) ----

export interface LastSeen {
  town: number;
  name: string;
  price: number | null;
  age_days: number | null;
}

export interface MarketRow {
  good: number;
  name: string;
  price: number;
  sell_price: number;
  fair_value: number;
  weight: number;
  held: number;
  last_seen: LastSeen[];
}

export interface CargoRow {
  good: number;
  name: string;
  units: number;
  weight: number;
  fair_value: number;
}

export interface Town {
  id: number;
  name: string;
  x: number;
  y: number;
  visited: boolean;
}

export interface Road {
  a: number;
  b: number;
  danger: number;
}

export interface GameView {
  day: number;
  max_days: number;
  days_left: number;
  town: { id: number; name: string };
  cash: number;
  cash_cents: number;
  health: number;
  provisions: number;
  capacity: { used: number; max: number; free: number };
  net_worth: number;
  terminated: boolean;
  truncated: boolean;
  done: boolean;
  cargo: CargoRow[];
  market: MarketRow[];
  towns: Town[];
  roads: Road[];
  roads_here: { to: number; name: string; danger: number }[];
  valid_actions: ActionRef[];
  episode: { return: number; profit: number; length: number; invalid_actions: number };
}

/** A play session; the schema leaves `view` open, its shape is envjax.render.describe. */
export type PlaySession = Omit<Schemas["PlayState"], "view"> & { view: GameView };

export type ReplayMessage =
  | {
      type: "start";
      run_id: string;
      window_id: number;
      seed: number;
      pace_ms: number;
      policy?: string | null;
      rank?: string | null;
      eval_return?: number | null;
      label?: string | null;
    }
  | { type: "step"; t: number; action: ActionRef; reward: number; view: GameView }
  | { type: "end"; episode: EpisodeMetrics };
