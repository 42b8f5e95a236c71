import type { Page, Response } from "@playwright/test";
import { apiGet, expect, test, web } from "./fixtures";
import { E2E_RUN_ID } from "./train-config";

interface Session {
  session_id: string;
  done: boolean;
  view: { day: number; valid_actions: { action: number; label: string }[] };
  episode: { return: number; profit: number; length: number; invalid_actions: number; survived: boolean | null };
}

const isPlay = (r: Response, step: boolean) =>
  r.request().method() === "POST" && (step ? /\/api\/play\/[^/]+\/step$/ : /\/api\/play$/).test(new URL(r.url()).pathname);

/** The enabled action buttons on the play panel must be exactly the view's valid actions. */
async function expectButtonsMatch(page: Page, s: Session) {
  const states = await page
    .locator("[data-testid=play] button[data-action]")
    .evaluateAll((bs) => bs.map((b) => [Number(b.getAttribute("data-action")), !(b as HTMLButtonElement).disabled, b.getAttribute("aria-label") ?? b.textContent] as const));
  expect(states).toHaveLength(69);
  const enabled = states.filter(([, on]) => on).map(([a]) => a).sort((a, b) => a - b);
  expect(enabled).toEqual(s.view.valid_actions.map((a) => a.action));
  // labelled in words, matching the service's labels for the valid ones
  const label = new Map(states.map(([a, , l]) => [a, l]));
  for (const v of s.view.valid_actions) expect(label.get(v.action)).toContain(v.label);
}

test("a full episode played by clicking, invalid actions disabled", async ({ page }) => {
  test.setTimeout(240_000);
  await page.goto(web("/play"));
  await expect(page.locator("main[data-page=play]")).toBeVisible();
  await page.getByLabel("Seed (optional)").fill("4242");
  const [first] = await Promise.all([page.waitForResponse((r) => isPlay(r, false)), page.getByRole("button", { name: "Start game" }).click()]);
  expect(first.status()).toBe(201);
  let s = (await first.json()) as Session;
  await expect(page.getByTestId("status-day")).toContainText(`${s.view.day} /`);
  await expectButtonsMatch(page, s);

  let steps = 0;
  const kinds = new Set<string>();
  while (!s.done) {
    expect(steps).toBeLessThan(400);
    // deterministic walk over the valid actions, so waits, travel and trades all get clicked
    const valid = s.view.valid_actions;
    const pick = valid[(steps * 7 + 3) % valid.length];
    kinds.add(pick.label.split(" ")[0]);
    const btn = page.locator(`[data-testid=play] button[data-action="${pick.action}"]`);
    const [res] = await Promise.all([page.waitForResponse((r) => isPlay(r, true)), btn.click()]);
    expect(res.status()).toBe(200);
    s = (await res.json()) as Session;
    steps += 1;
    if (!s.done) await expect(page.getByTestId("status-day")).toContainText(`${s.view.day} /`);
    if (!s.done && steps % 25 === 1) await expectButtonsMatch(page, s);
  }
  expect(kinds.size).toBeGreaterThan(1);
  const summary = page.getByTestId("episode-summary");
  await expect(summary).toBeVisible();
  expect(Number(await summary.getByTestId("episode-length").getAttribute("data-value"))).toBe(s.episode.length);
  expect(Number(await summary.getByTestId("episode-return").getAttribute("data-value"))).toBeCloseTo(s.episode.return, 6);
  expect(Number(await summary.getByTestId("episode-profit").getAttribute("data-value"))).toBeCloseTo(s.episode.profit, 6);
  await expect(summary).toContainText(s.episode.survived ? "survived" : "did not survive");
  // nothing can be clicked after the end
  const enabled = await page.locator("[data-testid=play] button[data-action]:enabled").count();
  expect(enabled).toBe(0);
});

test("keyboard shortcuts play a move", async ({ page }) => {
  await page.goto(web("/play"));
  await page.getByRole("button", { name: "Start game" }).click();
  await expect(page.getByTestId("status-day")).toContainText("/");
  const [res] = await Promise.all([page.waitForResponse((r) => isPlay(r, true)), page.keyboard.press("w")]);
  expect((await res.json()).last_action.action).toBe(0);
  await expect(page.getByTestId("last-action")).toContainText("Wait");
});

test("a replay of a chosen iteration streams over the websocket and finishes, with pause and speed", async ({ page }) => {
  const frames: { type: string; [k: string]: unknown }[] = [];
  const sent: string[] = [];
  page.on("websocket", (ws) => {
    ws.on("framereceived", (f) => frames.push(JSON.parse(String(f.payload))));
    ws.on("framesent", (f) => sent.push(String(f.payload)));
  });
  await page.goto(web("/play"));
  await page.getByRole("tab", { name: "Watch the agent" }).click();
  await expect(page.getByRole("combobox", { name: "Run", exact: true })).toHaveValue(/.+/);
  // The trainer keeps the last 3 checkpoints: the second newest window has one.
  const its = await apiGet(`/api/local/runs/${E2E_RUN_ID}/iterations?limit=10`);
  const windowId = its.iterations[1].window_id as number;
  await page.getByRole("combobox", { name: "Iteration" }).selectOption(String(windowId));
  await page.getByLabel("Speed").selectOption({ label: "0.5×" });
  await page.getByRole("button", { name: "Watch" }).click();
  await expect(page.getByTestId("replay")).toHaveAttribute("data-status", "playing");
  await expect(page.getByTestId("status-day")).toBeVisible();
  await page.getByRole("button", { name: "Pause" }).click();
  await expect(page.getByTestId("replay")).toHaveAttribute("data-status", "paused");
  const stepsAtPause = frames.filter((f) => f.type === "step").length;
  await page.waitForTimeout(1200);
  expect(frames.filter((f) => f.type === "step").length).toBeLessThanOrEqual(stepsAtPause + 1);
  await page.getByLabel("Speed").selectOption({ label: "max" });
  await page.getByRole("button", { name: "Play" }).click();
  await expect(page.getByTestId("episode-summary")).toBeVisible({ timeout: 60_000 });
  expect(sent).toContain(JSON.stringify({ pause: true }));
  expect(sent).toContain(JSON.stringify({ pace_ms: 0 }));
  const end = frames.find((f) => f.type === "end") as unknown as { episode: { length: number; return: number } };
  expect(end).toBeTruthy();
  expect(frames[0]).toMatchObject({ type: "start", run_id: E2E_RUN_ID, window_id: windowId });
  await expect(page.getByTestId("replay-meta")).toContainText(`Iteration ${windowId}`);
  expect(frames.filter((f) => f.type === "step").length).toBe(end.episode.length);
  expect(Number(await page.getByTestId("episode-length").getAttribute("data-value"))).toBe(end.episode.length);
  expect(Number(await page.getByTestId("episode-return").getAttribute("data-value"))).toBeCloseTo(end.episode.return, 6);
  await expect(page.getByTestId("replay")).toHaveAttribute("data-status", "ended");
});
