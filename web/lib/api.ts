/**
 * Typed client for the analytics service (docs/API.md). Every failure becomes an ApiError
 * carrying the service's own message, so cards can show it verbatim.
 */
import { BACKEND_HTTP_BASE } from "./config";
import type {
  HealthResponse,
  HistoryResponse,
  IterationResponse,
  IterationsResponse,
  PlaySession,
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

async function request<T>(path: string, init?: RequestInit, base = BACKEND_HTTP_BASE): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      ...init,
      headers: { Accept: "application/json", ...(init?.body ? { "Content-Type": "application/json" } : {}) },
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "network_error", `Cannot reach the analytics service at ${base}.`);
  }
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

/** Client bound to one backend base URL (the default comes from NEXT_PUBLIC_BACKEND_HTTP_BASE). */
export function createClient(base: string = BACKEND_HTTP_BASE) {
  const get = <T>(path: string) => request<T>(path, undefined, base);
  const post = <T>(path: string, body: unknown) =>
    request<T>(path, { method: "POST", body: JSON.stringify(body) }, base);
  return {
    health: () => get<HealthResponse>("/api/health"),
    runs: (source: Source, limit = 10) => get<RunsResponse>(`/api/${source}/runs?limit=${limit}`),
    summary: (source: Source, runId: string) => get<SummaryResponse>(`/api/${source}/runs/${enc(runId)}/summary`),
    history: (source: Source, runId: string, maxPoints = 1000) =>
      get<HistoryResponse>(`/api/${source}/runs/${enc(runId)}/history?max_points=${maxPoints}`),
    iterations: (source: Source, runId: string, limit = 10) =>
      get<IterationsResponse>(`/api/${source}/runs/${enc(runId)}/iterations?limit=${limit}`),
    iteration: (source: Source, runId: string, windowId: number) =>
      get<IterationResponse>(`/api/${source}/runs/${enc(runId)}/iterations/${windowId}`),
    newGame: (seed?: number) => post<PlaySession>("/api/play", seed === undefined ? {} : { seed }),
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
