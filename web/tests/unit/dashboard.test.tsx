import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { NuqsAdapter } from "nuqs/adapters/react";
import type { ReactElement } from "react";
import { beforeEach, describe, expect, it } from "vitest";
import { AnalyticsDashboard } from "@/components/AnalyticsDashboard";
import { ApiError } from "@/lib/api";
import type { Source } from "@/lib/types";
import { fakeClient, windowRow } from "./fixtures";
import { plots, resetPlots } from "./plots";

// The dashboard keeps its state in the URL through nuqs; the plain-React adapter reads and
// writes window.location, as the Next adapter does in the browser.
const renderDash = (ui: ReactElement) => render(ui, { wrapper: NuqsAdapter });

beforeEach(() => {
  window.history.replaceState(null, "", "/analytics");
  resetPlots();
});

async function kpiText(key: string) {
  return within(await screen.findByTestId(`kpi-${key}`)).getByText(/./, { selector: ".kpi-value" }).textContent;
}

describe("AnalyticsDashboard", () => {
  it("test_AnalyticsDashboard__default_load_shows_latest_run_and_kpis", async () => {
    const { client, calls } = fakeClient({ windows: 15 });
    renderDash(<AnalyticsDashboard client={client} />);
    await waitFor(() => expect(screen.getByTestId("kpi-window")).toHaveTextContent("14"));
    expect(await kpiText("eval/return_mean")).toBe("4.50");
    expect(screen.getByLabelText("Run")).toHaveValue("run-b");
    expect(calls).toContain("iterations:run-b:10");
    await screen.findByTestId("iteration-panel");
    expect(screen.getAllByRole("option", { name: /^Iteration/ })).toHaveLength(10);
  });

  it("test_AnalyticsDashboard__choosing_iteration_updates_panel_kpis_and_highlight", async () => {
    const { client } = fakeClient({ windows: 15 });
    renderDash(<AnalyticsDashboard client={client} />);
    await screen.findByTestId("iteration-panel");
    fireEvent.change(screen.getByLabelText("Iteration"), { target: { value: "8" } });
    await waitFor(() => expect(screen.getByTestId("iteration-panel")).toHaveAttribute("data-window", "8"));
    expect(screen.getByTestId("kpi-window")).toHaveTextContent("8");
    expect(await kpiText("eval/return_mean")).toBe("3.00");
    expect(screen.getByTestId("readout-return")).toHaveTextContent("Iteration 8");
    expect(screen.getByTestId("chart-Return")).toHaveAttribute("data-highlight", String(9 * 4096));
    await waitFor(() => expect(window.location.search).toContain("iteration=8"));
    await waitFor(() => expect(plots().length).toBeGreaterThan(0));
  });

  it("test_AnalyticsDashboard__per_card_error_with_message_and_retry", async () => {
    const { client, state } = fakeClient({ failHistory: new ApiError(502, "upstream_error", "W&B answered 500") });
    renderDash(<AnalyticsDashboard client={client} />);
    const card = await screen.findByTestId("history-card");
    await waitFor(() => expect(within(card).getByRole("alert")).toHaveTextContent("W&B answered 500"));
    // the rest of the page still works
    expect(await screen.findByTestId("iteration-panel")).toBeInTheDocument();
    state.failHistory = null;
    fireEvent.click(within(card).getByRole("button", { name: "Retry" }));
    await waitFor(() => expect(within(card).queryByRole("alert")).toBeNull());
    expect(within(card).getByTestId("chart-Return")).toBeInTheDocument();
  });

  it("test_AnalyticsDashboard__stale_payload_shows_banner", async () => {
    const { client } = fakeClient({ stale: true });
    renderDash(<AnalyticsDashboard client={client} />);
    expect(await screen.findByTestId("stale-banner")).toHaveTextContent("Stale data");
  });

  it("test_AnalyticsDashboard__skeletons_while_loading", async () => {
    const { client } = fakeClient();
    const never = new Promise<never>(() => {});
    const slow = { ...client, history: () => never, iteration: () => never, summary: () => never };
    renderDash(<AnalyticsDashboard client={slow} />);
    await waitFor(() => expect(screen.getAllByTestId("skeleton").length).toBeGreaterThan(3));
    expect(within(screen.getByTestId("history-card")).getByTestId("skeleton")).toBeInTheDocument();
  });

  it("test_AnalyticsDashboard__unknown_run_from_url_errors_per_card", async () => {
    window.history.replaceState(null, "", "/analytics?run=nope");
    const { client } = fakeClient();
    const missing = new ApiError(404, "not_found", "run 'nope' not found");
    const broken = {
      ...client,
      summary: () => Promise.reject(missing),
      history: () => Promise.reject(missing),
      iterations: () => Promise.reject(missing),
    };
    renderDash(<AnalyticsDashboard client={broken} />);
    await waitFor(() => expect(screen.getAllByRole("alert").length).toBeGreaterThanOrEqual(2));
    for (const a of screen.getAllByRole("alert")) expect(a).toHaveTextContent("run 'nope' not found");
  });

  it("test_AnalyticsDashboard__polls_while_running_and_stops_when_finished", async () => {
    const live = fakeClient({ state: "running" });
    renderDash(<AnalyticsDashboard client={live.client} pollMs={40} />);
    await waitFor(() => expect(live.calls.filter((c) => c.startsWith("summary")).length).toBeGreaterThanOrEqual(4), { timeout: 3000 });
    const trends = (calls: string[]) => calls.filter((c) => c.startsWith("history") && c.includes("eval/return_mean"));
    // the "every metric" card's charts (their own history request) are polled like the others
    const metrics = (calls: string[]) => calls.filter((c) => c.startsWith("history:run-b:1000:env_steps,wall_time_s,loss/"));
    expect(trends(live.calls).length).toBeGreaterThanOrEqual(3);
    await waitFor(() => expect(metrics(live.calls).length).toBeGreaterThanOrEqual(3));
    cleanup();

    const done = fakeClient({ state: "finished" });
    renderDash(<AnalyticsDashboard client={done.client} pollMs={40} recheckMs={40} />);
    await screen.findByTestId("iteration-panel");
    await waitFor(() => expect(metrics(done.calls).length).toBe(1));
    await new Promise((r) => setTimeout(r, 300));
    expect(done.calls.filter((c) => c.startsWith("summary")).length).toBe(1);
    expect(trends(done.calls).length).toBe(1);
    expect(metrics(done.calls).length).toBe(1);
  });
});

