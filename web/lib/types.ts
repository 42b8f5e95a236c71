/**
 * Shapes of the analytics service's payloads (docs/API.md). The wire types are checked
 * against the service's OpenAPI schema in tests/unit/api-schema.test.ts.
 */

export type Source = "wandb" | "local";
export type RunState = "running" | "finished" | "crashed" | "failed";

export interface Envelope {
  source: Source;
  fetched_at: string;
  stale: boolean;
}

export interface RunListItem {
  run_id: string;
  name: string;
  state: RunState | string;
  created_at: string;
  updated_at: string;
  window_id: number | null;
  env_steps: number | null;
}

export interface RunsResponse extends Envelope {
  runs: RunListItem[];
}

export interface RunConfigSummary {
  num_envs?: number;
  rollout_steps?: number;
  updates_per_window?: number;
  total_steps?: number;
  lr?: number;
  hidden?: number;
  seed?: number;
  action_masking?: boolean;
  [key: string]: unknown;
}

export interface Kpis {
  "eval/return_mean": number | null;
  "eval/profit_mean": number | null;
  "eval/survival_rate": number | null;
  "eval/invalid_action_rate": number | null;
  sps: number | null;
  env_steps: number | null;
  window_id: number | null;
}

export interface SummaryResponse extends Envelope {
  run: Omit<RunListItem, "window_id" | "env_steps"> & { config: RunConfigSummary };
  kpis: Kpis;
}

/** One window (iteration) row: window_id, env_steps, wall_time_s, sps and every metric key. */
export type WindowRow = {
  window_id: number;
  env_steps: number;
  wall_time_s: number;
  sps: number | null;
} & Record<string, number | string | null>;

export type UpdateRow = { window_id: number; update: number; env_steps: number } & Record<
  string,
  number | null
>;

export interface HistoryResponse extends Envelope {
  run_id: string;
  total_rows: number;
  downsampled: boolean;
  rows: WindowRow[];
}

export interface IterationsResponse extends Envelope {
  run_id: string;
  iterations: WindowRow[];
}

export interface Histogram {
  bin_edges: number[];
  counts: number[];
}

export interface IterationEval {
  histograms: { return: Histogram; profit: Histogram };
  action_mix: Record<string, number>;
  replay_seeds: number[];
}

export interface IterationResponse extends Envelope {
  run_id: string;
  window_id: number;
  row: WindowRow;
  updates: UpdateRow[];
  eval: IterationEval | null;
}

export interface HealthResponse {
  status: string;
  fetched_at: string;
  sources: Record<string, { configured: boolean; reachable: boolean | null; detail: string }>;
  default_source: Source;
}

export interface ApiErrorBody {
  error: { code: string; message: string; retry_after_s?: number };
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

export interface ActionRef {
  action: number;
  label: string;
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

export interface EpisodeMetrics {
  return: number;
  profit: number;
  length: number;
  invalid_actions: number;
  survived: boolean | null;
}

export interface PlaySession {
  session_id: string;
  seed: number;
  expires_at: string;
  done: boolean;
  reward: number;
  last_action: ActionRef | null;
  invalid: boolean;
  view: GameView;
  episode: EpisodeMetrics;
}

export type ReplayMessage =
  | { type: "start"; run_id: string; window_id: number; seed: number; pace_ms: number }
  | { type: "step"; t: number; action: ActionRef; reward: number; view: GameView }
  | { type: "end"; episode: EpisodeMetrics };
