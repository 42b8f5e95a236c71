/**
 * Process plumbing for the end-to-end suite: free loopback ports, child processes with their
 * output in log files, readiness polling, and clean shutdown of every process group started.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";

export const HOST = "127.0.0.1";

/** A port the kernel reports free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
  exited: Promise<number | null>;
}

const started: Proc[] = [];

/** Starts `cmd args` in its own process group, stdout+stderr into `<logDir>/<name>.log`. */
export function start(name: string, cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logDir: string }): Proc {
  mkdirSync(opts.logDir, { recursive: true });
  const log = path.join(opts.logDir, `${name}.log`);
  const out = createWriteStream(log);
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const p = { name, child, log, exited };
  started.push(p);
  return p;
}

/** Runs a command to completion; rejects with the log's tail when it fails or overruns. */
export async function run(name: string, cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logDir: string; timeoutMs: number }): Promise<void> {
  const p = start(name, cmd, args, opts);
  const timer = setTimeout(() => stop(p), opts.timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${name} failed (exit ${code}); see ${p.log}:\n${await tail(p.log)}`);
}

export async function tail(file: string, lines = 40): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  try {
    return (await readFile(file, "utf8")).split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Polls `url` until it answers 2xx, the process exits, or the time runs out. */
export async function waitForHttp(url: string, p: Proc, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void p.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${p.name} exited before ${url} answered; see ${p.log}:\n${await tail(p.log)}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms; see ${p.log}:\n${await tail(p.log)}`);
}

/** SIGTERM the process group, then SIGKILL if it lingers. */
export async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.pid === undefined) return;
  try {
    process.kill(-p.child.pid, "SIGTERM");
  } catch {
    return;
  }
  const done = await Promise.race([p.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]);
  if (!done) {
    try {
      process.kill(-p.child.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all(started.splice(0).reverse().map(stop));
}
