/**
 * A run that is training while the page is open: the page polls every card, "every metric"
 * included, and shows new windows without a reload (issue 14 item 10). Stopped with SIGTERM (the
 * trainer records `crashed`), the page stops polling the cards and re-checks the summary alone at
 * the slow rate (lib/config.ts RECHECK_MS); resumed with `--resume`, it turns `running` again
 * and polls, without a reload (issue 13 row 2).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { apiGet, env, expect, test, web } from "./fixtures";
import { trainArgs } from "./train-config";

const LIVE_RUN = "e2e-live";

test("a running run is polled live; a crashed one is re-checked slowly and a resume is picked up", async ({ page }) => {
  test.setTimeout(360_000);
  const runsDir = env("E2E_RUNS_DIR_USED");
  const args = trainArgs(runsDir).map((a) => (a === "e2e-run" ? LIVE_RUN : a));
  // long enough to watch: many windows, stopped by us
  args[args.indexOf("--total-steps") + 1] = String(16 * 16 * 2 * 5000);
  const python = process.env.PYTHON || path.resolve(__dirname, "../../../.venv/bin/python");
  const trainer = spawn(python, ["-m", "ppo.train", ...args], {
    cwd: path.resolve(__dirname, "../../.."),
    env: { ...process.env, WANDB_MODE: "disabled", PYTHONUNBUFFERED: "1" },
    stdio: "ignore",
  });
  const exited = new Promise<number | null>((r) => trainer.on("exit", (c) => r(c)));
  try {
    // wait until the trainer has written its first windows
    await expect
      .poll(async () => (await apiGet(`/api/local/runs?limit=10`)).runs.find((r: { run_id: string }) => r.run_id === LIVE_RUN)?.window_id ?? -1, { timeout: 120_000, intervals: [1000] })
      .toBeGreaterThanOrEqual(1);

    const summaries: number[] = [];
    const fast: string[] = [];
    page.on("request", (r) => {
      if (r.url().includes(`/runs/${LIVE_RUN}/summary`)) summaries.push(Date.now());
      // the polled lists (one-time fetches of single windows' panels are not polls)
      if (/\/runs\/e2e-live\/(history|iterations)\?/.test(r.url())) fast.push(r.url());
    });
    await page.goto(web(`/analytics?source=local&run=${LIVE_RUN}`));
    await expect(page.getByTestId("state-badge")).toHaveText("running");
    const first = Number(await page.getByTestId("kpi-window").textContent());
    // new windows appear without reloading (polled every 5 s)
    await expect.poll(async () => Number(await page.getByTestId("kpi-window").textContent()), { timeout: 30_000 }).toBeGreaterThan(first);
    expect(summaries.length).toBeGreaterThanOrEqual(2);
    // a zoom dragged on a live chart survives the polls' new windows (breakweb)
    const ret = page.getByTestId("chart-Return");
    const over = ret.locator(".u-over");
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await expect(ret).toHaveAttribute("data-zoomed", "true");
    const zoomedAt = Number(await ret.getAttribute("data-points"));
    await expect.poll(async () => Number(await ret.getAttribute("data-points")), { timeout: 30_000 }).toBeGreaterThan(zoomedAt);
    await expect(ret).toHaveAttribute("data-zoomed", "true");
    await ret.getByRole("button", { name: "Reset zoom" }).click();
    await expect(ret).toHaveAttribute("data-zoomed", "false");
    // the "every metric" card is polled too: its charts gain the new windows
    await page.getByTestId("metrics-card").scrollIntoViewIfNeeded();
    const metric = page.getByTestId("metrics-card").getByTestId("chart-loss/value");
    await expect(metric).toHaveAttribute("data-points", /^[1-9]/, { timeout: 30_000 });
    const points = Number(await metric.getAttribute("data-points"));
    await expect.poll(async () => Number(await metric.getAttribute("data-points")), { timeout: 30_000 }).toBeGreaterThan(points);

    trainer.kill("SIGTERM");
    expect(await exited).not.toBeNull();
    // the service may answer from its short local memo (ANALYTICS_LOCAL_MEMO_S, 1 s) for a
    // moment after the trainer's last write: wait for the record's new state
    let state = "running";
    await expect
      .poll(async () => (state = (await apiGet(`/api/local/runs/${LIVE_RUN}/summary`)).run.state), { timeout: 15_000, intervals: [250] })
      .not.toBe("running");
    await expect(page.getByTestId("state-badge")).toHaveText(state, { timeout: 20_000 });
    // the cards stop polling; the summary alone is re-checked, at the slow rate (15 s, not 5 s)
    const stoppedAt = Date.now();
    const fastBefore = fast.length;
    await expect.poll(() => summaries.filter((t) => t > stoppedAt).length, { timeout: 45_000, intervals: [250] }).toBeGreaterThanOrEqual(1);
    expect(summaries.find((t) => t > stoppedAt)! - stoppedAt).toBeGreaterThan(10_000);
    expect(fast.length).toBe(fastBefore);

    // resumed: the page shows `running` again without a reload, and polls the cards again
    const resumed = spawn(python, ["-m", "ppo.train", "--run-dir", runsDir, "--resume", LIVE_RUN, "--wandb", "disabled"], {
      cwd: path.resolve(__dirname, "../../.."),
      env: { ...process.env, WANDB_MODE: "disabled", PYTHONUNBUFFERED: "1" },
      stdio: "ignore",
    });
    const resumedExit = new Promise<number | null>((r) => resumed.on("exit", (c) => r(c)));
    try {
      await expect(page.getByTestId("state-badge")).toHaveText("running", { timeout: 150_000 });
      await expect.poll(() => fast.length, { timeout: 30_000 }).toBeGreaterThan(fastBefore);
    } finally {
      if (resumed.exitCode === null) resumed.kill("SIGTERM");
      await resumedExit;
    }
  } finally {
    if (trainer.exitCode === null) trainer.kill("SIGKILL");
  }
});
