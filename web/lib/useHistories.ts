"use client";
/**
 * Whole-run histories of several runs at once (the compared runs), one request per run;
 * re-fetched every `pollMs` while it is set (a live run), keeping the last data meanwhile.
 */
import { useEffect, useState } from "react";
import type { ApiClient } from "./api";
import type { HistoryResponse, Source } from "./types";

export interface Histories {
  byRun: Record<string, HistoryResponse>;
  errors: Record<string, unknown>;
  loading: boolean;
}

export function useHistories(
  client: ApiClient,
  source: Source | null,
  runIds: string[],
  keys?: string[],
  pollMs: number | null = null,
): Histories {
  const key = source && runIds.length ? `${source}|${runIds.join(",")}|${keys?.join(",") ?? ""}` : null;
  // `fetched`: the key the rows in byRun were asked for (while a new key loads, byRun still
  // holds the previous key's rows).
  const [state, setState] = useState<{ key: string | null; fetched: string | null } & Histories>({
    key: null,
    fetched: null,
    byRun: {},
    errors: {},
    loading: false,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (key === null || !pollMs) return;
    const id = setInterval(() => setTick((t) => t + 1), pollMs);
    return () => clearInterval(id);
  }, [key, pollMs]);
  useEffect(() => {
    if (key === null || source === null) return;
    let cancelled = false;
    setState((s) => ({ ...s, key, loading: true }));
    void Promise.all(
      runIds.map((id) =>
        client.history(source, id, 1000, keys).then(
          (h) => ({ id, h, e: null as unknown }),
          (e: unknown) => ({ id, h: null, e }),
        ),
      ),
    ).then((results) => {
      if (cancelled) return;
      // A run whose poll failed keeps its last good rows of this key next to its error (as
      // useApi does): its lines stay instead of vanishing until the next poll.
      setState((prev) => {
        const byRun: Record<string, HistoryResponse> = {};
        const errors: Record<string, unknown> = {};
        for (const r of results) {
          if (r.h) byRun[r.id] = r.h;
          else {
            errors[r.id] = r.e;
            if (prev.fetched === key && prev.byRun[r.id]) byRun[r.id] = prev.byRun[r.id];
          }
        }
        return { key, fetched: key, byRun, errors, loading: false };
      });
    });
    return () => {
      cancelled = true;
    };
    // runIds and keys are captured through `key`
  }, [key, client, source, tick]); // eslint-disable-line react-hooks/exhaustive-deps
  if (key === null) return { byRun: {}, errors: {}, loading: false };
  return state.key === key ? state : { byRun: state.byRun, errors: {}, loading: true };
}
