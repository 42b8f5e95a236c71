/**
 * Issue 14 items on /analytics against the live service (one test per item, numbered as in
 * the issue), and issue 13 row 6 (a one-window run's charts are not empty).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { apiGet, env, expect, test, web } from "./fixtures";
import { E2E_RUN_ID } from "./train-config";

const A = (q = "") => web(`/analytics?source=local&run=${E2E_RUN_ID}${q}`);

test("5: ?iteration=N shows N in the dropdown, and the entries read differently", async ({ page }) => {
  const its = await apiGet(`/api/local/runs/${E2E_RUN_ID}/iterations?limit=10`);
  const older = 0; // not among the last 10 windows of the 12-window run
  expect(its.iterations.map((r: { window_id: number }) => r.window_id)).not.toContain(older);
  await page.goto(A(`&iteration=${older}`));
  const select = page.getByRole("combobox", { name: "Iteration", exact: true });
  await expect(page.getByTestId("iteration-panel")).toHaveAttribute("data-window", String(older));
  await expect(select).toHaveValue(String(older));
  const texts = await select.locator("option").allTextContents();
  expect(new Set(texts).size).toBe(texts.length);
  // every entry carries its exact env steps
  for (const r of its.iterations) expect(texts.some((t) => t.includes(r.env_steps.toLocaleString("en-US")))).toBe(true);
  // and a choice made with the control is what the page shows
  await select.selectOption(String(its.iterations[3].window_id));
  await expect(page.getByTestId("iteration-panel")).toHaveAttribute("data-window", String(its.iterations[3].window_id));
  await expect(select).toHaveValue(String(its.iterations[3].window_id));
});

test("6: Download CSV is the service's export: every window, every metric", async ({ page }) => {
  const hist = await apiGet(`/api/local/runs/${E2E_RUN_ID}/history?max_points=2`);
  await page.goto(A());
  await expect(page.getByTestId("chart-Return")).toBeVisible();
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download CSV" }).click()]);
  expect(download.suggestedFilename()).toBe(`${E2E_RUN_ID}-windows.csv`);
  const text = readFileSync((await download.path())!, "utf8");
  const lines = text.trim().split(/\r?\n/);
  expect(lines).toHaveLength(hist.total_rows + 1);
  const header = lines[0].split(",");
  expect(header[0]).toBe("window_id");
  for (const k of ["eval/return_mean", "loss/approx_kl", "opt/grad_norm", "sps"]) expect(header).toContain(k);
});

test("7: only available sources are offered; the service's reason is shown for the others", async ({ page }) => {
  const health = await apiGet("/api/health");
  // This suite's service has W&B (the stub): both are offered.
  await page.goto(A());
  const src = page.getByRole("combobox", { name: "Source" });
  await expect(src.locator("option")).toHaveCount(2);
  // The same page when the service reports W&B missing (its real answer, one field changed).
  await page.route("**/api/health", async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    body.sources.wandb = { ...body.sources.wandb, available: false, reason: "WANDB_API_KEY is not set" };
    body.default_source = "local";
    await route.fulfill({ response: res, json: body });
  });
  await page.goto(web("/analytics"));
  await expect(src.locator("option")).toHaveCount(1);
  await expect(src.locator("option")).toHaveText(["local run records"]);
  await expect(page.getByTestId("sources-missing")).toContainText("WANDB_API_KEY is not set");
  expect(health.sources.local.available).toBe(true);
});

