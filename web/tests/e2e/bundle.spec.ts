/** The production build ran with a fake WANDB_API_KEY in its environment; no trace of it may ship. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { env, expect, test } from "./fixtures";

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) yield* files(p);
    else if (st.isFile()) yield p;
  }
}

test("the bundle holds no W&B secret", async () => {
  const key = env("E2E_FAKE_WANDB_KEY");
  const nextDir = path.resolve(__dirname, "../../.next");
  let scanned = 0;
  let sawBackend = false;
  const hits: string[] = [];
  for (const f of files(nextDir)) {
    if (path.basename(f) === "e2e-build.json") continue; // the harness's own note of the fake key
    const buf = readFileSync(f);
    scanned += 1;
    if (buf.includes(key)) hits.push(f);
    if (buf.includes("WANDB_API_KEY")) hits.push(`${f} (names WANDB_API_KEY)`);
    if (f.includes(`${path.sep}static${path.sep}`) && buf.includes(env("E2E_API_BASE"))) sawBackend = true;
  }
  expect(scanned).toBeGreaterThan(20);
  // the scan does see build-time inlined values: the public backend address is there
  expect(sawBackend).toBe(true);
  expect(hits).toEqual([]);
});
