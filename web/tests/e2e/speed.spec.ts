/**
 * Speed report, a benchmark that prints its figures (not part of `make test`, and it asserts
 * no timing: run with E2E_SPEED=1, see web/README.md): /analytics on a 10,000-window run in
 * Chromium on loopback. Times are from navigation start; medians of several cold page loads
 * (fresh browser context each); then the time from choosing another iteration until the KPI
 * cards and then the iteration panel show it. Writes test-results/speed.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { apiGet, expect, test, testFetch, web } from "./fixtures";

const RUN = process.env.E2E_SPEED_RUN ?? "speed-10000";
const LOADS = 7;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

test("speed: /analytics on a 10,000-window run, iteration changes, and JS per page", async ({ browser }) => {
  test.setTimeout(600_000);
  const hist = await apiGet(`/api/local/runs/${RUN}/history?max_points=1000`);
  expect(hist.total_rows).toBeGreaterThanOrEqual(1000);
  expect(hist.rows.length).toBeLessThanOrEqual(1000);

  const samples: { kpi: number; ready: number; interactive: number; longTasks: number }[] = [];
  for (let i = 0; i < LOADS + 1; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await ctx.newPage();
    await page.addInitScript(() => {
      const w = window as unknown as { __speed: { kpi?: number; ready?: number; lastLong: number; longTasks: number } };
      w.__speed = { lastLong: 0, longTasks: 0 };
      try {
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) {
            w.__speed.lastLong = Math.max(w.__speed.lastLong, e.startTime + e.duration);
            w.__speed.longTasks += 1;
          }
        }).observe({ type: "longtask", buffered: true });
      } catch {
        /* no longtask support */
      }
      const check = () => {
        const s = w.__speed;
        const kpi = document.querySelector('[data-testid="kpi-eval/return_mean"] .kpi-value');
        if (s.kpi === undefined && kpi && kpi.textContent && kpi.textContent !== "–") s.kpi = performance.now();
        const select = document.querySelector("#iteration-select") as HTMLSelectElement | null;
        const canvases = document.querySelectorAll("[data-testid=history-card] canvas").length;
        const panel = document.querySelector("[data-testid=iteration-panel] canvas");
        if (s.ready === undefined && select && !select.disabled && canvases >= 5 && panel) s.ready = performance.now();
      };
      new MutationObserver(check).observe(document, { childList: true, subtree: true, attributes: true });
    });
    await page.goto(web(`/analytics?source=local&run=${RUN}`));
    await expect(page.locator("[data-testid=history-card] canvas")).toHaveCount(5);
    await page.waitForTimeout(500); // let trailing long tasks be observed
    const s = await page.evaluate(() => (window as unknown as { __speed: { kpi: number; ready: number; lastLong: number; longTasks: number } }).__speed);
    if (i > 0) samples.push({ kpi: s.kpi, ready: s.ready, interactive: Math.max(s.ready, s.lastLong), longTasks: s.longTasks }); // first load warms the server
    await ctx.close();
  }

  // Iteration changes: from the select's change event to the KPI cards (from the loaded
  // iterations list) and to the iteration panel (one /iterations/N request), timed in the page.
  const changes: { kpis: number; panel: number }[] = [];
  {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await ctx.newPage();
    await page.goto(web(`/analytics?source=local&run=${RUN}`));
    const select = page.locator("#iteration-select");
    await expect(select).toBeEnabled();
    await expect(page.getByTestId("iteration-panel")).toBeVisible();
    const values = await select.locator("option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    for (let i = 1; i <= LOADS; i++) {
      const w = values[i % values.length];
      const t = await page.evaluate(
        (w) =>
          new Promise<{ kpis: number; panel: number }>((resolve) => {
            const sel = document.querySelector("#iteration-select") as HTMLSelectElement;
            const t0 = performance.now();
            let kpis = 0;
            const tick = () => {
              const k = document.querySelector("[data-testid=kpi-window]")?.textContent?.replace(/,/g, "");
              if (!kpis && k === w) kpis = performance.now() - t0;
              const p = document.querySelector("[data-testid=iteration-panel]")?.getAttribute("data-window");
              if (kpis && p === w) resolve({ kpis, panel: performance.now() - t0 });
              else requestAnimationFrame(tick);
            };
            sel.value = w;
            sel.dispatchEvent(new Event("change", { bubbles: true }));
            requestAnimationFrame(tick);
          }),
        w,
      );
      changes.push(t);
    }
    await ctx.close();
  }

  // JS per page: the scripts the page's HTML loads (its first-load JS, raw and gzip -9), and
  // everything the browser fetched while loading (adds route prefetches and lazy chunks such as uPlot).
  const js: Record<string, { first_load_files: number; first_load_kb: number; first_load_gzip_kb: number; fetched_during_load_kb: number }> = {};
  const kb = (n: number) => Math.round(n / 102.4) / 10;
  for (const p of ["/", "/analytics", "/play"]) {
    const html = await (await testFetch(web(p))).text();
    const files = [...new Set([...html.matchAll(/\/_next\/(static\/[^"']+?\.js)/g)].map((m) => m[1]))];
    let raw = 0;
    let gz = 0;
    for (const f of files) {
      const buf = readFileSync(path.resolve(__dirname, "../../.next", f));
      raw += buf.length;
      gz += gzipSync(buf, { level: 9 }).length;
    }
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    // the local source: the default one may be the W&B stub, whose 10,000-window history is not what is measured
    await page.goto(web(p === "/analytics" ? `/analytics?source=local&run=${RUN}` : p));
    await page.waitForLoadState("networkidle");
    if (p === "/analytics") await expect(page.locator("[data-testid=history-card] canvas")).toHaveCount(5);
    const fetched = await page.evaluate(() =>
      (performance.getEntriesByType("resource") as PerformanceResourceTiming[])
        .filter((e) => e.name.includes(".js"))
        .reduce((a, e) => a + e.encodedBodySize, 0),
    );
    js[p] = { first_load_files: files.length, first_load_kb: kb(raw), first_load_gzip_kb: kb(gz), fetched_during_load_kb: kb(fetched) };
    await ctx.close();
  }

  const report = {
    run: RUN,
    windows: hist.total_rows,
    loads: samples.length,
    median_ms: {
      first_kpi_card: Math.round(median(samples.map((s) => s.kpi))),
      all_cards_ready: Math.round(median(samples.map((s) => s.ready))),
      interactive: Math.round(median(samples.map((s) => s.interactive))),
    },
    max_ms: { interactive: Math.round(Math.max(...samples.map((s) => s.interactive))) },
    iteration_change_median_ms: {
      kpi_cards: Math.round(median(changes.map((c) => c.kpis))),
      iteration_panel: Math.round(median(changes.map((c) => c.panel))),
    },
    iteration_changes: changes,
    samples,
    js_per_page: js,
  };
  const out = path.resolve(__dirname, "../../test-results/speed.json");
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2));
  console.log(JSON.stringify(report, null, 2));
});
