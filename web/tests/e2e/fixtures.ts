/** Shared helpers for the specs: the live addresses and direct API reads to assert against. */
import { expect, test as base, type Page } from "@playwright/test";
import path from "node:path";

export const SHOTS_DIR = path.resolve(__dirname, "../../../artifacts/screenshots");

export function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: the suite must run through playwright's globalSetup`);
  return v;
}

export const web = (p: string) => `${env("E2E_WEB_BASE")}${p}`;

/**
 * fetch for the test process's own requests. Node keeps connections alive between requests;
 * when the server closes an idle one (uvicorn after 5 s) just as the next request goes out on
 * it, that request fails with "other side closed" without having been handled. A request is
 * resent once in exactly that case (what HTTP clients do for a stale keep-alive connection,
 * RFC 9112 §9.3.1); any other failure, and any answer, is returned as it is.
 */
export async function testFetch(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const stale = cause?.code === "UND_ERR_SOCKET" || cause?.code === "ECONNRESET" || /other side closed/.test(cause?.message ?? "");
    if (!stale) throw e;
    return await fetch(url, init);
  }
}

/** GET a JSON path from the live service, failing the test on a non-2xx answer. */
export async function apiGet<T = any>(p: string): Promise<T> {
  const res = await testFetch(`${env("E2E_API_BASE")}${p}`);
  if (!res.ok) throw new Error(`GET ${p} -> ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

export async function apiStatus(p: string): Promise<{ status: number; body: any }> {
  const res = await testFetch(`${env("E2E_API_BASE")}${p}`);
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** Switch a fault on the stub W&B server (null turns faults off). */
export async function stubFault(mode: string | null): Promise<void> {
  const res = await testFetch(`${env("E2E_STUB_BASE")}/_stub/fault`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(mode ? { mode } : { mode: null }),
  });
  if (!res.ok) throw new Error(`stub fault ${mode} -> ${res.status}: ${await res.text()}`);
}

export async function screenshot(page: Page, name: string, width: number): Promise<void> {
  const kind = width < 700 ? "phone" : "desktop";
  await page.screenshot({ path: path.join(SHOTS_DIR, `${name}-${kind}.png`), fullPage: true });
}

/** Number shown in a data-value attribute (what the card rendered from). */
export async function dataValue(page: Page, testId: string): Promise<number | null> {
  const v = await page.getByTestId(testId).first().getAttribute("data-value");
  return v === null || v === "" ? null : Number(v);
}

export function close(a: number | null, b: number | null) {
  if (a === null || b === null) return expect(a).toBe(b);
  return expect(a).toBeCloseTo(b, 6);
}

export const test = base;
export { expect };
