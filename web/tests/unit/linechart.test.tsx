/**
 * A chart's view state survives new data (breakweb): a running run is polled every 5 s and each
 * answer is a setData on the same plot; a zoom the user dragged must not be undone by it.
 */
import { act, render, screen, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import { LineChart, type LineSeries } from "@/components/LineChart";
import { plots, resetPlots } from "./plots";

const xs = (n: number) => Array.from({ length: n }, (_, i) => i * 10);
const line = (n: number): LineSeries[] => [
  { label: "eval", values: xs(n).map((v) => v / 10), color: "#00f" },
  { label: "train", values: xs(n).map((v) => v / 5), color: "#f80" },
];

beforeEach(() => resetPlots());

describe("LineChart", () => {
  it("test_LineChart__zoom_survives_new_data_of_a_polled_run", async () => {
    const view = render(<LineChart title="Return" x={xs(10)} series={line(10)} xLabel="env steps" toggles />);
    await waitFor(() => expect(plots().length).toBe(1));
    const u = plots()[0].plot;
    // the user drags across the chart
    act(() => u.setScale("x", { min: 20, max: 50 }));
    expect(await screen.findByRole("button", { name: "Reset zoom" })).toBeInTheDocument();
    // a poll brings a new window: same layout, new data
    view.rerender(<LineChart title="Return" x={xs(11)} series={line(11)} xLabel="env steps" toggles />);
    await waitFor(() => expect(plots()[0].data[0]).toHaveLength(11));
    expect(u.scales.x).toEqual({ min: 20, max: 50 });
    expect(screen.getByRole("button", { name: "Reset zoom" })).toBeInTheDocument();
    expect(screen.getByTestId("chart-Return")).toHaveAttribute("data-zoomed", "true");
    // and a legend toggle survives it as well
    act(() => screen.getByRole("button", { name: "eval" }).click());
    view.rerender(<LineChart title="Return" x={xs(12)} series={line(12)} xLabel="env steps" toggles />);
    await waitFor(() => expect(plots()[0].data[0]).toHaveLength(12));
    expect(screen.getByRole("button", { name: "eval" })).toHaveAttribute("aria-pressed", "false");
    // Reset zoom shows the whole run, new windows included, and disappears
    act(() => screen.getByRole("button", { name: "Reset zoom" }).click());
    expect(u.scales.x).toEqual({ min: 0, max: 110 });
    await waitFor(() => expect(screen.queryByRole("button", { name: "Reset zoom" })).toBeNull());
    expect(plots()).toHaveLength(1);
  });

  it("test_LineChart__unzoomed_chart_follows_new_data", async () => {
    const view = render(<LineChart title="Return" x={xs(10)} series={line(10)} xLabel="env steps" />);
    await waitFor(() => expect(plots().length).toBe(1));
    view.rerender(<LineChart title="Return" x={xs(11)} series={line(11)} xLabel="env steps" />);
    await waitFor(() => expect(plots()[0].data[0]).toHaveLength(11));
    expect(plots()[0].plot.scales.x).toEqual({ min: 0, max: 100 });
    expect(screen.queryByRole("button", { name: "Reset zoom" })).toBeNull();
  });

  it("test_LineChart__zoom_reset_when_the_data_is_another_range", async () => {
    // the panel's loss charts: another window's updates (x 40..43 after 0..3) are not a zoom target
    const ups = (w: number) => [0, 1, 2, 3].map((u) => w * 4 + u);
    const s = (w: number): LineSeries[] => [{ label: "loss", values: ups(w).map((v) => v / 2), color: "#000" }];
    const view = render(<LineChart title="Loss" x={ups(0)} series={s(0)} xLabel="update" />);
    await waitFor(() => expect(plots().length).toBe(1));
    const u = plots()[0].plot;
    act(() => u.setScale("x", { min: 1, max: 2 }));
    expect(await screen.findByRole("button", { name: "Reset zoom" })).toBeInTheDocument();
    view.rerender(<LineChart title="Loss" x={ups(10)} series={s(10)} xLabel="update" />);
    await waitFor(() => expect(plots()[0].data[0]).toEqual(ups(10)));
    expect(u.scales.x).toEqual({ min: 40, max: 43 });
    await waitFor(() => expect(screen.queryByRole("button", { name: "Reset zoom" })).toBeNull());
  });
});
