import type { Page, Response } from "@playwright/test";
import { apiGet, apiStatus, expect, test, web } from "./fixtures";
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

// The race of issue 13 row 7, made certain instead of likely: the key is pressed from a
// MutationObserver, i.e. in the very task in which the board enters the DOM, before any paint
// and before React's passive effects. A listener that is attached (or re-bound to the new
// state) after paint misses it every time.
test("a key pressed the moment the board appears acts on that board", async ({ page }) => {
  await page.goto(web("/play"));
  await expect(page.getByRole("button", { name: "Start game" })).toBeEnabled();
  await page.evaluate(() => {
    const obs = new MutationObserver(() => {
      if (!document.querySelector("[data-testid=status-day]")) return;
      obs.disconnect();
      window.dispatchEvent(new KeyboardEvent("keydown", { key: "w", bubbles: true }));
    });
    obs.observe(document.body, { childList: true, subtree: true });
  });
  const [res] = await Promise.all([
    page.waitForResponse((r) => isPlay(r, true)),
    page.getByRole("button", { name: "Start game" }).click(),
  ]);
  expect((await res.json()).last_action.action).toBe(0);
  await expect(page.getByTestId("last-action")).toContainText("Wait");
});

// Server-rendered controls do nothing until React hydrates; they must not look usable before.
// The page's scripts are held back until the test has seen the server HTML's controls.
test("the play page's controls are disabled until they work, then work on the first click", async ({ page }) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  await page.route("**/_next/static/chunks/**", async (route) => {
    await gate;
    await route.continue();
  });
  await page.goto(web("/play"), { waitUntil: "commit" });
  await expect(page.getByRole("button", { name: "Start game" })).toBeDisabled();
  await expect(page.getByRole("tab", { name: "Watch the agent" })).toBeDisabled();
  release();
  await page.getByRole("tab", { name: "Watch the agent" }).click();
  await expect(page.getByTestId("replay")).toBeVisible();
  await page.getByRole("tab", { name: "Play" }).click();
  const [res] = await Promise.all([page.waitForResponse((r) => isPlay(r, false)), page.getByRole("button", { name: "Start game" }).click()]);
  expect(res.status()).toBe(201);
  await expect(page.getByTestId("status-day")).toBeVisible();
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
  // Checkpoints are pruned as training goes: pick the second newest window that has one.
  const rp = await apiGet(`/api/local/runs/${E2E_RUN_ID}/replayable`);
  const windowId = rp.windows[Math.min(1, rp.windows.length - 1)].window_id as number;
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
  await expect(page.getByTestId("replay-meta")).toContainText(`Window ${windowId}`);
  expect(frames.filter((f) => f.type === "step").length).toBe(end.episode.length);
  expect(Number(await page.getByTestId("episode-length").getAttribute("data-value"))).toBe(end.episode.length);
  expect(Number(await page.getByTestId("episode-return").getAttribute("data-value"))).toBeCloseTo(end.episode.return, 6);
  await expect(page.getByTestId("replay")).toHaveAttribute("data-status", "ended");
});

test("3: a new game replaces this browser's previous one, and a browser never holds more than a few", async ({ page }) => {
  await page.goto(web("/play"));
  const startOn = async (name: string) => {
    const [res] = await Promise.all([page.waitForResponse((r) => isPlay(r, false)), page.getByRole("button", { name }).click()]);
    expect(res.status()).toBe(201);
    return (await res.json()) as Session & { session_id: string };
  };
  const s1 = await startOn("Start game");
  await expect(page.getByTestId("status-day")).toBeVisible();
  const s2 = await startOn("New game");
  expect(s2.session_id).not.toBe(s1.session_id);
  expect((await apiStatus(`/api/play/${s1.session_id}`)).status).toBe(404);
  expect((await apiStatus(`/api/play/${s2.session_id}`)).status).toBe(200);
  // Reloading loses the page's session but not the browser's client id: starting again and
  // again keeps this browser's live sessions at the per-client cap.
  const ids = [s2.session_id];
  for (let i = 0; i < 5; i++) {
    await page.reload();
    ids.push((await startOn("Start game")).session_id);
  }
  const live = (await Promise.all(ids.map((id) => apiStatus(`/api/play/${id}`)))).filter((r) => r.status === 200).length;
  expect(live).toBeGreaterThanOrEqual(1);
  expect(live).toBeLessThanOrEqual(3);
});