describe("a run whose trainer vanished (docs/API.md, run liveness)", () => {
  it.each(["crashed", "stalled", "failed"] as const)("test_AnalyticsDashboard__%s_run_is_rechecked_and_a_resume_polls_again", async (state) => {
    const gone = fakeClient({ state });
    renderDash(<AnalyticsDashboard client={gone.client} pollMs={40} recheckMs={200} />);
    await screen.findByTestId("iteration-panel");
    expect(screen.getAllByTestId("state-badge")[0]).toHaveTextContent(state);
    const summaries = () => gone.calls.filter((c) => c.startsWith("summary")).length;
    // the summary alone is re-checked, at the slow rate; nothing else is asked twice (a poll
    // asks again for the same thing; each window's panel is fetched once)
    await waitFor(() => expect(summaries()).toBeGreaterThanOrEqual(5));
    const others = gone.calls.filter((c) => !c.startsWith("summary"));
    expect(new Set(others).size).toBe(others.length);
    expect(others.filter((c) => c.startsWith("history") && c.includes("eval/return_mean"))).toHaveLength(1);
    // the trainer is resumed: the next re-check shows `running`, and every card polls again
    gone.runs.runs[0].state = "running";
    await waitFor(() => expect(screen.getAllByTestId("state-badge")[0]).toHaveTextContent("running"));
    await waitFor(() => expect(gone.calls.filter((c) => c.startsWith("history") && c.includes("eval/return_mean")).length).toBeGreaterThanOrEqual(3));
  });
});

