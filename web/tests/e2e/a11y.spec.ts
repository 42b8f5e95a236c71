/** axe-core accessibility audit (labels, contrast, roles) of every page, in Chromium. */
import { createRequire } from "node:module";
import type { Page } from "@playwright/test";
import { expect, test, web } from "./fixtures";

const AXE = createRequire(__filename).resolve("axe-core/axe.min.js");

async function audit(page: Page) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    return axe.run(document, { resultTypes: ["violations"], runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
  });
  return result.violations.map((v) => `${v.impact} ${v.id}: ${v.help} @ ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
}

for (const size of [{ width: 1280, height: 860 }, { width: 390, height: 844 }]) {
  test(`pages pass axe (WCAG 2.1 AA) at ${size.width}px`, async ({ page }) => {
    await page.setViewportSize(size);
    await page.goto(web("/"));
    await expect(page.getByTestId("kpi-window")).not.toHaveText("–");
    expect(await audit(page)).toEqual([]);

    await page.goto(web("/analytics"));
    await expect(page.locator("[data-testid=history-card] canvas")).toHaveCount(5);
    await expect(page.getByTestId("iteration-panel")).toBeVisible();
    expect(await audit(page)).toEqual([]);

    await page.goto(web("/play"));
    await page.getByRole("button", { name: "Start game" }).click();
    await expect(page.getByTestId("game-map")).toBeVisible();
    expect(await audit(page)).toEqual([]);
  });
}
