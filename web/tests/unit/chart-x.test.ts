/**
 * The x-axis of a chart is what uPlot needs: ascending numbers (breakweb). Any field of a record
 * may be null (issue 13 row 3: a non-finite value is served as null), the x columns included.
 */
import { describe, expect, it } from "vitest";
import { buildChart, TRENDS } from "@/components/TrendCharts";
import { windowRow } from "./fixtures";

const ascending = (x: number[]) => x.every((v, i) => i === 0 || v > x[i - 1]);

describe("buildChart x-axis", () => {
  it("test_buildChart__null_x_rows_left_out_not_drawn_at_zero", () => {
    const rows = [0, 1, 2, 3].map(windowRow);
    (rows[2] as Record<string, unknown>).wall_time_s = null;
    (rows[1] as Record<string, unknown>).env_steps = null;
    for (const xMode of ["wall_time_s", "env_steps"] as const) {
      for (const smoothing of [0, 0.6]) {
        const { x, series } = buildChart(TRENDS[0], [{ runId: "r", label: "r", color: "#000", rows }], xMode, smoothing);
        expect(x).toHaveLength(3);
        expect(ascending(x)).toBe(true);
        expect(x).not.toContain(0);
        for (const s of series) expect(s.values).toHaveLength(3);
      }
    }
  });

  it("test_buildChart__out_of_order_x_is_sorted_with_its_values", () => {
    const rows = [0, 1, 2].map(windowRow);
    const swapped = [rows[0], rows[2], rows[1]];
    const { x, series } = buildChart(TRENDS[0], [{ runId: "r", label: "r", color: "#000", rows: swapped }], "env_steps", 0);
    expect(x).toEqual([4096, 8192, 12288]);
    const ev = series.find((s) => s.label === "eval")!;
    expect(ev.values).toEqual([1, 1.25, 1.5]);
  });
});