describe("AnalyticsDashboard without a run", () => {
  it("test_AnalyticsDashboard__runs_list_failure_shows_in_every_card", async () => {
    window.history.replaceState(null, "", "/analytics?source=wandb");
    const { client } = fakeClient();
    const down = new ApiError(503, "not_configured", "W&B is not configured: WANDB_API_KEY not set");
    renderDash(<AnalyticsDashboard client={{ ...client, runs: () => Promise.reject(down) }} />);
    for (const id of ["kpi-card", "iteration-card", "history-card"])
      await waitFor(() => expect(within(screen.getByTestId(id)).getByRole("alert")).toHaveTextContent("W&B is not configured"));
  });
});

describe("rate limits", () => {
  it("test_useApi__retries_by_itself_after_retry_after", async () => {
    window.history.replaceState(null, "", "/analytics");
    const { client, state } = fakeClient({ failHistory: new ApiError(429, "rate_limited", "slow down", 1) });
    renderDash(<AnalyticsDashboard client={client} />);
    const card = await screen.findByTestId("history-card");
    await waitFor(() => expect(within(card).getByRole("alert")).toHaveTextContent("slow down"));
    state.failHistory = null;
    await waitFor(() => expect(within(card).queryByRole("alert")).toBeNull(), { timeout: 3000 });
    expect(within(card).getByTestId("chart-Return")).toBeInTheDocument();
  });
});

describe("iteration changes", () => {
  it("test_AnalyticsDashboard__listed_windows_prefetched_once_then_shown_without_a_request", async () => {
    const { client, calls } = fakeClient({ windows: 15 });
    renderDash(<AnalyticsDashboard client={client} />);
    await screen.findByTestId("iteration-panel");
    const details = () => calls.filter((c) => c.startsWith("iteration:"));
    // the dropdown's ten windows, each fetched once, when the page is idle
    await waitFor(() => expect(new Set(details()).size).toBe(10));
    const n = details().length;
    expect(n).toBe(10);
    fireEvent.change(screen.getByLabelText("Iteration"), { target: { value: "6" } });
    await waitFor(() => expect(screen.getByTestId("iteration-panel")).toHaveAttribute("data-window", "6"));
    fireEvent.change(screen.getByLabelText("Iteration"), { target: { value: "14" } });
    await waitFor(() => expect(screen.getByTestId("iteration-panel")).toHaveAttribute("data-window", "14"));
    expect(details().length).toBe(n);
  });
});

describe("following a running run", () => {
  it("test_AnalyticsDashboard__new_window_replaces_panel_without_blanking", async () => {
    window.history.replaceState(null, "", "/analytics");
    const { client, rows } = fakeClient({ windows: 12, state: "running" });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const slow = {
      ...client,
      iteration: async (s: Source, run: string, w: number) => {
        if (w === 12) await gate;
        return client.iteration(s, run, w);
      },
    };
    renderDash(<AnalyticsDashboard client={slow} pollMs={50} />);
    await waitFor(() => expect(screen.getByTestId("iteration-panel")).toHaveAttribute("data-window", "11"));
    rows.push(windowRow(12));
    await waitFor(() => expect(screen.getByRole("combobox", { name: "Iteration" })).toHaveValue("12"));
    // window 12 is still loading: the panel keeps window 11 instead of a skeleton
    expect(screen.getByTestId("iteration-panel")).toHaveAttribute("data-window", "11");
    release();
    await waitFor(() => expect(screen.getByTestId("iteration-panel")).toHaveAttribute("data-window", "12"));
  });
});

