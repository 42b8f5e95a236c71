/**
 * Issue 14 item 1: a site served from an origin the service does not allow says so (and how to
 * fix it), which is not the message for a service that does not answer at all.
 */
import path from "node:path";
import { HOST, freePort, start, stop, waitForHttp } from "./harness";
import { env, expect, test } from "./fixtures";

test("1: a refused origin and an unreachable service are told apart", async ({ page }) => {
  test.setTimeout(120_000);
  const webDir = path.resolve(__dirname, "../..");
  const port = await freePort();
  // The same build on another port: an origin outside the service's ALLOWED_ORIGINS.
  const other = start("next-start-other-origin", process.execPath, [path.join(webDir, "node_modules/next/dist/bin/next"), "start", "-H", HOST, "-p", String(port)], {
    cwd: webDir,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
    logDir: path.join(webDir, "test-results", "logs"),
  });
  try {
    const origin = `http://${HOST}:${port}`;
    await waitForHttp(`${origin}/`, other, 60_000);
    await page.goto(`${origin}/analytics`);
    const alert = page.getByTestId("kpi-card").getByRole("alert");
    await expect(alert).toContainText("answered, but not to this page");
    await expect(alert).toContainText(`ALLOWED_ORIGINS=${origin}`);

    // From the allowed origin, with the service's port refusing connections: "nothing answered".
    const api = env("E2E_API_BASE");
    await page.route(`${api}/**`, (route) => route.abort("connectionrefused"));
    await page.goto(`${env("E2E_WEB_BASE")}/analytics`);
    const down = page.getByRole("alert").first();
    await expect(down).toContainText(`Cannot reach the analytics service at ${api}: nothing answered`);
  } finally {
    await stop(other);
  }
});
