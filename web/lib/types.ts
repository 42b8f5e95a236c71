/** Shapes of the analytics service's payloads (docs/API.md) and of the game view. */

import type { components } from "./api-schema";

type Schemas = components["schemas"];

// Wire types come straight from the service's OpenAPI schema (lib/api-schema.d.ts, generated
// by scripts/gen-api-types.mjs; the e2e suite checks it against the live service).
export type Source = RunsResponse["source"];
export type RunState = Schemas["RunInfo"]["state"];
export type RunListItem = Schemas["RunInfo"];
export type RunsResponse = Schemas["RunsResponse"];
export type SummaryResponse = Schemas["SummaryResponse"];
export type Kpis = Schemas["Kpis"];
export type WindowRow = Schemas["WindowRow"];
export type UpdateRow = Schemas["UpdateRow"];
export type HistoryResponse = Schemas["HistoryResponse"];
/** A /history row: `window_id` plus the keys asked for (every window key by default). */
export type HistoryRow = Schemas["HistoryRow"];
export type IterationsResponse = Schemas["IterationsResponse"];
export type EvalReplay = Schemas["ReplayEpisode"];
export type IterationEval = Schemas["EvalDetail"];
export type IterationResponse = Schemas["IterationResponse"];
export type ReplayableWindow = Schemas["ReplayableWindow"];
export type ReplayableResponse = Schemas["ReplayableResponse"];
export type SourceAvailability = Schemas["SourceHealth"];
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
