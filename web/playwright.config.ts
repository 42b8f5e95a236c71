import { defineConfig } from "@playwright/test";

// Debian's Chromium (no browser downloads). Playwright gives each launch a fresh temporary
// profile (its own --user-data-dir), so no state leaks between runs.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

export default defineConfig({
  testDir: "tests/e2e",
  testMatch: /.*\.spec\.ts$/,
  // The speed report is a benchmark, run on request (npm run speed), not in `make test`.
  testIgnore: process.env.E2E_SPEED ? [] : ["**/speed.spec.ts"],
  globalSetup: "./tests/e2e/global-setup.ts",
  // One browser at a time: the suite shares one service (and the stub's fault switch).
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  outputDir: "test-results/artifacts",
  use: {
    browserName: "chromium",
    headless: true,
    launchOptions: { executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium", args: CHROMIUM_ARGS },
    viewport: { width: 1280, height: 860 },
    trace: "off",
    screenshot: "only-on-failure",
  },
});
