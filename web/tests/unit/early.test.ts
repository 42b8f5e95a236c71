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

// breakweb: an early answer is for the page's first run only. Anything that leaves one unused
// (a URL the script reads differently, the page's run changed) must not serve it later, when it
// is stale, as the answer to a fresh request.
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { NuqsAdapter } from "nuqs/adapters/react";
import { createElement } from "react";
import { AnalyticsDashboard } from "@/components/AnalyticsDashboard";
import { fakeClient } from "./fixtures";

/** A service on fetch, answering from the unit fixtures' fake client; the URLs asked, in order. */
function fakeService() {
  const { client } = fakeClient({ windows: 15 });
  const asked: string[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      asked.push(url);
      const u = new URL(url);
      const p = decodeURIComponent(u.pathname);
      const run = p.match(/^\/api\/local\/runs\/([^/]+)\//)?.[1] ?? "";
      let body: unknown = null;
      if (p === "/api/health") body = await client.health();
      else if (p === "/api/local/runs") body = await client.runs("local");
      else if (p.endsWith("/summary")) body = await client.summary("local", run);
      else if (p.endsWith("/history")) body = await client.history("local", run, 1000, u.searchParams.get("keys")?.split(","));
      else if (p.endsWith("/iterations")) body = await client.iterations("local", run, Number(u.searchParams.get("limit")));
      else if (/\/iterations\/\d+$/.test(p)) body = await client.iteration("local", run, Number(p.split("/").pop()));
      else return new Response(JSON.stringify({ detail: "not found" }), { status: 404 });
      return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
    }),
  );
  return asked;
}

describe("early answers belong to the page's first run (breakweb)", () => {
  it("test_early__unused_answers_of_another_run_are_not_served_later", async () => {
    const asked = fakeService();
    // the script started run-a's requests; the page's run is run-b (any disagreement between them)
    await runScript("?source=local&run=run-a");
    window.history.replaceState(null, "", "/analytics?source=local&run=run-b");
    render(createElement(AnalyticsDashboard, { client: createClient(BASE) }), { wrapper: NuqsAdapter });
    await waitFor(() => expect(screen.getByTestId("kpi-window")).toHaveTextContent("14"));
    const summaryA = `${BASE}${apiPaths.summary("local", "run-a")}`;
    expect(asked.filter((u) => u === summaryA)).toHaveLength(1);
    // the user picks run-a later: its summary is asked anew, not taken from the page's load
    fireEvent.change(screen.getByLabelText("Run"), { target: { value: "run-a" } });
    await waitFor(() => expect(asked.filter((u) => u === summaryA)).toHaveLength(2));
    expect(asked.filter((u) => u === `${BASE}${apiPaths.history("local", "run-a", HISTORY_POINTS, TREND_KEYS)}`)).toHaveLength(2);
  });

  it("test_early__empty_run_param_reads_as_absent_in_script_and_page", async () => {
    const asked = fakeService();
    await runScript("?source=local&run=");
    expect(asked).toContain(`${BASE}${apiPaths.summary("local", "run-b")}`);
    const n = asked.length;
    render(createElement(AnalyticsDashboard, { client: createClient(BASE) }), { wrapper: NuqsAdapter });
    // the page shows the newest run from the script's answers, asking nothing twice
    await waitFor(() => expect(screen.getByTestId("kpi-window")).toHaveTextContent("14"));
    await screen.findByTestId("iteration-panel");
    expect(asked.slice(0, n).filter((u) => u.endsWith("/summary"))).toHaveLength(1);
    const early = [apiPaths.summary("local", "run-b"), apiPaths.history("local", "run-b", HISTORY_POINTS, TREND_KEYS), apiPaths.iterations("local", "run-b", ITERATIONS_LIMIT)];
    expect(asked.slice(n).filter((u) => early.some((p) => u === `${BASE}${p}`))).toEqual([]);
  });

  it.each(["1.5", "-1", "12abc", "1e1", ""])("test_early__malformed_iteration_%s_reads_as_latest_in_script_and_page", async (bad) => {
    const asked = fakeService();
    await runScript(`?source=local&run=run-b&iteration=${encodeURIComponent(bad)}`);
    // the script asks the latest window's panel (from the summary), as the page will
    expect(asked).toContain(`${BASE}${apiPaths.iteration("local", "run-b", 14)}`);
    render(createElement(AnalyticsDashboard, { client: createClient(BASE) }), { wrapper: NuqsAdapter });
    await waitFor(() => expect(screen.getByTestId("kpi-window")).toHaveTextContent("14"));
    expect(screen.getByTestId("kpi-card")).toHaveTextContent("Latest KPIs");
    expect(screen.getByLabelText("Iteration")).toHaveValue("14");
  });
});

describe("early answers that went wrong (breakweb)", () => {
  it("test_early__error_answer_is_the_services_message_once_then_asked_again", async () => {
    const asked: string[] = [];
    let fail = true;
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        asked.push(url);
        if (url.endsWith("/summary") && fail)
          return new Response(JSON.stringify({ error: { code: "upstream_error", message: "run.json is damaged" } }), { status: 500, headers: { "Content-Type": "application/json" } });
        return new Response(JSON.stringify({ ok: true, kpis: { window_id: 1 } }), { status: 200, headers: { "Content-Type": "application/json" } });
      }),
    );
    await runScript("?source=local&run=r1");
    const client = createClient(BASE);
    await expect(client.summary("local", "r1")).rejects.toThrow(/run\.json is damaged/);
    fail = false;
    // Retry: the network, not the early error again
    await expect(client.summary("local", "r1")).resolves.toMatchObject({ ok: true });
    expect(asked.filter((u) => u.endsWith("/summary"))).toHaveLength(2);
  });

  it("test_early__refused_or_unreachable_early_request_is_asked_again_by_the_client", async () => {
    const asked: string[] = [];
    let down = true;
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        asked.push(url);
        if (down) throw new TypeError("Failed to fetch");
        return new Response(JSON.stringify({ ok: true }), { status: 200, headers: { "Content-Type": "application/json" } });
      }),
    );
    await runScript("?source=local&run=r1");
    expect(asked.some((u) => u.endsWith("/summary"))).toBe(true);
    down = false;
    const client = createClient(BASE);
    await expect(client.summary("local", "r1")).resolves.toEqual({ ok: true });
    expect(asked.filter((u) => u.endsWith("/summary"))).toHaveLength(2);
  });
});
