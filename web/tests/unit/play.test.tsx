import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { PlayGame, keyToAction } from "@/components/game/PlayGame";
import { replayUrl } from "@/components/game/ReplayViewer";
import type { ApiClient } from "@/lib/api";
import { session } from "./fixtures";

function playClient(daysToEnd = 2) {
  let day = 0;
  const step = vi.fn(async (_id: string, _a: number) => {
    day += 1;
    return session(day, day >= daysToEnd);
  });
  const client = { newGame: vi.fn(async () => session(0)), step } as unknown as ApiClient;
  return { client, step };
}

describe("PlayGame", () => {
  it("test_PlayGame__invalid_actions_disabled_valid_enabled", async () => {
    const { client } = playClient();
    render(<PlayGame client={client} />);
    fireEvent.click(screen.getByRole("button", { name: "Start game" }));
    await screen.findByTestId("play");
    expect(screen.getByRole("button", { name: /Wait a day/ })).toBeEnabled();
    expect(screen.getByRole("button", { name: /^Travel to Carrow/ })).toBeEnabled();
    expect(screen.getByRole("button", { name: /^Travel to Dunmere/ })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Buy 1 Provisions" })).toBeEnabled();
    expect(screen.getByRole("button", { name: "Buy 10 Provisions" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Sell 1 Provisions" })).toBeEnabled();
    expect(screen.getByRole("button", { name: "Sell all Gems" })).toBeDisabled();
    expect(screen.getAllByRole("button", { name: /^(Buy|Sell|Travel)/ })).toHaveLength(8 + 60);
  });

  it("test_PlayGame__clicking_to_the_end_shows_episode_metrics", async () => {
    const { client, step } = playClient(2);
    render(<PlayGame client={client} />);
    fireEvent.click(screen.getByRole("button", { name: "Start game" }));
    await screen.findByTestId("play");
    fireEvent.click(screen.getByRole("button", { name: /Wait a day/ }));
    await waitFor(() => expect(screen.getByTestId("status-day")).toHaveTextContent("1 / 360"));
    fireEvent.keyDown(window, { key: "w" });
    expect(await screen.findByTestId("episode-summary")).toHaveTextContent("did not survive");
    expect(step).toHaveBeenCalledTimes(2);
    expect(step.mock.calls.map((c) => c[1])).toEqual([0, 0]);
    expect(screen.getByRole("button", { name: /Wait a day/ })).toBeDisabled();
  });

  it("test_PlayGame__service_error_is_shown_with_retry", async () => {
    const { ApiError } = await import("@/lib/api");
    const newGame = vi
      .fn()
      .mockRejectedValueOnce(new ApiError(503, "session_limit", "too many live play sessions"))
      .mockResolvedValueOnce(session(0));
    render(<PlayGame client={{ newGame } as unknown as ApiClient} />);
    fireEvent.click(screen.getByRole("button", { name: "Start game" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("too many live play sessions");
    fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByTestId("play")).toBeInTheDocument();
  });

  it("test_PlayGame__bad_seed_is_refused_before_any_request", async () => {
    const { client } = playClient();
    render(<PlayGame client={client} />);
    fireEvent.change(screen.getByLabelText("Seed (optional)"), { target: { value: "-3" } });
    fireEvent.click(screen.getByRole("button", { name: "Start game" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("whole number");
    expect((client.newGame as unknown as { mock: { calls: unknown[] } }).mock.calls).toHaveLength(0);
  });

  it("test_keyToAction__maps_keys_to_frozen_layout", () => {
    expect(keyToAction({ key: "w" }, null)).toBe(0);
    expect(keyToAction({ key: "3" }, null)).toBe(3);
    expect(keyToAction({ key: "b" }, 1)).toBe(10);
    expect(keyToAction({ key: "B" }, 1)).toBe(22);
    expect(keyToAction({ key: "s" }, 1)).toBe(34);
    expect(keyToAction({ key: "S" }, 1)).toBe(46);
    expect(keyToAction({ key: "a" }, 1)).toBe(58);
    expect(keyToAction({ key: "b" }, null)).toBeNull();
    expect(keyToAction({ key: "9" }, 0)).toBeNull();
  });

  it("test_replayUrl__encodes_parameters", () => {
    expect(replayUrl("ws://h:1", "run a", 7, null, 100)).toBe("ws://h:1/ws/replay/run%20a?iteration=7&pace_ms=100");
    expect(replayUrl("ws://h:1", "r", null, 5, 0)).toBe("ws://h:1/ws/replay/r?seed=5&pace_ms=0");
  });
});
