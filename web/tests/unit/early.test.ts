import { afterEach, describe, expect, it, vi } from "vitest";
import { TRENDS } from "@/components/TrendCharts";
import { createClient } from "@/lib/api";
import { apiPaths, earlyScript, HISTORY_POINTS, ITERATIONS_LIMIT, RUNS_LIMIT, takeEarly, TREND_KEYS } from "@/lib/early";

const BASE = "http://svc.test:8123";

/** A fake service: JSON per path, and the URLs asked, in order. */
function stubFetch() {
  const asked: string[] = [];
  const body = (url: string): unknown => {
    if (url.endsWith("/api/health")) return { default_source: "local" };
    if (url.includes("/runs?limit=")) return { runs: [{ run_id: "newest run" }, { run_id: "older" }] };
    if (url.endsWith("/summary")) return { kpis: { window_id: 41 } };
    return { ok: true };
  };
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      asked.push(url);
      return new Response(JSON.stringify(body(url)), { status: 200, headers: { "Content-Type": "application/json" } });
    }),
  );
  return asked;
}

async function runScript(search: string) {
  window.history.replaceState(null, "", `/analytics${search}`);
  new Function(earlyScript(BASE))();
  // let the chained requests go out
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
}

afterEach(() => {
  vi.unstubAllGlobals();
  delete (window as unknown as Record<string, unknown>).__caravanEarly;
});

describe("early requests (lib/early.ts)", () => {
  it("test_early__trend_keys_are_the_charts_keys", () => {
    expect(TREND_KEYS).toEqual(["env_steps", "wall_time_s", ...TRENDS.flatMap((t) => t.keys.map((k) => k.key))]);
  });

  it("test_early__source_and_run_from_url_asks_the_clients_exact_paths", async () => {
    const asked = stubFetch();
    await runScript("?source=local&run=a%20b&iteration=7");
    const R = (p: string) => `${BASE}${p}`;
    expect(asked).toEqual([
      R(apiPaths.health()),
      R(apiPaths.runs("local", RUNS_LIMIT)),
      R(apiPaths.summary("local", "a b")),
      R(apiPaths.iterations("local", "a b", ITERATIONS_LIMIT)),
      R(apiPaths.history("local", "a b", HISTORY_POINTS, TREND_KEYS)),
      R(apiPaths.iteration("local", "a b", 7)),
    ]);
  });

  it("test_early__default_source_newest_run_latest_window", async () => {
    const asked = stubFetch();
    await runScript("?source=bogus");
    expect(asked).toContain(`${BASE}${apiPaths.summary("local", "newest run")}`);
    expect(asked).toContain(`${BASE}${apiPaths.iteration("local", "newest run", 41)}`);
  });

  it("test_early__client_takes_each_early_answer_once", async () => {
    const asked = stubFetch();
    await runScript("?source=local&run=r1");
    const n = asked.length;
    const client = createClient(BASE);
    expect(await client.summary("local", "r1")).toEqual({ kpis: { window_id: 41 } });
    expect(await client.history("local", "r1", HISTORY_POINTS, TREND_KEYS)).toEqual({ ok: true });
    expect(asked.length).toBe(n);
    // a poll asks the service again
    await client.summary("local", "r1");
    expect(asked.length).toBe(n + 1);
    expect(takeEarly(`${BASE}${apiPaths.summary("local", "r1")}`)).toBeNull();
  });
});