test("8: hovering a trend chart reads out the smoothed and the raw value, labelled", async ({ page }) => {
  const hist = await apiGet(`/api/local/runs/${E2E_RUN_ID}/history?max_points=1000`);
  await page.goto(A());
  const chart = page.getByTestId("chart-Return");
  const canvas = chart.locator(".u-over");
  await expect(chart.locator("canvas")).toHaveCount(1);
  await chart.scrollIntoViewIfNeeded();
  const box = (await canvas.boundingBox())!;
  // the last window: far right of the plot area
  await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
  const readout = chart.getByTestId("cursor-readout");
  await expect(readout).toContainText("eval smoothed");
  const last = hist.rows[hist.rows.length - 1]["eval/return_mean"] as number;
  await expect(readout).toContainText(`raw ${last.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
  // the chosen-window readout under the chart says which is which too
  await expect(page.getByTestId("readout-return")).toContainText("eval raw");
  await expect(page.getByTestId("readout-return")).toContainText("smoothed");
});

test("10: every logged metric can be charted; log scale, auto-scale and zoom with a reset", async ({ page }) => {
  const hist = await apiGet(`/api/local/runs/${E2E_RUN_ID}/history?max_points=1000`);
  await page.goto(A());
  const card = page.getByTestId("metrics-card");
  // the card loads its data when scrolled near, as a reader would
  await card.scrollIntoViewIfNeeded();
  // the default charts include the losses, entropy, approx-KL, clip fraction, grad norm, lr, explained variance
  for (const k of ["loss/policy", "loss/entropy", "loss/approx_kl", "loss/clip_frac", "opt/grad_norm", "opt/lr", "loss/explained_variance"])
    await expect(card.getByTestId(`chart-${k}`)).toHaveAttribute("data-points", String(hist.rows.length));
  // the chooser lists every numeric key and its filter narrows it
  await card.getByLabel("Filter").fill("actions/");
  const boxes = card.getByRole("list", { name: "Metrics" }).getByRole("checkbox");
  await expect(boxes).toHaveCount(4);
  await card.getByLabel("actions/wait").check();
  await expect(card.getByTestId("chart-actions/wait")).toBeVisible();
  await expect(page).toHaveURL(/metrics=[^&]*actions%2Fwait|metrics=[^&]*actions\/wait/);
  // log scale
  const kl = card.getByTestId("chart-loss/approx_kl");
  await kl.locator("..").getByLabel("log scale").check();
  await expect(card.getByTestId("chart-loss/approx_kl")).toHaveAttribute("data-log", "true");
  // auto-scale replaces the fixed 0-100 % axis of a rate chart
  const inv = page.getByTestId("history-card").getByTestId("chart-Invalid-action rate");
  await inv.locator("..").getByLabel("auto-scale").check();
  await expect(page).toHaveURL(/auto=invalid/);
  // zoom by dragging, then reset
  const ret = page.getByTestId("chart-Return");
  await expect(ret.locator("canvas")).toHaveCount(1);
  await ret.scrollIntoViewIfNeeded();
  const box = (await ret.locator(".u-over").boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await expect(ret).toHaveAttribute("data-zoomed", "true");
  await ret.getByRole("button", { name: "Reset zoom" }).click();
  await expect(ret).toHaveAttribute("data-zoomed", "false");
  await expect(ret.getByRole("button", { name: "Reset zoom" })).toHaveCount(0);
});

test("11: the run's config, code version and duration are on the page", async ({ page }) => {
  const s = await apiGet(`/api/local/runs/${E2E_RUN_ID}/summary`);
  await page.goto(A());
  const card = page.getByTestId("run-card");
  await expect(card.getByTestId("run-code-version")).toHaveAttribute("data-value", s.run.code_version ?? "");
  expect(Number(await card.getByTestId("run-duration").getAttribute("data-value"))).toBeCloseTo(s.run.duration_s, 6);
  await card.getByText(/^Config \(\d+ settings\)$/).click();
  for (const [k, v] of Object.entries(s.run.full_config).slice(0, 5))
    await expect(card.locator(`tr[data-key="${k}"] td`)).toHaveText(typeof v === "object" ? JSON.stringify(v) : String(v));
});

/** A copy of the e2e run cut to its first window (and dated in the past, so it is not the latest). */
function oneWindowRun(id: string): void {
  const runs = env("E2E_RUNS_DIR_USED");
  const src = path.join(runs, E2E_RUN_ID);
  const dst = path.join(runs, id);
  if (existsSync(dst)) return;
  mkdirSync(path.join(dst, "eval"), { recursive: true });
  const run = JSON.parse(readFileSync(path.join(src, "run.json"), "utf8"));
  Object.assign(run, { run_id: id, name: "one window", created_at: "2020-01-01T00:00:00.000Z", updated_at: "2020-01-01T00:00:10.000Z", state: "finished", windows_completed: 1, last_checkpoint: null, best_checkpoint: null });
  const first = (f: string, keep: (r: { window_id: number }) => boolean) => {
    const lines = readFileSync(path.join(src, f), "utf8").split("\n").filter((l) => l.trim() && keep(JSON.parse(l)));
    writeFileSync(path.join(dst, f), lines.join("\n") + "\n");
  };
  first("windows.jsonl", (r) => r.window_id === 0);
  first("updates.jsonl", (r) => r.window_id === 0);
  for (const f of readdirSync(path.join(src, "eval"))) if (/^0*0\.json$/.test(f)) copyFileSync(path.join(src, "eval", f), path.join(dst, "eval", f));
  writeFileSync(path.join(dst, "run.json"), JSON.stringify(run));
}

test("issue 13 row 6: a one-window run draws a visible point on every trend chart", async ({ page }) => {
  oneWindowRun("e2e-one");
  const hist = await apiGet(`/api/local/runs/e2e-one/history?max_points=1000`);
  expect(hist.total_rows).toBe(1);
  await page.goto(web("/analytics?source=local&run=e2e-one&smooth=0"));
  for (const title of ["Return", "Survival rate", "Env steps per second"]) {
    const chart = page.getByTestId(`chart-${title}`);
    await expect(chart.locator("canvas")).toHaveCount(1);
    await expect(chart).toHaveAttribute("data-isolated", /^[1-9]/);
    // pixels of the series colour are on the canvas (a one-point line alone draws none)
    const painted = await chart.locator("canvas").evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) {
        const [r, g, b, a] = [d[i], d[i + 1], d[i + 2], d[i + 3]];
        // a series colour (eval blue #0072B2, train orange #E69F00, steps/s green #009E73), within antialiasing
        const near = (R: number, G: number, B: number) => Math.abs(r - R) < 40 && Math.abs(g - G) < 40 && Math.abs(b - B) < 40;
        if (a > 200 && (near(0, 114, 178) || near(230, 159, 0) || near(0, 158, 115))) n++;
      }
      return n;
    });
    expect(painted).toBeGreaterThan(10);
  }
});
