/** Screenshots of every page at desktop and phone widths, into artifacts/screenshots/. */
import { mkdirSync } from "node:fs";
import type { Page } from "@playwright/test";
import { apiGet, expect, screenshot, SHOTS_DIR, test, web } from "./fixtures";
import { E2E_RUN_ID } from "./train-config";

/** "Every metric" loads when scrolled near: bring it in and wait for its charts, then back to the top. */
async function chartsBelowTheFold(page: Page) {
  const card = page.getByTestId("metrics-card");
  await card.scrollIntoViewIfNeeded();
  await expect(card.locator("canvas").first()).toBeVisible();
  await page.evaluate(() => window.scrollTo(0, 0));
}

const SIZES = [
  { width: 1280, height: 860 },
  { width: 390, height: 844 },
];

for (const size of SIZES) {
  test.describe(`screens at ${size.width}px`, () => {
    test.use({ viewport: size, deviceScaleFactor: 1 });
    test.beforeAll(() => mkdirSync(SHOTS_DIR, { recursive: true }));

    test(`home, analytics and play at ${size.width}px`, async ({ page }) => {
      test.setTimeout(120_000);
      await page.goto(web("/"));
      await expect(page.getByTestId("kpi-window")).not.toHaveText("–");
      await screenshot(page, "home", size.width);

      // the e2e run by name: other specs add newer runs (a live run, a --num-seeds group)
      await page.goto(web(`/analytics?source=local&run=${E2E_RUN_ID}`));
      await expect(page.getByTestId("iteration-panel")).toBeVisible();
      await expect(page.locator("[data-testid=chart-Return] canvas")).toHaveCount(1);
      await chartsBelowTheFold(page);
      await screenshot(page, "analytics", size.width);

      const its = await apiGet(`/api/local/runs/${E2E_RUN_ID}/iterations?limit=10`);
      const w = its.iterations[5].window_id;
      await page.getByRole("combobox", { name: "Iteration", exact: true }).selectOption(String(w));
      await expect(page.getByTestId("iteration-panel")).toHaveAttribute("data-window", String(w));
      await expect(page.locator("[data-testid='chart-Policy loss'] canvas")).toHaveCount(1);
      await screenshot(page, "analytics-iteration", size.width);

      // comparison: the --num-seeds group of runs-compare.spec when it ran, else the e2e run's neighbours
      const runs = (await apiGet(`/api/local/runs?limit=50`)).runs as { run_id: string; group: string | null }[];
      const group = runs.filter((r) => r.group === "e2e-grp").map((r) => r.run_id);
      const others = group.length > 1 ? group : runs.map((r) => r.run_id).slice(0, 2);
      await page.goto(web(`/analytics?source=local&run=${others[0]}&compare=${others.slice(1).join(",")}`));
      await expect(page.locator("[data-testid=chart-Return] canvas")).toHaveCount(1);
      await chartsBelowTheFold(page);
      await screenshot(page, "analytics-compare", size.width);

      await page.goto(web("/play"));
      await page.getByLabel("Seed (optional)").fill("7");
      await page.getByRole("button", { name: "Start game" }).click();
      await expect(page.getByTestId("game-map")).toBeVisible();
      for (let i = 0; i < 3; i++) {
        await page.getByRole("button", { name: /Wait a day/ }).click();
        await expect(page.getByTestId("status-day")).toContainText(`${i + 1} /`);
      }
      await screenshot(page, "play", size.width);

      await page.getByRole("tab", { name: "Watch the agent" }).click();
      await page.getByLabel("Speed").selectOption({ label: "max" });
      await page.getByRole("button", { name: "Watch" }).click();
      await expect(page.getByTestId("episode-summary")).toBeVisible({ timeout: 60_000 });
      await screenshot(page, "replay", size.width);
    });
  });
}
