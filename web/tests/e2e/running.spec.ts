/**
 * A run that is training while the page is open: the page polls and shows new windows without a
 * reload, and stops polling once the run is no longer running (here: stopped with SIGTERM, which
 * the trainer records as `crashed`).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { apiGet, env, expect, test, web } from "./fixtures";
import { trainArgs } from "./train-config";

const LIVE_RUN = "e2e-live";

test("a running run is polled live, and polling stops when it ends", async ({ page }) => {
  test.setTimeout(180_000);
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
    page.on("request", (r) => {
      if (r.url().includes(`/runs/${LIVE_RUN}/summary`)) summaries.push(Date.now());
    });
    await page.goto(web(`/analytics?source=local&run=${LIVE_RUN}`));
    await expect(page.getByTestId("state-badge")).toHaveText("running");
    const first = Number(await page.getByTestId("kpi-window").textContent());
    // new windows appear without reloading (polled every 5 s)
    await expect.poll(async () => Number(await page.getByTestId("kpi-window").textContent()), { timeout: 30_000 }).toBeGreaterThan(first);
    expect(summaries.length).toBeGreaterThanOrEqual(2);

    trainer.kill("SIGTERM");
    expect(await exited).not.toBeNull();
    // the service may answer from its short local memo (ANALYTICS_LOCAL_MEMO_S, 1 s) for a
    // moment after the trainer's last write: wait for the record's new state
    let state = "running";
    await expect
      .poll(async () => (state = (await apiGet(`/api/local/runs/${LIVE_RUN}/summary`)).run.state), { timeout: 15_000, intervals: [250] })
      .not.toBe("running");
    await expect(page.getByTestId("state-badge")).toHaveText(state, { timeout: 20_000 });
    // polling has stopped: no summary request for longer than two poll periods
    const before = summaries.length;
    await page.waitForTimeout(11_000);
    expect(summaries.length).toBe(before);
  } finally {
    if (trainer.exitCode === null) trainer.kill("SIGKILL");
  }
});
