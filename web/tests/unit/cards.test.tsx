import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { Card, StaleBanner } from "@/components/Card";
import { IterationPanel } from "@/components/IterationPanel";
import { IterationSelect } from "@/components/IterationSelect";
import { KpiCards, kpisFromRow } from "@/components/KpiCards";
import { RunPicker } from "@/components/RunPicker";
import { ApiError } from "@/lib/api";
import { KPIS0, makeIteration, windowRow } from "./fixtures";

describe("KpiCards", () => {
  it("test_KpiCards__shows_formatted_values", () => {
    render(<KpiCards kpis={kpisFromRow(windowRow(4))} loading={false} context="latest window" />);
    expect(within(screen.getByTestId("kpi-eval/return_mean")).getByText("2.00")).toBeInTheDocument();
    expect(within(screen.getByTestId("kpi-eval/survival_rate")).getByText("38.0%")).toBeInTheDocument();
    expect(screen.getByTestId("kpi-window")).toHaveTextContent("4");
    expect(screen.getByTestId("kpi-env-steps")).toHaveTextContent("20.5k");
  });
  it("test_KpiCards__loading_shows_skeletons_not_dashes", () => {
    render(<KpiCards kpis={null} loading={true} context="" />);
    expect(screen.getAllByTestId("skeleton").length).toBe(6);
  });
  it("test_KpiCards__null_kpis_before_first_window_show_dash", () => {
    const empty = { ...kpisFromRow({}), window_id: null };
    render(<KpiCards kpis={empty} loading={false} context="" />);
    expect(within(screen.getByTestId("kpi-sps")).getByText("–")).toBeInTheDocument();
  });
});

describe("Card states", () => {
  it("test_Card__loading_renders_skeleton", () => {
    render(<Card title="History" loading={true} error={null} hasData={false} />);
    expect(screen.getByTestId("skeleton")).toBeInTheDocument();
    expect(screen.getByRole("region", { name: "History" })).toHaveAttribute("aria-busy", "true");
  });
  it("test_Card__error_shows_api_message_and_retry", () => {
    const retry = vi.fn();
    render(
      <Card title="History" loading={false} error={new ApiError(404, "not_found", "run 'x' not found")} onRetry={retry} hasData={false} />,
    );
    expect(screen.getByRole("alert")).toHaveTextContent("run 'x' not found");
    fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(retry).toHaveBeenCalledTimes(1);
  });
  it("test_Card__error_with_data_keeps_data", () => {
    render(
      <Card title="History" loading={false} error={new Error("boom")} hasData={true}>
        <p>kept</p>
      </Card>,
    );
    expect(screen.getByText("kept")).toBeInTheDocument();
    expect(screen.getByRole("alert")).toHaveTextContent("boom");
  });
  it("test_StaleBanner__says_stale", () => {
    render(<StaleBanner fetchedAt="2026-01-01T00:00:00Z" />);
    expect(screen.getByRole("status")).toHaveTextContent(/Stale data/);
  });
});

describe("IterationSelect", () => {
  it("test_IterationSelect__lists_at_most_ten_newest_first", () => {
    const rows = Array.from({ length: 15 }, (_, i) => windowRow(i));
    const onChange = vi.fn();
    render(<IterationSelect iterations={rows} value={14} onChange={onChange} />);
    const options = screen.getAllByRole("option");
    expect(options).toHaveLength(10);
    expect(options[0]).toHaveValue("14");
    expect(options[9]).toHaveValue("5");
    expect(options[0]).toHaveTextContent("(latest)");
    fireEvent.change(screen.getByLabelText("Iteration"), { target: { value: "7" } });
    expect(onChange).toHaveBeenCalledWith(7);
  });
  it("test_IterationSelect__empty_is_disabled", () => {
    render(<IterationSelect iterations={[]} value={null} onChange={() => {}} />);
    expect(screen.getByLabelText("Iteration")).toBeDisabled();
  });
});

describe("RunPicker", () => {
  it("test_RunPicker__badge_and_updated_age", () => {
    const now = new Date(Date.now() - 5000).toISOString();
    render(
      <RunPicker
        runs={[{ run_id: "r1", name: "r1", state: "running", created_at: now, updated_at: now, window_id: 1, env_steps: 10, config: {}, kpis: KPIS0 }]}
        value="r1"
        onChange={() => {}}
      />,
    );
    expect(screen.getByTestId("state-badge")).toHaveTextContent("running");
    expect(screen.getByTestId("updated-ago")).toHaveTextContent(/updated [4-6] s ago/);
  });
});

describe("IterationPanel", () => {
  it("test_IterationPanel__metrics_histograms_and_action_mix", () => {
    render(<IterationPanel data={makeIteration("r", 7)} />);
    expect(screen.getByTestId("iteration-panel")).toHaveAttribute("data-window", "7");
    expect(screen.getByTestId("metric-eval/return_mean")).toHaveTextContent("2.75");
    expect(screen.getByTestId("hist-Return")).toHaveAttribute("data-total", "40");
    expect(screen.getByTestId("action-mix")).toHaveTextContent("sell 40.0%");
    expect(screen.getByText("Per-update losses (4 updates)")).toBeInTheDocument();
  });
  it("test_IterationPanel__no_eval_says_so", () => {
    render(<IterationPanel data={makeIteration("r", 2, false)} />);
    expect(screen.getByText("This window has no evaluation.")).toBeInTheDocument();
    expect(screen.queryByTestId("action-mix")).toBeNull();
  });
});
