/**
 * Issue 14 items 2 and 4: "Watch the agent" lists only windows it can replay, and a replay is
 * exactly the episode the evaluation scored: its policy and seed are shown, and its return
 * equals the eval record's to the cent, for the best, median and worst seed.
 */
import { apiGet, expect, test, web } from "./fixtures";
import { E2E_RUN_ID } from "./train-config";

test("4: the iteration list is exactly the service's replayable windows", async ({ page }) => {
  const rp = await apiGet(`/api/local/runs/${E2E_RUN_ID}/replayable`);
  expect(rp.windows.length).toBeGreaterThan(0);
  await page.goto(web("/play"));
  await page.getByRole("tab", { name: "Watch the agent" }).click();
  const select = page.getByRole("combobox", { name: "Iteration" });
  await expect(select.locator("option")).toHaveCount(rp.windows.length);
  const values = await select.locator("option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  expect(values).toEqual(rp.windows.map((w: { window_id: number }) => String(w.window_id)));
});

test("2: best, median and worst replays reproduce the evaluation's returns and say what they play", async ({ page }) => {
  test.setTimeout(180_000);
  const rp = await apiGet(`/api/local/runs/${E2E_RUN_ID}/replayable`);
  const win = rp.windows[0];
  const it = await apiGet(`/api/local/runs/${E2E_RUN_ID}/iterations/${win.window_id}`);
  // the eval record is the reference: the KPIs' policy and its ranked episodes
  expect(it.eval.replays.map((r: { rank: string }) => r.rank)).toEqual(["best", "median", "worst"]);
  await page.goto(web("/play"));
  await page.getByRole("tab", { name: "Watch the agent" }).click();
  await page.getByRole("combobox", { name: "Iteration" }).selectOption(String(win.window_id));
  await page.getByLabel("Speed").selectOption({ label: "max" });
  for (const ep of it.eval.replays as { rank: string; seed: number; return: number }[]) {
    await page.getByLabel("Episode").selectOption(ep.rank);
    await page.getByRole("button", { name: /^(Watch|Restart)$/ }).click();
    const meta = page.getByTestId("replay-meta");
    await expect(meta).toHaveAttribute("data-seed", String(ep.seed));
    await expect(meta).toContainText(`${it.eval.policy} policy, seed ${ep.seed}, eval return`);
    await expect(page.getByTestId("replay")).toHaveAttribute("data-status", "ended", { timeout: 60_000 });
    const got = Number(await page.getByTestId("episode-return").getAttribute("data-value"));
    expect(Math.round(got * 100)).toBe(Math.round(ep.return * 100));
  }
  // the KPI tooltip names the policy the evaluation measured
  await page.goto(web(`/analytics?source=local&run=${E2E_RUN_ID}`));
  await expect(page.getByTestId("kpi-eval/return_mean").locator(".kpi-label")).toHaveAttribute("title", new RegExp(`${it.eval.policy} policy`));
});
