import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ReplayViewer } from "@/components/game/ReplayViewer";
import { fakeClient, gameView } from "./fixtures";

class FakeSocket {
  static last: FakeSocket | null = null;
  static OPEN = 1;
  readyState = 1;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  constructor(public url: string) {
    FakeSocket.last = this;
  }
  send(m: string) {
    this.sent.push(m);
  }
  close() {
    this.readyState = 3;
  }
  emit(msg: object) {
    act(() => this.onmessage?.({ data: JSON.stringify(msg) }));
  }
}

const realWs = globalThis.WebSocket;
beforeEach(() => {
  (globalThis as unknown as { WebSocket: unknown }).WebSocket = FakeSocket;
});
afterEach(() => {
  (globalThis as unknown as { WebSocket: unknown }).WebSocket = realWs;
});

describe("ReplayViewer", () => {
  it("test_ReplayViewer__streams_pauses_changes_speed_and_ends", async () => {
    const { client } = fakeClient();
    render(<ReplayViewer client={client} wsBase="ws://api" />);
    await waitFor(() => expect(screen.getByLabelText("Run")).toHaveValue("run-b"));
    // only the windows whose checkpoint is kept are offered
    await waitFor(() => expect(screen.getAllByRole("option", { name: /^Window/ }).map((o) => o.getAttribute("value"))).toEqual(["14", "12", "10"]));
    fireEvent.change(screen.getByLabelText("Iteration"), { target: { value: "12" } });
    fireEvent.change(screen.getByLabelText("Episode"), { target: { value: "median" } });
    fireEvent.click(screen.getByRole("button", { name: "Watch" }));
    const ws = FakeSocket.last!;
    // the evaluation's median episode of window 12: its seed (the server plays the eval policy)
    expect(ws.url).toBe("ws://api/ws/replay/run-b?iteration=12&seed=1000121&pace_ms=100");
    ws.emit({
      type: "start",
      run_id: "run-b",
      window_id: 12,
      seed: 1000121,
      pace_ms: 100,
      policy: "sampled",
      rank: "median",
      eval_return: 4,
      label: "sampled policy, seed 1000121, eval return 4.0",
    });
    ws.emit({ type: "step", t: 0, action: { action: 0, label: "Wait" }, reward: 0.5, view: gameView(1) });
    expect(screen.getByTestId("replay-meta")).toHaveTextContent("Window 12 · sampled policy, seed 1000121, eval return 4.0 · playing · day 1: Wait");
    expect(screen.getByTestId("status-day")).toHaveTextContent("1 / 360");

    fireEvent.click(screen.getByRole("button", { name: "Pause" }));
    expect(ws.sent).toContain(JSON.stringify({ pause: true }));
    fireEvent.change(screen.getByLabelText("Speed"), { target: { value: "5" } });
    expect(ws.sent).toContain(JSON.stringify({ pace_ms: 0 }));
    fireEvent.click(screen.getByRole("button", { name: "Play" }));
    expect(ws.sent).toContain(JSON.stringify({ pause: false }));

    ws.emit({ type: "end", episode: { return: 3.5, profit: 120, length: 1, invalid_actions: 0, survived: true } });
    expect(screen.getByTestId("episode-summary")).toHaveTextContent("Replay finished");
    expect(screen.getByTestId("episode-summary")).toHaveTextContent("survived");
    act(() => ws.onclose?.({ code: 1000, reason: "" }));
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("test_ReplayViewer__close_code_reason_is_shown", async () => {
    const { client } = fakeClient();
    render(<ReplayViewer client={client} wsBase="ws://api" />);
    await waitFor(() => expect(screen.getByLabelText("Iteration")).toHaveValue("14"));
    fireEvent.click(screen.getByRole("button", { name: "Watch" }));
    act(() => FakeSocket.last!.onclose?.({ code: 4404, reason: "no checkpoint for window 3" }));
    expect(screen.getByRole("alert")).toHaveTextContent("no checkpoint for window 3 (code 4404)");
  });
});

describe("ReplayViewer while connecting", () => {
  it("test_ReplayViewer__speed_changed_before_open_is_sent_on_open", async () => {
    const { client } = fakeClient();
    render(<ReplayViewer client={client} wsBase="ws://api" />);
    await waitFor(() => expect(screen.getByLabelText("Iteration")).toHaveValue("14"));
    fireEvent.click(screen.getByRole("button", { name: "Watch" }));
    const ws = FakeSocket.last!;
    ws.readyState = 0; // CONNECTING: nothing can be sent yet
    fireEvent.change(screen.getByLabelText("Speed"), { target: { value: "5" } });
    expect(ws.sent).toEqual([]);
    ws.readyState = 1;
    act(() => ws.onopen?.());
    expect(ws.sent).toEqual([JSON.stringify({ pace_ms: 0 })]);
  });
});
