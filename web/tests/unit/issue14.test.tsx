import { render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { IterationSelect } from "@/components/IterationSelect";
import { shortVersion } from "@/components/RunDetails";
import { sortRuns } from "@/components/RunsTable";
import { buildChart, TRENDS } from "@/components/TrendCharts";
import { diagnoseUnreachable } from "@/lib/api";
import { sourceOptions } from "@/lib/sources";
import type { HealthResponse, RunListItem } from "@/lib/types";
import { KPIS0, windowRow } from "./fixtures";

const T0 = "2026-11-20T12:00:00Z";

describe("sourceOptions", () => {
  it("test_sourceOptions__offers_only_available_with_reason_for_others", () => {
    const health = {
      status: "ok",
      fetched_at: T0,
      default_source: "local",
      sources: {
        local: { available: true, reason: null, configured: true, reachable: true, detail: "runs" },
        wandb: { available: false, reason: "WANDB_API_KEY is not set", configured: false, reachable: null, detail: "x" },
      },
    } as HealthResponse;
    const o = sourceOptions(health);
    expect(o.filter((x) => x.available).map((x) => x.source)).toEqual(["local"]);
    expect(o.find((x) => x.source === "wandb")?.reason).toBe("WANDB_API_KEY is not set");
  });
  it("test_sourceOptions__without_health_only_local", () => {
    expect(sourceOptions(null).filter((x) => x.available).map((x) => x.source)).toEqual(["local"]);
  });
});

describe("IterationSelect", () => {
  it("test_IterationSelect__a_chosen_older_window_is_listed_and_shown", () => {
    const rows = Array.from({ length: 10 }, (_, i) => windowRow(100 + i));
    render(<IterationSelect iterations={rows} value={5} chosen={5} onChange={() => {}} />);
    const select = screen.getByLabelText("Iteration") as HTMLSelectElement;
    expect(select.value).toBe("5");
    expect(screen.getByRole("option", { name: /Iteration 5 \(chosen\)/ })).toBeInTheDocument();
    const texts = [...select.options].map((o) => o.textContent);
    expect(new Set(texts).size).toBe(texts.length);
  });
});

describe("sortRuns", () => {
  const run = (id: string, ret: number | null, created: string): RunListItem => ({
    run_id: id,
    name: id,
    state: "finished",
    created_at: created,
    updated_at: created,
    window_id: 1,
    env_steps: 1,
    config: { num_envs: 16 },
    kpis: { ...KPIS0, "eval/return_mean": ret },
  });
  const runs = [run("a", 2, "2026-01-02T00:00:00Z"), run("b", null, "2026-01-03T00:00:00Z"), run("c", 5, "2026-01-01T00:00:00Z")];
  it("test_sortRuns__by_kpi_both_ways_missing_last", () => {
    expect(sortRuns(runs, "eval/return_mean").map((r) => r.run_id)).toEqual(["a", "c", "b"]);
    expect(sortRuns(runs, "-eval/return_mean").map((r) => r.run_id)).toEqual(["c", "a", "b"]);
    expect(sortRuns(runs, "-created_at").map((r) => r.run_id)).toEqual(["b", "a", "c"]);
  });
});

describe("shortVersion", () => {
  it("test_shortVersion__commit_shortened_suffix_kept", () => {
    expect(shortVersion("07d14216ecc4c18eda157de48dd9b9c5ef290f26-dirty")).toBe("07d14216ecc4-dirty");
    expect(shortVersion("unknown")).toBe("unknown");
    expect(shortVersion(null)).toBe("not recorded");
  });
});

describe("diagnoseUnreachable", () => {
  afterEach(() => vi.unstubAllGlobals());
  it("test_diagnose__opaque_answer_means_refused_origin", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response(null)));
    const e = await diagnoseUnreachable("http://svc:8123");
    expect(e.code).toBe("origin_refused");
    expect(e.message).toContain(`ALLOWED_ORIGINS=${window.location.origin}`);
  });
  it("test_diagnose__no_answer_means_unreachable", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => Promise.reject(new TypeError("Failed to fetch"))));
    const e = await diagnoseUnreachable("http://svc:8123");
    expect(e.code).toBe("network_error");
    expect(e.message).toContain("nothing answered");
  });
});

describe("buildChart (item 9: compare overlays every series)", () => {
  const rowsOf = (n: number, shift: number) => Array.from({ length: n }, (_, i) => ({ ...windowRow(i), "eval/return_mean": i + shift }));
  it("test_buildChart__every_key_of_every_run_one_colour_per_run", () => {
    const runs = [
      { runId: "a", label: "A", color: "#111111", rows: rowsOf(5, 0) },
      { runId: "b", label: "B", color: "#222222", rows: rowsOf(3, 10) },
    ];
    for (const spec of TRENDS) {
      const { series } = buildChart(spec, runs, "env_steps", 0.5);
      const lines = series.filter((s) => !s.quiet);
      expect(lines.map((s) => s.id)).toEqual(runs.flatMap((r) => spec.keys.map((k) => `${r.runId}|${k.key}`)));
      for (const s of lines) expect(s.color).toBe(runs.find((r) => s.id!.startsWith(`${r.runId}|`))!.color);
      // every line holds its run's values on the shared axis
      for (const s of lines) expect(s.values.filter((v) => v !== null).length).toBe(s.id!.startsWith("a|") ? 5 : 3);
      // one legend group per run; keys told apart by line style
      expect(new Set(lines.map((s) => s.group))).toEqual(new Set(["a", "b"]));
      if (spec.keys.length > 1) expect(new Set(lines.map((s) => JSON.stringify(s.dash ?? null))).size).toBe(spec.keys.length);
    }
  });
  it("test_buildChart__one_run_keeps_key_colours", () => {
    const { series } = buildChart(TRENDS[0], [{ runId: "a", label: "A", color: "#111111", rows: rowsOf(4, 0) }], "env_steps", 0);
    expect(series.map((s) => s.color)).toEqual(TRENDS[0].keys.map((k) => k.color));
  });
});
