/**
 * Backend addresses. NEXT_PUBLIC_* values are inlined into the bundle at build time, so a
 * deployment sets them before `next build`. Nothing secret may ever be read here.
 */
function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

export const BACKEND_HTTP_BASE: string = trimSlash(
  process.env.NEXT_PUBLIC_BACKEND_HTTP_BASE || "http://127.0.0.1:8000",
);

/** Websocket base; derived from the HTTP base (http→ws, https→wss) when not set. */
export const BACKEND_WS_BASE: string = trimSlash(
  process.env.NEXT_PUBLIC_BACKEND_WS_BASE || BACKEND_HTTP_BASE.replace(/^http/, "ws"),
);

/** How often a running run is polled (every card). */
export const POLL_MS = 5000;
/**
 * How often the summary of a crashed, stalled or failed run is re-checked: its trainer may be
 * resumed (`--resume`), and the page then shows `running` and polls again without a reload.
 * A finished run is not polled at all.
 */
export const RECHECK_MS = 15_000;
