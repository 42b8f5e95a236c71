/**
 * End-to-end environment, all real and all on 127.0.0.1 with random free ports:
 *   1. a short real training run (`$PYTHON -m ppo.train`) into a temp runs dir,
 *   2. the stub W&B server loaded from those records (so /api/wandb and its stale path are real),
 *   3. the analytics service (`$PYTHON -m analytics_service`) on the records and the stub,
 *   4. `next build` (with a fake WANDB_API_KEY in its environment, for the secret scan) and `next start`.
 * Training and the build run at the same time. Everything is stopped by the returned teardown.
 *
 * Reuse for local iteration: E2E_RUNS_DIR=<dir with records> skips training;
 * E2E_REUSE_BUILD=1 reuses .next when it was built for the same API port (kept in .next/e2e-build.json).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { HOST, freePort, run, start, stopAll, waitForHttp } from "./harness";
import { E2E_RUN_ID, trainArgs } from "./train-config";

const WEB = path.resolve(__dirname, "../..");
const ROOT = path.resolve(WEB, "..");
const NEXT_BIN = path.join(WEB, "node_modules/next/dist/bin/next");

function log(msg: string) {
  console.log(`[e2e ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  const python = process.env.PYTHON || path.join(ROOT, ".venv/bin/python");
  if (!existsSync(python)) throw new Error(`PYTHON=${python} does not exist; run via 'make test-web' or set PYTHON`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), "caravan-e2e-"));
  const logDir = path.join(WEB, "test-results", "logs");
  mkdirSync(logDir, { recursive: true });
  const pyEnv = { ...process.env, PYTHONUNBUFFERED: "1", WANDB_SILENT: "true", WANDB_MODE: "disabled" };

  const buildInfoFile = path.join(WEB, ".next", "e2e-build.json");
  const reuse = process.env.E2E_REUSE_BUILD === "1" && existsSync(buildInfoFile);
  const buildInfo = reuse ? (JSON.parse(readFileSync(buildInfoFile, "utf8")) as { apiPort: number; fakeKey: string }) : null;
  const apiPort = buildInfo?.apiPort ?? (await freePort());
  const [webPort, stubPort] = [await freePort(), await freePort()];
  const apiBase = `http://${HOST}:${apiPort}`;
  const webBase = `http://${HOST}:${webPort}`;
  const fakeKey = buildInfo?.fakeKey ?? `fake-wandb-${randomBytes(20).toString("hex")}`;

  // 1 + 4a: training and the production build in parallel.
  const runsDir = process.env.E2E_RUNS_DIR ?? path.join(tmp, "runs");
  const training = process.env.E2E_RUNS_DIR
    ? Promise.resolve(log(`reusing run records in ${runsDir}`))
    : (async () => {
        const t0 = Date.now();
        log(`training ${E2E_RUN_ID} into ${runsDir}`);
        await run("train", python, ["-m", "ppo.train", ...trainArgs(runsDir)], { cwd: ROOT, env: pyEnv, logDir, timeoutMs: 240_000 });
        log(`training done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      })();
  const building = reuse
    ? Promise.resolve(log(`reusing .next built for ${apiBase}`))
    : (async () => {
        const t0 = Date.now();
        log(`next build (backend ${apiBase})`);
        await run("next-build", process.execPath, [NEXT_BIN, "build"], {
          cwd: WEB,
          env: {
            ...process.env,
            NEXT_TELEMETRY_DISABLED: "1",
            NEXT_PUBLIC_BACKEND_HTTP_BASE: apiBase,
            NEXT_PUBLIC_BACKEND_WS_BASE: `ws://${HOST}:${apiPort}`,
            WANDB_API_KEY: fakeKey,
          },
          logDir,
          timeoutMs: 420_000,
        });
        writeFileSync(buildInfoFile, JSON.stringify({ apiPort, fakeKey }));
        log(`next build done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      })();
  try {
    await Promise.all([training, building]);

    // 2: stub W&B over the same records.
    const stub = start("wandb-stub", python, ["-m", "tools.wandb_stub", "--runs-dir", runsDir, "--port", String(stubPort), "--entity", "e2e-team", "--project", "caravan-e2e"], { cwd: ROOT, env: pyEnv, logDir });
    await waitForHttp(`http://${HOST}:${stubPort}/_stub/counts`, stub, 30_000);

    // 3: the service. TTLs 0 so every request reaches its source (the stale path is then real).
    const svc = start("analytics-service", python, ["-m", "analytics_service", "--host", HOST, "--port", String(apiPort)], {
      cwd: ROOT,
      env: {
        ...pyEnv,
        ALLOWED_ORIGINS: webBase,
        ANALYTICS_RUNS_DIR: runsDir,
        ANALYTICS_CACHE_DIR: path.join(tmp, "cache"),
        WANDB_API_KEY: "e2e-stub-key-0123456789abcdef0123456789abcdef",
        WANDB_ENTITY: "e2e-team",
        WANDB_PROJECT: "caravan-e2e",
        WANDB_BASE_URL: `http://${HOST}:${stubPort}`,
        ANALYTICS_TTL_RUNS_S: "0",
        ANALYTICS_TTL_RUNNING_S: "0",
        ANALYTICS_TTL_FINISHED_S: "0",
        ANALYTICS_HEALTH_TTL_S: "0",
        ANALYTICS_ERROR_BACKOFF_S: "0",
        // A test clicks through a whole episode faster than a person; keep it under the limit.
        ANALYTICS_RATE_LIMIT_PER_S: "500",
        ANALYTICS_RATE_LIMIT_BURST: "1000",
      },
      logDir,
    });
    await waitForHttp(`${apiBase}/api/health`, svc, 60_000);

    // 4b: next start.
    const web = start("next-start", process.execPath, [NEXT_BIN, "start", "-H", HOST, "-p", String(webPort)], {
      cwd: WEB,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
      logDir,
    });
    await waitForHttp(`${webBase}/`, web, 60_000);
    log(`ready: web ${webBase}, api ${apiBase}, stub :${stubPort}`);

    Object.assign(process.env, {
      E2E_WEB_BASE: webBase,
      E2E_API_BASE: apiBase,
      E2E_STUB_BASE: `http://${HOST}:${stubPort}`,
      E2E_FAKE_WANDB_KEY: fakeKey,
      E2E_RUNS_DIR_USED: runsDir,
    });
  } catch (e) {
    await stopAll();
    if (!process.env.E2E_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
    throw e;
  }

  return async () => {
    await stopAll();
    if (!process.env.E2E_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  };
}