describe("a chosen window older than the dropdown's (breakweb)", () => {
  // Its row is not in the iterations list: until its own answer is in (or when it fails), the
  // KPI card headed "KPIs at iteration N" and the charts' markers must not show another window.
  it("test_AnalyticsDashboard__chosen_old_window_never_shows_latest_kpis_or_marker", async () => {
    window.history.replaceState(null, "", "/analytics?iteration=2");
    const { client } = fakeClient({ windows: 15 });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const slow = {
      ...client,
      iteration: async (s: Source, run: string, w: number) => {
        if (w === 2) await gate;
        return client.iteration(s, run, w);
      },
    };
    renderDash(<AnalyticsDashboard client={slow} />);
    // the page has settled on everything but window 2's answer
    await screen.findByTestId("chart-Return");
    await waitFor(() => expect(screen.getByLabelText("Iteration")).toHaveValue("2"));
    expect(screen.getByTestId("kpi-card")).toHaveTextContent("KPIs at iteration 2");
    expect(screen.queryByTestId("kpi-window")).toBeNull();
    expect(screen.getByTestId("chart-Return")).toHaveAttribute("data-highlight", "");
    release();
    await waitFor(() => expect(screen.getByTestId("kpi-window")).toHaveTextContent("2"));
    expect(screen.getByTestId("chart-Return")).toHaveAttribute("data-highlight", String(3 * 4096));
  });

  it("test_AnalyticsDashboard__chosen_window_that_fails_shows_its_error_not_latest_kpis", async () => {
    window.history.replaceState(null, "", "/analytics?iteration=999");
    const { client } = fakeClient({ windows: 15, failIteration: new ApiError(404, "not_found", "window 999 not found") });
    renderDash(<AnalyticsDashboard client={client} />);
    const card = await screen.findByTestId("kpi-card");
    await waitFor(() => expect(within(card).getByRole("alert")).toHaveTextContent("window 999 not found"));
    expect(screen.queryByTestId("kpi-window")).toBeNull();
    expect(screen.getByTestId("chart-Return")).toHaveAttribute("data-highlight", "");
  });
});

describe("a compared run whose trainer vanished (breakweb)", () => {
  // The page's run is finished (not polled); a compared run crashed. Resumed, it must be picked
  // up as the page's own run is: re-checked slowly, then polled, without a reload.
  it("test_AnalyticsDashboard__compared_crashed_run_is_rechecked_and_a_resume_polls_it", async () => {
    window.history.replaceState(null, "", "/analytics?run=run-b&compare=run-a");
    const f = fakeClient({ state: "finished" });
    renderDash(<AnalyticsDashboard client={f.client} pollMs={40} recheckMs={120} />);
    await screen.findByTestId("iteration-panel");
    const comparedHistories = () => f.calls.filter((c) => c.startsWith("history:run-a:") && c.includes("eval/return_mean")).length;
    await waitFor(() => expect(comparedHistories()).toBe(1));
    // the list (which holds the compared runs' states) is re-checked at the slow rate
    const lists = () => f.calls.filter((c) => c === "runs").length;
    await waitFor(() => expect(lists()).toBeGreaterThanOrEqual(3));
    expect(comparedHistories()).toBe(1);
    f.runs.runs[1].state = "running";
    await waitFor(() => expect(comparedHistories()).toBeGreaterThanOrEqual(3));
  });
});

describe("the panel of a live run recovers by itself (breakweb)", () => {
  // Every card of a running run is polled; the panel's window answered an error once (a 5xx, the
  // record mid-write): the next poll asks again, as the other cards do, without a Retry click.
  it("test_AnalyticsDashboard__running_run_panel_error_is_asked_again_by_the_poll", async () => {
    const f = fakeClient({ windows: 12, state: "running", failIteration: new ApiError(503, "busy", "the record is being written") });
    renderDash(<AnalyticsDashboard client={f.client} pollMs={60} />);
    const card = await screen.findByTestId("iteration-card");
    await waitFor(() => expect(within(card).getByRole("alert")).toHaveTextContent("the record is being written"));
    f.state.failIteration = null;
    await waitFor(() => expect(screen.getByTestId("iteration-panel")).toHaveAttribute("data-window", "11"));
    expect(within(card).queryByRole("alert")).toBeNull();
    // a window already in is not asked again by the polls
    const asked11 = () => f.calls.filter((c) => c === "iteration:run-b:11").length;
    const n = asked11();
    const summaries = f.calls.filter((c) => c.startsWith("summary")).length;
    await waitFor(() => expect(f.calls.filter((c) => c.startsWith("summary")).length).toBeGreaterThanOrEqual(summaries + 3));
    expect(asked11()).toBe(n);
  });
});

