/**
 * Compared runs' histories, polled while one is live (breakweb): a poll that fails for one run
 * keeps that run's last good lines next to its error, as every other card does (lib/useApi.ts),
 * instead of dropping its lines (and rebuilding every chart) until the next poll.
 */
import { renderHook, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { ApiClient } from "@/lib/api";
import { ApiError } from "@/lib/api";
import { useHistories } from "@/lib/useHistories";
import { fakeClient } from "./fixtures";

describe("useHistories", () => {
  it("test_useHistories__failed_poll_keeps_last_good_rows_with_the_error", async () => {
    const { client } = fakeClient({ windows: 5 });
    let asked = 0;
    let fail = false;
    const flaky = {
      ...client,
      history: async (...a: Parameters<ApiClient["history"]>) => {
        asked += 1;
        if (fail && a[1] === "run-a") throw new ApiError(503, "busy", "try again");
        return client.history(...a);
      },
    } as unknown as ApiClient;
    const { result } = renderHook(() => useHistories(flaky, "local", ["run-a", "run-c"], undefined, 40));
    await waitFor(() => expect(Object.keys(result.current.byRun).sort()).toEqual(["run-a", "run-c"]));
    fail = true;
    const before = asked;
    await waitFor(() => expect(result.current.errors["run-a"]).toBeInstanceOf(ApiError));
    expect(asked).toBeGreaterThan(before);
    expect(result.current.byRun["run-a"]?.rows).toHaveLength(5);
    fail = false;
    await waitFor(() => expect(result.current.errors["run-a"]).toBeUndefined());
    expect(result.current.byRun["run-a"]?.rows).toHaveLength(5);
  });
});
