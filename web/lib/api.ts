/**
 * Typed client for the analytics service (docs/API.md). Every failure becomes an ApiError
 * carrying the service's own message, so cards can show it verbatim.
 */
import { BACKEND_HTTP_BASE } from "./config";
import { apiPaths, takeEarly } from "./early";
import type {
  HealthResponse,
  HistoryResponse,
  IterationResponse,
  IterationsResponse,
  PlaySession,
  ReplayableResponse,
  RunsResponse,
  Source,
  SummaryResponse,
} from "./types";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfterS: number | null;

  constructor(status: number, code: string, message: string, retryAfterS: number | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfterS = retryAfterS;
  }
}

/**
 * Why a fetch failed without an answer the page may read. A CORS refusal and a dead service
 * look the same to `fetch`; an opaque (no-cors) request to the same service tells them apart:
 * it succeeds when something answered, and fails only when nothing did.
 */
export async function diagnoseUnreachable(base: string): Promise<ApiError> {
  const origin = typeof window !== "undefined" ? window.location.origin : "this page's origin";
  try {
    await fetch(`${base}/api/health`, { mode: "no-cors", cache: "no-store" });
  } catch {
    return new ApiError(
      0,
      "network_error",
      `Cannot reach the analytics service at ${base}: nothing answered. Start it (make site starts the service and the site together) or check NEXT_PUBLIC_BACKEND_HTTP_BASE.`,
    );
  }
  return new ApiError(
    0,
    "origin_refused",
    `The analytics service at ${base} answered, but not to this page: its ALLOWED_ORIGINS does not include ${origin}. Restart it with ALLOWED_ORIGINS=${origin} (make site sets it for you).`,
  );
}

async function send(url: string, init: RequestInit | undefined, base: string): Promise<Response> {
  // A GET the page's inline script already started (lib/early.ts): its answer, once; a failed
  // early request is asked again here, so its error is diagnosed as any other.
  const early = init ? null : takeEarly(url);
  const got = early ? await early.catch(() => null) : null;
  if (got) return got;
  try {
    return await fetch(url, {
      ...init,
      headers: {
        Accept: "application/json",
        ...(init?.body ? { "Content-Type": "application/json" } : {}),
        ...(init?.headers as Record<string, string> | undefined),
      },
      cache: "no-store",
    });
  } catch {
    throw await diagnoseUnreachable(base);
  }
}

async function request<T>(path: string, init?: RequestInit, base = BACKEND_HTTP_BASE): Promise<T> {
  const res = await send(`${base}${path}`, init, base);
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = (body as { error?: { code?: string; message?: string; retry_after_s?: number } } | null)?.error;
    throw new ApiError(
      res.status,
      err?.code ?? "http_error",
      err?.message ?? `The service answered ${res.status} ${res.statusText}.`,
      err?.retry_after_s ?? null,
    );
  }
  if (body === null) throw new ApiError(res.status, "bad_response", "The service sent a response that is not JSON.");
  return body as T;
}

const enc = encodeURIComponent;

const CLIENT_KEY = "caravan.playClient";

/** This browser's play client id (docs/API.md, Play): made once, kept in localStorage. */
export function playClientId(): string {
  const make = () => {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  };
  try {
    const have = window.localStorage.getItem(CLIENT_KEY);
    if (have && /^[A-Za-z0-9_-]{8,64}$/.test(have)) return have;
    const id = make();
    window.localStorage.setItem(CLIENT_KEY, id);
    return id;
  } catch {
    return make(); // storage blocked: a per-page id still replaces this page's own games
  }
}

/** Client bound to one backend base URL (the default comes from NEXT_PUBLIC_BACKEND_HTTP_BASE). */
export function createClient(base: string = BACKEND_HTTP_BASE) {
  const get = <T>(path: string) => request<T>(path, undefined, base);
  const post = <T>(path: string, body: unknown, headers?: Record<string, string>) =>
    request<T>(path, { method: "POST", body: JSON.stringify(body), headers }, base);
  return {
    base,
    health: () => get<HealthResponse>(apiPaths.health()),
    runs: (source: Source, limit = 10, group?: string) => get<RunsResponse>(apiPaths.runs(source, limit, group)),
    summary: (source: Source, runId: string) => get<SummaryResponse>(apiPaths.summary(source, runId)),
    history: (source: Source, runId: string, maxPoints = 1000, keys?: string[]) =>
      get<HistoryResponse>(apiPaths.history(source, runId, maxPoints, keys)),
    /** Every window and every metric at full resolution, as the service's CSV download. */
    windowsCsvUrl: (source: Source, runId: string) => `${base}/api/${source}/runs/${enc(runId)}/windows.csv`,
    replayable: (source: Source, runId: string) => get<ReplayableResponse>(`/api/${source}/runs/${enc(runId)}/replayable`),
    iterations: (source: Source, runId: string, limit = 10) => get<IterationsResponse>(apiPaths.iterations(source, runId, limit)),
    iteration: (source: Source, runId: string, windowId: number) => get<IterationResponse>(apiPaths.iteration(source, runId, windowId)),
    /** A new game; `replace` closes this browser's previous session first (docs/API.md, Play). */
    newGame: (seed?: number, replace?: string | null) =>
      post<PlaySession>(
        "/api/play",
        { ...(seed === undefined ? {} : { seed }), ...(replace ? { replace } : {}) },
        { "X-Play-Client": playClientId() },
      ),
    game: (sessionId: string) => get<PlaySession>(`/api/play/${enc(sessionId)}`),
    step: (sessionId: string, action: number) => post<PlaySession>(`/api/play/${enc(sessionId)}/step`, { action }),
  };
}

export type ApiClient = ReturnType<typeof createClient>;

export const api: ApiClient = createClient();

/** A readable message for anything thrown by the client. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
