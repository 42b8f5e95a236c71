import { E2E_RUN_ID } from "./train-config";
import { apiGet, apiStatus, close, dataValue, expect, stubFault, test, web } from "./fixtures";

const KPI_KEYS = ["eval/return_mean", "eval/profit_mean", "eval/survival_rate", "eval/invalid_action_rate", "sps"] as const;

async function defaultSource(): Promise<string> {
  return (await apiGet("/api/health")).default_source;
}

test.describe("/analytics against the live service", () => {
  test.afterEach(async () => stubFault(null));

  // Window 1 is outside the last 10, so no other test has asked W&B for it: nothing is cached.
  test("an upstream failure with nothing cached is an error with retry; retry recovers", async ({ page }) => {
    await stubFault("server_error");
    const failing = await apiStatus(`/api/wandb/runs/${E2E_RUN_ID}/iterations/1`);
    expect(failing.status).toBe(502);
    await page.goto(web(`/analytics?source=wandb&run=${E2E_RUN_ID}&iteration=1`));
    const card = page.getByTestId("iteration-card");
    await expect(card.getByRole("alert")).toContainText(failing.body.error.message);
    await expect(page.getByRole("heading", { name: "Training analytics" })).toBeVisible();
    await stubFault(null);
    await card.getByRole("button", { name: "Retry" }).click();
    await expect(card.getByRole("alert")).toHaveCount(0);
    await expect(page.getByTestId("iteration-panel")).toHaveAttribute("data-window", "1");
  });

  test("default load shows the latest run and its KPIs", async ({ page }) => {
    const src = await defaultSource();
    const runs = await apiGet(`/api/${src}/runs?limit=10`);
    const latest = runs.runs[0];
    expect(latest.run_id).toBe(E2E_RUN_ID);
    const summary = await apiGet(`/api/${src}/runs/${latest.run_id}/summary`);

    await page.goto(web("/analytics"));
    await expect(page.locator("main[data-page=analytics]")).toBeVisible();
    await expect(page.getByRole("combobox", { name: "Run", exact: true })).toHaveValue(latest.run_id);
    await expect(page.getByTestId("state-badge").first()).toHaveText(summary.run.state);
    await expect(page.getByTestId("updated-ago")).toContainText(/updated \d+ (s|min|h|d) ago/);
    await expect(page.getByTestId("kpi-window")).toHaveText(String(summary.kpis.window_id));
    for (const k of KPI_KEYS) close(await dataValue(page, `kpi-${k}`), summary.kpis[k]);
    const ret = summary.kpis["eval/return_mean"] as number;
    await expect(page.getByTestId("kpi-eval/return_mean")).toContainText(ret.toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ","));
    // and the whole-run trend charts drew every window
    const hist = await apiGet(`/api/${src}/runs/${latest.run_id}/history?max_points=1000`);
    await expect(page.getByTestId("chart-Return")).toHaveAttribute("data-points", String(hist.rows.length));
    await expect(page.locator("[data-testid=chart-Return] canvas")).toHaveCount(1);
  });

  test("home shows what Caravan is and the latest run's KPIs", async ({ page }) => {
    const src = await defaultSource();
    const latest = (await apiGet(`/api/${src}/runs?limit=1`)).runs[0];
    const summary = await apiGet(`/api/${src}/runs/${latest.run_id}/summary`);
    await page.goto(web("/"));
    await expect(page.locator("main[data-page=home]")).toBeVisible();
    await expect(page.getByRole("heading", { name: "Caravan", level: 1 })).toBeVisible();
    await expect(page.getByTestId("latest-run")).toContainText(latest.name);
    await expect(page.getByTestId("kpi-window")).toHaveText(String(summary.kpis.window_id));
    for (const k of KPI_KEYS) close(await dataValue(page, `kpi-${k}`), summary.kpis[k]);
    await page.getByRole("link", { name: "Open analytics" }).click();
    await expect(page.locator("main[data-page=analytics]")).toBeVisible();
  });

  test("iteration dropdown lists exactly the last 10 iterations", async ({ page }) => {
    const src = await defaultSource();
    const hist = await apiGet(`/api/${src}/runs/${E2E_RUN_ID}/history?max_points=1000`);
    expect(hist.total_rows).toBeGreaterThan(10);
    const its = await apiGet(`/api/${src}/runs/${E2E_RUN_ID}/iterations?limit=10`);
    const expected = its.iterations.map((r: { window_id: number }) => String(r.window_id));
    expect(expected).toHaveLength(10);

    await page.goto(web("/analytics"));
    const select = page.getByRole("combobox", { name: "Iteration", exact: true });
    await expect(select).toBeEnabled();
    const values = await select.locator("option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(values).toEqual(expected);
    expect(values).not.toContain("0");
  });

  test("choosing an iteration updates the panel, the charts and the KPIs to its values", async ({ page }) => {
    const src = await defaultSource();
    const its = await apiGet(`/api/${src}/runs/${E2E_RUN_ID}/iterations?limit=10`);
    const target = its.iterations[4].window_id as number;
    const it = await apiGet(`/api/${src}/runs/${E2E_RUN_ID}/iterations/${target}`);

    await page.goto(web("/analytics"));
    await expect(page.getByTestId("iteration-panel")).toHaveAttribute("data-window", String(its.iterations[0].window_id));
    await page.getByRole("combobox", { name: "Iteration", exact: true }).selectOption(String(target));

    await expect(page.getByTestId("iteration-panel")).toHaveAttribute("data-window", String(target));
    await expect(page).toHaveURL(new RegExp(`iteration=${target}`));
    // KPIs
    await expect(page.getByTestId("kpi-window")).toHaveText(String(target));
    for (const k of KPI_KEYS) close(await dataValue(page, `kpi-${k}`), it.row[k]);
    // panel metrics, updates, evaluation
    for (const k of ["eval/return_mean", "eval/profit_mean", "eval/survival_rate", "sps"])
      close(await dataValue(page, `metric-${k}`), it.row[k]);
    await expect(page.getByText(`Per-update losses (${it.updates.length} updates)`)).toBeVisible();
    await expect(page.getByTestId("chart-Policy loss")).toHaveAttribute("data-points", String(it.updates.length));
    if (it.eval) {
      const total = it.eval.histograms.return.counts.reduce((a: number, b: number) => a + b, 0);
      await expect(page.getByTestId("hist-Return")).toHaveAttribute("data-total", String(total));
      for (const kind of ["wait", "travel", "buy", "sell"])
        close(Number(await page.locator(`[data-testid=action-mix] li[data-kind=${kind}]`).getAttribute("data-value")), it.eval.action_mix[kind]);
    }
    // charts: the highlight marker sits at the iteration's x, and the readouts show its values
    await expect(page.getByTestId("chart-Return")).toHaveAttribute("data-highlight", String(it.row.env_steps));
    close(Number(await page.locator("[data-testid=readout-return] [data-key='eval/return_mean']").getAttribute("data-value")), it.row["eval/return_mean"]);
    close(Number(await page.locator("[data-testid=readout-sps] [data-key='sps']").getAttribute("data-value")), it.row.sps);
    await page.getByLabel("wall time").check();
    await expect(page.getByTestId("chart-Return")).toHaveAttribute("data-highlight", String(it.row.wall_time_s));
  });

  test("errors from the service appear per card with its message, and the page stays up", async ({ page }) => {
    const missing = await apiStatus(`/api/local/runs/no-such-run/summary`);
    expect(missing.status).toBe(404);
    await page.goto(web("/analytics?source=local&run=no-such-run"));
    await expect(page.getByRole("heading", { name: "Training analytics" })).toBeVisible();
    const alerts = page.getByRole("alert");
    await expect(alerts.first()).toContainText(missing.body.error.message);
    await expect(page.getByTestId("kpi-card").getByRole("alert")).toContainText(missing.body.error.message);
    await expect(page.getByTestId("history-card").getByRole("alert")).toContainText(missing.body.error.message);
    await expect(page.getByTestId("kpi-card").getByRole("button", { name: "Retry" })).toBeVisible();
  });

  test("stale data from the service shows the stale banner", async ({ page }) => {
    // Prime the service's cache from W&B, then make W&B fail: the service answers stale.
    await apiGet(`/api/wandb/runs?limit=10`);
    await apiGet(`/api/wandb/runs/${E2E_RUN_ID}/summary`);
    await apiGet(`/api/wandb/runs/${E2E_RUN_ID}/history?max_points=1000`);
    await stubFault("server_error");
    const stale = await apiGet(`/api/wandb/runs/${E2E_RUN_ID}/summary`);
    expect(stale.stale).toBe(true);
    await page.goto(web(`/analytics?source=wandb&run=${E2E_RUN_ID}`));
    await expect(page.getByTestId("stale-banner")).toBeVisible();
    await expect(page.getByTestId("kpi-window")).toHaveText(String(stale.kpis.window_id));
  });
});
