/** Realistic payloads in the shapes of docs/API.md, and a fake client serving them. */
import { ApiError, type ApiClient } from "@/lib/api";
import type { GameView, IterationResponse, PlaySession, RunState, RunsResponse, UpdateRow, WindowRow } from "@/lib/types";

const T0 = "2026-01-01T00:00:00Z";

export function windowRow(w: number): WindowRow {
  return ({
    window_id: w,
    env_steps: (w + 1) * 4096,
    first_update: w * 4,
    last_update: w * 4 + 3,
    wall_time_s: 1.5 * (w + 1),
    window_time_s: 1.5,
    sps: 2700 + w,
    "train/return_mean": w * 0.5,
    "train/profit_mean": w * 10,
    "train/survival_rate": 0.5,
    "train/invalid_action_rate": 0.1,
    "eval/return_mean": 1 + w * 0.25,
    "eval/return_p10": w * 0.1,
    "eval/return_p90": 2 + w * 0.3,
    "eval/profit_mean": 100 + w * 7,
    "eval/survival_rate": Math.min(1, 0.3 + w * 0.02),
    "eval/invalid_action_rate": 0.05 / (w + 1),
    "loss/policy": -0.01,
    "loss/value": 0.5,
    "loss/entropy": 3.1,
    "loss/approx_kl": 0.01,
    "loss/explained_variance": 0.2,
    timestamp: T0,
  } as Partial<WindowRow>) as WindowRow;
}

export function makeIteration(runId: string, w: number, withEval = true): IterationResponse {
  return {
    source: "local",
    fetched_at: T0,
    stale: false,
    run_id: runId,
    window_id: w,
    replayable: true,
    row: windowRow(w),
    updates: [0, 1, 2, 3].map((u) => ({
      window_id: w,
      update: w * 4 + u,
      env_steps: w * 4096 + (u + 1) * 1024,
      "loss/policy": -0.01 * u,
      "loss/value": 0.5 - 0.1 * u,
      "loss/entropy": 3 - 0.01 * u,
      "loss/approx_kl": 0.01,
    })) as unknown as UpdateRow[],
    eval: withEval
      ? {
          histograms: {
            return: { bin_edges: Array.from({ length: 21 }, (_, i) => i), counts: Array.from({ length: 20 }, (_, i) => i % 5) },
            profit: { bin_edges: Array.from({ length: 21 }, (_, i) => i * 10), counts: Array.from({ length: 20 }, () => 2) },
          },
          action_mix: { wait: 0.1, travel: 0.2, buy: 0.3, sell: 0.4 },
          replay_seeds: [1000003],
        }
      : null,
  };
}

export interface FakeOptions {
  windows?: number;
  state?: RunState;
  stale?: boolean;
  failIteration?: ApiError | null;
  failHistory?: ApiError | null;
}

export const KPIS0 = {
  "eval/return_mean": null,
  "eval/profit_mean": null,
  "eval/survival_rate": null,
  "eval/invalid_action_rate": null,
  sps: null,
  env_steps: null,
  window_id: null,
};

