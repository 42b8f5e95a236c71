"use client";
/**
 * Minimal data hook: loads on mount and when `key` changes, keeps the last good data while
 * reloading (no flashing), optional polling, and a retry for error states.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "./api";

export interface ApiState<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

function current(result: { key: string | null }, key: string | null): boolean {
  return key !== null && result.key === key;
}

/** Seconds to wait before retrying, when the error says so (capped at 5 min). */
function retryAfter(err: unknown): number | null {
  const s = err instanceof ApiError ? err.retryAfterS : null;
  return s !== null && s > 0 ? Math.min(s, 300) : null;
}

export function useApi<T>(
  key: string | null,
  load: () => Promise<T>,
  pollMs: number | null = null,
  /** While a new key loads, keep showing data whose key starts with this prefix (same run, older window). */
  keepPrefix: string | null = null,
): ApiState<T> {
  // Results are tagged with the key they belong to, so a new key never shows old data and
  // counts as loading from its very first render.
  const [result, setResult] = useState<{ key: string | null; data: T | null; error: unknown }>({
    key: null,
    data: null,
    error: null,
  });
  const [inflight, setInflight] = useState(false);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    if (key === null) return;
    let cancelled = false;
    setInflight(true);
    loadRef
      .current()
      .then((d) => {
        if (!cancelled) setResult({ key, data: d, error: null });
      })
      .catch((e: unknown) => {
        // Keep the last good data of this key next to the error.
        if (!cancelled) setResult((r) => ({ key, data: r.key === key ? r.data : null, error: e }));
      })
      .finally(() => {
        if (!cancelled) setInflight(false);
      });
    return () => {
      cancelled = true;
    };
  }, [key, tick]);

  // A rate-limited or busy service says when to come back (retry_after_s): retry by itself then.
  const retryAfterS = current(result, key) ? retryAfter(result.error) : null;
  useEffect(() => {
    if (retryAfterS === null) return;
    const id = setTimeout(() => setTick((t) => t + 1), retryAfterS * 1000);
    return () => clearTimeout(id);
  }, [retryAfterS, result]);

  useEffect(() => {
    if (key === null || !pollMs) return;
    const id = setInterval(() => setTick((t) => t + 1), pollMs);
    return () => clearInterval(id);
  }, [key, pollMs]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  const isCurrent = current(result, key);
  return {
    data: isCurrent || (keepPrefix !== null && key !== null && result.key?.startsWith(keepPrefix)) ? result.data : null,
    error: isCurrent ? result.error : null,
    loading: key !== null && (!isCurrent || inflight),
    reload,
  };
}

/** Current time in ms, re-rendered every `everyMs` (for "updated N s ago"). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(id);
  }, [everyMs]);
  return now;
}

/** Calls `fn` every `ms` while `ms` is set (polling stops when it becomes null). */
export function usePoll(fn: () => void, ms: number | null): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    if (!ms) return;
    const id = setInterval(() => ref.current(), ms);
    return () => clearInterval(id);
  }, [ms]);
}
