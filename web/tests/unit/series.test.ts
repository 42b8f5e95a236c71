import { describe, expect, it } from "vitest";
import { alignRuns, isolatedIndices, smooth, toCsv } from "@/lib/series";
import { fmtAgo, fmtCompact, fmtPercent } from "@/lib/format";
import { actionLabels, buyAction, sellAction, travelAction } from "@/lib/actions";
import { gameView } from "./fixtures";

describe("smooth", () => {
  it("test_smooth__zero_weight_returns_raw", () => {
    expect(smooth([1, 2, null, 4], 0)).toEqual([1, 2, null, 4]);
  });
  it("test_smooth__bias_corrected_first_point_equals_raw", () => {
    const s = smooth([10, 10, 10], 0.9);
    expect(s[0]).toBeCloseTo(10);
    expect(s[2]).toBeCloseTo(10);
  });
  it("test_smooth__lags_a_step_and_skips_nulls", () => {
    const s = smooth([0, 0, null, 10], 0.5);
    expect(s[2]).toBeNull();
    expect(s[3]).toBeGreaterThan(0);
    expect(s[3]).toBeLessThan(10);
  });
});

describe("csv and formatting", () => {
  it("test_toCsv__quotes_commas_and_blanks_nulls", () => {
    expect(toCsv(["a", "b"], [[1, null], ["x,y", 2]])).toBe('a,b\n1,\n"x,y",2\n');
  });
  it("test_format__compact_percent_ago", () => {
    expect(fmtCompact(1_234_567)).toBe("1.23M");
    expect(fmtPercent(0.1234)).toBe("12.3%");
    expect(fmtPercent(null)).toBe("–");
    expect(fmtAgo("2026-01-01T00:00:00Z", Date.parse("2026-01-01T00:00:42Z"))).toBe("42 s ago");
  });
});

describe("action layout", () => {
  it("test_actionLabels__match_frozen_layout", () => {
    const labels = actionLabels(gameView());
    expect(labels).toHaveLength(69);
    expect(labels[0]).toBe("Wait");
    expect(labels[travelAction(1)]).toBe("Travel to Carrow");
    expect(labels[buyAction(1, false)]).toBe("Buy 1 Salt");
    expect(labels[buyAction(1, true)]).toBe("Buy 10 Salt");
    expect(labels[sellAction(1, "1")]).toBe("Sell 1 Salt");
    expect(labels[sellAction(1, "10")]).toBe("Sell 10 Salt");
    expect(labels[sellAction(11, "all")]).toBe("Sell all Gems");
  });
});

describe("isolatedIndices", () => {
  it("test_isolated__one_value_is_isolated", () => {
    expect(isolatedIndices([3])).toEqual([0]);
  });
  it("test_isolated__values_between_nulls_and_at_ends", () => {
    expect(isolatedIndices([1, null, 2, null, null, 4, 5, null, 6])).toEqual([0, 2, 8]);
  });
  it("test_isolated__a_line_has_none", () => {
    expect(isolatedIndices([1, 2, 3])).toEqual([]);
    expect(isolatedIndices([null, null])).toEqual([]);
  });
});

describe("alignRuns", () => {
  it("test_align__union_of_x_with_nulls_elsewhere", () => {
    const a = alignRuns([
      { x: [0, 10, 20], values: [1, 2, 3] },
      { x: [5, 10], values: [7, null] },
    ]);
    expect(a.x).toEqual([0, 5, 10, 20]);
    expect(a.columns).toEqual([
      [1, null, 2, 3],
      [null, 7, null, null],
    ]);
  });
  it("test_align__isolation_is_judged_in_each_runs_own_data", () => {
    const a = alignRuns([
      { x: [0, 10, 20], values: [1, 2, 3] },
      { x: [5], values: [4] },
    ]);
    expect(a.isolated).toEqual([[], [1]]);
  });
});