export function fakeClient(opts: FakeOptions = {}) {
  const n = opts.windows ?? 15;
  const rows = Array.from({ length: n }, (_, i) => windowRow(i));
  const calls: string[] = [];
  const env = { source: "local" as const, fetched_at: T0, stale: opts.stale ?? false };
  const runs: RunsResponse = {
    ...env,
    runs: [
      { run_id: "run-b", name: "run-b", state: opts.state ?? "finished", created_at: T0, updated_at: T0, window_id: n - 1, env_steps: n * 4096, config: {}, kpis: KPIS0 },
      { run_id: "run-a", name: "older", state: "crashed", created_at: T0, updated_at: T0, window_id: 3, env_steps: 4 * 4096, config: {}, kpis: KPIS0 },
    ],
  };
  const last = rows[n - 1];
  const state = {
    failIteration: opts.failIteration ?? null,
    failHistory: opts.failHistory ?? null,
  };
  const client = {
    health: async () => {
      calls.push("health");
      return {
        status: "ok",
        fetched_at: T0,
        sources: {
          local: { available: true, reason: null, configured: true, reachable: true, detail: "runs" },
          wandb: { available: false, reason: "WANDB_API_KEY is not set", configured: false, reachable: null, detail: "WANDB_API_KEY not set" },
        },
        default_source: "local" as const,
      };
    },
    runs: async () => {
      calls.push("runs");
      return runs;
    },
    summary: async (_s: string, runId: string) => {
      calls.push(`summary:${runId}`);
      return {
        ...env,
        run: { ...runs.runs[0], run_id: runId, config: {} },
        kpis: {
          "eval/return_mean": last["eval/return_mean"] as number,
          "eval/profit_mean": last["eval/profit_mean"] as number,
          "eval/survival_rate": last["eval/survival_rate"] as number,
          "eval/invalid_action_rate": last["eval/invalid_action_rate"] as number,
          sps: last.sps,
          env_steps: last.env_steps,
          window_id: last.window_id,
        },
      };
    },
    history: async (_s: string, runId: string, maxPoints = 1000, keys?: string[]) => {
      calls.push(`history:${runId}:${maxPoints}:${keys ? keys.join(",") : "all"}`);
      if (state.failHistory) throw state.failHistory;
      return { ...env, run_id: runId, total_rows: n, downsampled: false, rows };
    },
    iterations: async (_s: string, runId: string, limit = 10) => {
      calls.push(`iterations:${runId}:${limit}`);
      return { ...env, run_id: runId, iterations: [...rows].reverse().slice(0, limit) };
    },
    iteration: async (_s: string, runId: string, w: number) => {
      calls.push(`iteration:${runId}:${w}`);
      if (state.failIteration) throw state.failIteration;
      return { ...makeIteration(runId, w), ...env };
    },
    windowsCsvUrl: (source: string, runId: string) => `http://svc.test/api/${source}/runs/${runId}/windows.csv`,
    // Checkpoints kept: windows 14, 12 and 10 (the others were pruned).
    replayable: async (_s: string, runId: string) => ({
      ...env,
      run_id: runId,
      windows: [14, 12, 10].map((w) => ({
        window_id: w,
        env_steps: (w + 1) * 4096,
        policy: "sampled" as const,
        replays: (["best", "median", "worst"] as const).map((rank, i) => ({
          rank,
          seed: 1000000 + w * 10 + i,
          return: 5 - i,
          profit: 100 - i,
          survived: true,
          length: 360,
        })),
      })),
    }),
    newGame: async () => {
      throw new Error("not used");
    },
    game: async () => {
      throw new Error("not used");
    },
    step: async () => {
      throw new Error("not used");
    },
  } as unknown as ApiClient;
  return { client, calls, rows, state, runs };
}

export function gameView(day = 0, validActions: number[] = [0, 2, 9, 33]): GameView {
  const goods = ["Provisions", "Salt", "Cloth", "Spice", "Iron", "Wool", "Wine", "Silk", "Tea", "Furs", "Medicine", "Gems"];
  const towns = ["Brindle", "Carrow", "Dunmere", "Ashford", "Eastwick", "Fallow", "Greyhold", "Harth"];
  const labels = (a: number) =>
    a === 0 ? "Wait" : a <= 8 ? `Travel to ${towns[a - 1]}` : a <= 20 ? `Buy 1 ${goods[a - 9]}` : `Sell 1 ${goods[a - 33]}`;
  return {
    day,
    max_days: 360,
    days_left: 360 - day,
    town: { id: 0, name: "Brindle" },
    cash: 500,
    cash_cents: 50000,
    health: 100,
    provisions: 9,
    capacity: { used: 9, max: 100, free: 91 },
    net_worth: 572,
    terminated: false,
    truncated: false,
    done: false,
    cargo: [{ good: 0, name: "Provisions", units: 9, weight: 9, fair_value: 8 }],
    market: goods.map((g, i) => ({
      good: i,
      name: g,
      price: 10 + i,
      sell_price: 9 + i,
      fair_value: 10 + i,
      weight: 1,
      held: i === 0 ? 9 : 0,
      last_seen: towns.map((t, j) => ({ town: j, name: t, price: j === 1 ? 12 + i : null, age_days: j === 1 ? 4 : null })),
    })),
    towns: towns.map((t, i) => ({ id: i, name: t, x: (i % 4) / 3, y: Math.floor(i / 4), visited: i === 0 })),
    roads: [
      { a: 0, b: 1, danger: 0 },
      { a: 1, b: 2, danger: 3 },
    ],
    roads_here: [{ to: 1, name: "Carrow", danger: 0 }],
    valid_actions: validActions.map((a) => ({ action: a, label: labels(a) })),
    episode: { return: 0, profit: 0, length: day, invalid_actions: 0 },
  };
}

export function session(day: number, done = false, valid?: number[]): PlaySession {
  return {
    session_id: "s1",
    seed: 7,
    expires_at: T0,
    idle_expiry_s: 600,
    done,
    reward: 0.01,
    last_action: day > 0 ? { action: 0, label: "Wait" } : null,
    invalid: false,
    view: { ...gameView(day, valid), done },
    episode: { return: day * 0.01, profit: 3, length: day, invalid_actions: 0, survived: done ? false : null },
  };
}

export { ApiError };
