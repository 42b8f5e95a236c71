/**
 * Issue 14 item 9: compare runs. A real `--num-seeds 2` group is trained here; one click on
 * its group button overlays both seeds on every chart, every series of each chart (eval and
 * train: one colour per run, one line style per key, a legend that toggles each run and each
 * key), the runs table sorts by any column, and the whole view is in the URL.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { apiGet, env, expect, test, web } from "./fixtures";
import { trainArgs } from "./train-config";

const GROUP = "e2e-grp";

function trainGroup(): Promise<number | null> {
  const args = trainArgs(env("E2E_RUNS_DIR_USED")).map((a) => (a === "e2e-run" ? GROUP : a));
  args[args.indexOf("--total-steps") + 1] = String(16 * 16 * 2 * 3); // 3 windows
  args.push("--num-seeds", "2");
  const python = process.env.PYTHON || path.resolve(__dirname, "../../../.venv/bin/python");
  const p = spawn(python, ["-m", "ppo.train", ...args], {
    cwd: path.resolve(__dirname, "../../.."),
    env: { ...process.env, WANDB_MODE: "disabled", PYTHONUNBUFFERED: "1" },
    stdio: "ignore",
  });
  return new Promise((r) => p.on("exit", (c) => r(c)));
}

test("9: a --num-seeds 2 group compared in one click, on every chart, shareable by URL", async ({ page }) => {
  test.setTimeout(300_000);
  expect(await trainGroup()).toBe(0);
  const list = await apiGet(`/api/local/runs?limit=50&group=${GROUP}`);
  const ids = list.runs.map((r: { run_id: string }) => r.run_id).sort();
  expect(ids).toEqual([`${GROUP}-s0`, `${GROUP}-s1`]);

  await page.goto(web("/analytics?source=local"));
  const table = page.getByTestId("runs-table");
  await table.getByRole("button", { name: new RegExp(`^Compare group ${GROUP} \\(2 runs\\)`) }).click();
  await expect(page).toHaveURL(/compare=/);
  const url = new URL(page.url());
  const charted = [url.searchParams.get("run"), ...(url.searchParams.get("compare") ?? "").split(",")];
  expect(new Set(charted)).toEqual(new Set(ids));

  // every trend chart and every metric chart: every series of the chart for each compared run
  // (drawn with data), one legend entry and colour per run, and a line-style entry per key
  const hist0 = await apiGet(`/api/local/runs/${ids[0]}/history?max_points=1000`);
  const charts: [string, string[]][] = [
    ["Return", ["eval/return_mean", "train/return_mean"]],
    ["Profit (coins)", ["eval/profit_mean", "train/profit_mean"]],
    ["Survival rate", ["eval/survival_rate", "train/survival_rate"]],
    ["Invalid-action rate", ["eval/invalid_action_rate", "train/invalid_action_rate"]],
    ["Env steps per second", ["sps"]],
    ["loss/value", ["loss/value"]],
    ["loss/policy", ["loss/policy"]],
    ["loss/entropy", ["loss/entropy"]],
  ];
  await page.getByTestId("metrics-card").scrollIntoViewIfNeeded();
  for (const [title, keys] of charts) {
    const chart = page.getByTestId(`chart-${title}`);
    const want = ids.flatMap((id: string) => keys.map((k) => `${id}|${k}`)).sort();
    await expect
      .poll(async () => ((await chart.getAttribute("data-series")) ?? "").split(" ").filter(Boolean).sort(), { timeout: 30_000 })
      .toEqual(want);
    const groups = chart.locator("figcaption").locator("button[data-legend=group]");
    await expect(groups).toHaveCount(2);
    await expect(chart.locator("figcaption button[aria-pressed=false]")).toHaveCount(0);
    const colours = await groups.locator(".swatch").evaluateAll((ss) => ss.map((s) => getComputedStyle(s).backgroundColor));
    expect(new Set(colours).size).toBe(2);
    await expect(chart.locator("figcaption").locator("button[data-legend=style]")).toHaveCount(keys.length > 1 ? keys.length : 0);
  }
  // both seeds ran the same steps: the shared x-axis has one point per window
  await expect(page.getByTestId("chart-Return")).toHaveAttribute("data-points", String(hist0.total_rows));
  // the legend toggles a run's series, and a key's series across runs
  const first = page.getByTestId("chart-Return").locator("figcaption button[data-legend=group]").first();
  await first.click();
  await expect(first).toHaveAttribute("aria-pressed", "false");
  await first.click();
  await expect(first).toHaveAttribute("aria-pressed", "true");
  const train = page.getByTestId("chart-Return").locator("figcaption button[data-legend=style]", { hasText: "train" });
  await train.click();
  await expect(train).toHaveAttribute("aria-pressed", "false");
  await train.click();
  await expect(train).toHaveAttribute("aria-pressed", "true");

  // sortable runs table with config columns, state, duration and final KPIs
  for (const col of ["Envs", "LR", "Hidden", "Seed", "State", "Duration", "Eval return", "Survival"])
    await expect(table.getByRole("columnheader", { name: new RegExp(`^${col}`) })).toBeVisible();
  await table.getByRole("button", { name: /^Eval return/ }).click();
  await expect(page).toHaveURL(/sort=eval%2Freturn_mean|sort=eval\/return_mean/);
  const vals = async () =>
    (await table.locator("td[data-col='eval/return_mean']").evaluateAll((tds) => tds.map((t) => t.getAttribute("data-value"))))
      .filter((v) => v !== "")
      .map(Number);
  // wait on the table's order (a read right after the click can see the previous render)
  await expect.poll(async () => { const v = await vals(); return v.length > 1 && v.every((x, i) => i === 0 || x >= v[i - 1]); }).toBe(true);
  const asc = await vals();
  await table.getByRole("button", { name: /^Eval return/ }).click();
  await expect(table.locator("th[aria-sort=descending]")).toContainText("Eval return");
  await expect.poll(vals).toEqual([...asc].sort((a, b) => b - a));

  // at 390 px the compare legends wrap (nothing but the runs table scrolls sideways) and each
  // legend toggle is a finger's target, ~40 px as every button on a phone (breakweb)
  await page.setViewportSize({ width: 390, height: 844 });
  await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  const caption = page.getByTestId("chart-Return").locator("figcaption");
  await expect.poll(async () => { const b = await caption.boundingBox(); return b ? b.x + b.width : Infinity; }).toBeLessThanOrEqual(390);
  const legendButtons = caption.locator("button.legend-toggle");
  await expect(legendButtons).toHaveCount(4);
  await expect
    .poll(() => legendButtons.evaluateAll((bs) => Math.min(...bs.map((b) => b.getBoundingClientRect().height))))
    .toBeGreaterThanOrEqual(39.5);
  await page.setViewportSize({ width: 1280, height: 860 });

  // the URL alone restores the view
  const shared = page.url();
  const other = await page.context().newPage();
  await other.goto(shared);
  await expect(other.getByTestId("chart-Return").locator("figcaption button[data-legend=group]")).toHaveCount(2);
  await expect(other.getByTestId("runs-table").locator("th[aria-sort=descending]")).toContainText("Eval return");
  await other.close();
});