describe("the run picker shows the page's run (breakweb)", () => {
  it("test_AnalyticsDashboard__run_not_in_the_list_is_shown_by_the_picker", async () => {
    // an older run than the list holds (the newest 50), or one the list does not have
    window.history.replaceState(null, "", "/analytics?run=run-z");
    const { client } = fakeClient({ windows: 15 });
    renderDash(<AnalyticsDashboard client={client} />);
    await screen.findByTestId("iteration-panel");
    const picker = screen.getByLabelText("Run") as HTMLSelectElement;
    await waitFor(() => expect(picker).toHaveValue("run-z"));
    expect(picker.selectedOptions[0].textContent).toContain("run-z");
    // its state from its summary, with the badge
    expect(screen.getAllByTestId("state-badge")[0]).toHaveTextContent("finished");
  });

  it("test_AnalyticsDashboard__unknown_run_is_shown_by_the_picker_with_its_error", async () => {
    window.history.replaceState(null, "", "/analytics?run=nope");
    const { client } = fakeClient({ windows: 15 });
    const missing = { ...client, summary: async () => Promise.reject(new ApiError(404, "not_found", "run nope not found")) };
    renderDash(<AnalyticsDashboard client={missing} />);
    const card = await screen.findByTestId("kpi-card");
    await waitFor(() => expect(within(card).getByRole("alert")).toHaveTextContent("run nope not found"));
    expect(screen.getByLabelText("Run")).toHaveValue("nope");
  });
});

describe("compare list from a URL (breakweb)", () => {
  it("test_AnalyticsDashboard__duplicate_compared_run_charted_once", async () => {
    window.history.replaceState(null, "", "/analytics?run=run-b&compare=run-a,run-a,run-b");
    const { client, calls } = fakeClient({ windows: 15 });
    renderDash(<AnalyticsDashboard client={client} />);
    const chart = await screen.findByTestId("chart-Return");
    await waitFor(() => expect(within(chart).getAllByRole("button", { pressed: true }).filter((b) => b.dataset.legend === "group")).toHaveLength(2));
    const ids = (chart.getAttribute("data-series") ?? "").split(" ");
    expect(ids.filter((id) => id === "run-a|eval/return_mean")).toHaveLength(1);
    expect(calls.filter((c) => c.startsWith("history:run-a:") && c.includes("eval/return_mean"))).toHaveLength(1);
  });
});

describe("rapid window changes (breakweb)", () => {
  it("test_AnalyticsDashboard__late_answer_of_an_earlier_choice_never_replaces_the_current_window", async () => {
    const { client } = fakeClient({ windows: 15 });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const slow = {
      ...client,
      iteration: async (s: Source, run: string, w: number) => {
        if (w !== 6) return client.iteration(s, run, w);
        await gate;
        const got = await client.iteration(s, run, w);
        answered6 = true;
        return got;
      },
    };
    let answered6 = false;
    renderDash(<AnalyticsDashboard client={slow} />);
    await waitFor(() => expect(screen.getByTestId("iteration-panel")).toHaveAttribute("data-window", "14"));
    fireEvent.change(screen.getByLabelText("Iteration"), { target: { value: "6" } });
    fireEvent.change(screen.getByLabelText("Iteration"), { target: { value: "7" } });
    await waitFor(() => expect(screen.getByTestId("iteration-panel")).toHaveAttribute("data-window", "7"));
    release();
    // window 6's answer comes in after: nothing changes
    await waitFor(() => expect(window.location.search).toContain("iteration=7"));
    await waitFor(() => expect(answered6).toBe(true));
    await act(async () => {});
    expect(screen.getByTestId("iteration-panel")).toHaveAttribute("data-window", "7");
    expect(screen.getByTestId("kpi-window")).toHaveTextContent("7");
    expect(screen.getByLabelText("Iteration")).toHaveValue("7");
    expect(screen.getByTestId("chart-Return")).toHaveAttribute("data-highlight", String(8 * 4096));
  });
});
