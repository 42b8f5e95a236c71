"use client";
/** Play one episode through the play API, by clicking or with the keyboard. */
import { useCallback, useLayoutEffect, useMemo, useRef, useState } from "react";
import { actionLabels, buyAction, sellAction, travelAction, validSet, WAIT } from "@/lib/actions";
import { api as defaultApi, ApiError, type ApiClient } from "@/lib/api";
import { fmtNumber } from "@/lib/format";
import type { PlaySession } from "@/lib/types";
import { useHydrated } from "@/lib/useHydrated";
import { ErrorNotice, Skeleton } from "../Card";
import { EpisodeSummary } from "./EpisodeSummary";
import { GameMap, dangerColor } from "./GameMap";
import { MarketTable } from "./MarketTable";
import { CargoList, StatusBar } from "./StatusBar";

/** Maps a key press to an action given the selected good; null when the key means nothing. */
export function keyToAction(e: { key: string }, selectedGood: number | null): number | null {
  const k = e.key;
  if (k === "w" || k === "W" || k === " ") return WAIT;
  if (/^[1-8]$/.test(k)) return travelAction(Number(k) - 1);
  if (selectedGood === null) return null;
  if (k === "b") return buyAction(selectedGood, false);
  if (k === "B") return buyAction(selectedGood, true);
  if (k === "s") return sellAction(selectedGood, "1");
  if (k === "S") return sellAction(selectedGood, "10");
  if (k === "a" || k === "A") return sellAction(selectedGood, "all");
  return null;
}

export function PlayGame({ client = defaultApi, keysEnabled = true }: { client?: ApiClient; keysEnabled?: boolean }) {
  const [session, setSession] = useState<PlaySession | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [seedText, setSeedText] = useState("");
  const [selectedGood, setSelectedGood] = useState<number | null>(0);
  const [log, setLog] = useState<{ day: number; label: string; reward: number; invalid: boolean }[]>([]);
  const busyRef = useRef(false);
  // What the keyboard handler and `act` read: updated in a layout effect, i.e. before the
  // browser paints the board, so a key pressed as soon as a board shows acts on that board
  // (a listener re-attached in a passive effect runs after paint, holding the previous state).
  const sessionRef = useRef<PlaySession | null>(session);
  useLayoutEffect(() => {
    sessionRef.current = session;
  }, [session]);

  const start = useCallback(async () => {
    setBusy(true);
    busyRef.current = true;
    setError(null);
    try {
      const seed = seedText.trim() === "" ? undefined : Number(seedText);
      if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > 4294967295))
        throw new Error("The seed must be a whole number from 0 to 4294967295.");
      // A new game replaces this browser's previous one (the service closes it), so pressing
      // "Start game" again and again never piles up sessions.
      setSession(await client.newGame(seed, sessionRef.current?.session_id ?? null));
      setLog([]);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
      busyRef.current = false;
    }
  }, [client, seedText]);

  const act = useCallback(
    async (a: number) => {
      const cur = sessionRef.current;
      if (!cur || cur.done || busyRef.current) return;
      busyRef.current = true;
      setBusy(true);
      setError(null);
      try {
        const next = await client.step(cur.session_id, a);
        setSession(next);
        if (next.last_action)
          setLog((l) => [{ day: cur.view.day, label: next.last_action!.label, reward: next.reward, invalid: next.invalid }, ...l].slice(0, 30));
      } catch (e) {
        setError(e);
      } finally {
        busyRef.current = false;
        setBusy(false);
      }
    },
    [client],
  );

  const view = session?.view ?? null;
  const labels = useMemo(() => (view ? actionLabels(view) : []), [view]);
  const valid = useMemo(() => (view ? validSet(view) : new Set<number>()), [view]);

  const keyState = useRef({ keysEnabled, selectedGood, valid });
  useLayoutEffect(() => {
    keyState.current = { keysEnabled, selectedGood, valid };
  }, [keysEnabled, selectedGood, valid]);

  // One listener for the component's life, attached before the first paint; it reads the
  // state the user sees from the refs above.
  useLayoutEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const { keysEnabled: on, selectedGood: good, valid: ok } = keyState.current;
      const cur = sessionRef.current;
      if (!on || !cur || cur.done) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = cur.view.market.length;
        setSelectedGood((g) => ((g ?? 0) + (e.key === "ArrowDown" ? 1 : n - 1)) % n);
        return;
      }
      const a = keyToAction(e, good);
      if (a === null) return;
      if (t && t.tagName === "BUTTON" && e.key === " ") return; // space on a focused button clicks it
      e.preventDefault();
      if (ok.has(a)) void act(a);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [act]);

  const hydrated = useHydrated();

  if (!session || !view) {
    return (
      <section className="card play-start">
        <h2>New game</h2>
        <p>You lead a caravan for a year: buy low, sell high, keep the crew fed, and mind the dangerous roads.</p>
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            void start();
          }}
        >
          <label htmlFor="seed">Seed (optional)</label>
          <input id="seed" inputMode="numeric" disabled={!hydrated} value={seedText} onChange={(e) => setSeedText(e.target.value)} placeholder="random" />
          <button type="submit" className="btn btn-primary" disabled={busy || !hydrated}>
            {busy ? "Starting…" : "Start game"}
          </button>
        </form>
        {error ? <ErrorNotice error={error} onRetry={() => void start()} /> : null}
        {busy ? <Skeleton lines={4} /> : null}
      </section>
    );
  }

  return (
    <div className="play" data-testid="play" data-done={session.done}>
      <div className="play-head">
        <StatusBar view={view} />
        <div className="muted small">
          Seed {session.seed} · return {fmtNumber(view.episode.return)} · invalid {view.episode.invalid_actions}
          {!session.done ? (
            <>
              {" "}
              <button type="button" className="btn btn-small" onClick={() => void start()} disabled={busy}>
                New game
              </button>
            </>
          ) : null}
        </div>
      </div>
      {error ? (
        // An expired session (404) cannot be retried: the way on is a new game.
        error instanceof ApiError && error.status === 404 ? (
          <ErrorNotice error={error} onRetry={() => void start()} retryLabel="New game" />
        ) : (
          <ErrorNotice error={error} onRetry={() => setError(null)} retryLabel="Dismiss" />
        )
      ) : null}
      {session.last_action ? (
        <p className={`last-action ${session.invalid ? "bad" : ""}`} role="status" data-testid="last-action">
          {session.invalid ? "Invalid: " : ""}
          {session.last_action.label} · reward {fmtNumber(session.reward, 3)}
        </p>
      ) : null}
      {session.done ? (
        <>
          <EpisodeSummary episode={session.episode} />
          <button type="button" className="btn btn-primary" onClick={() => void start()}>
            New game
          </button>
        </>
      ) : null}
      <div className="play-grid">
        <div className="card">
          <GameMap view={view} />
          <div className="actions" role="group" aria-label="Move">
            <button
              type="button"
              className="btn"
              data-action={WAIT}
              disabled={busy || session.done || !valid.has(WAIT)}
              onClick={() => void act(WAIT)}
              aria-keyshortcuts="W"
            >
              Wait a day <kbd aria-hidden="true">W</kbd>
            </button>
            {[...view.towns]
              .sort((a, b) => a.id - b.id)
              .map((t) => {
                const a = travelAction(t.id);
                const road = view.roads_here.find((r) => r.to === t.id);
                return (
                  <button
                    key={t.id}
                    type="button"
                    className="btn"
                    data-action={a}
                    aria-keyshortcuts={String(t.id + 1)}
                    disabled={busy || session.done || !valid.has(a)}
                    onClick={() => void act(a)}
                  >
                    {labels[a]}
                    {road ? (
                      <>
                        <span className="danger-dot" style={{ background: dangerColor(road.danger) }} aria-hidden="true">
                          {road.danger}
                        </span>
                        <span className="sr-only"> (road danger {road.danger})</span>
                      </>
                    ) : null}{" "}
                    <kbd aria-hidden="true">{t.id + 1}</kbd>
                  </button>
                );
              })}
          </div>
          <CargoList view={view} />
        </div>
        <div className="card">
          <MarketTable
            view={view}
            labels={labels}
            valid={session.done ? new Set() : valid}
            onAction={(a) => void act(a)}
            busy={busy}
            selectedGood={selectedGood}
            onSelectGood={setSelectedGood}
          />
          <details className="shortcuts">
            <summary>Keyboard shortcuts</summary>
            <ul>
              <li>
                <kbd>W</kbd> or <kbd>Space</kbd> wait · <kbd>1</kbd>–<kbd>8</kbd> travel to town
              </li>
              <li>
                <kbd>↑</kbd>/<kbd>↓</kbd> choose a good, then <kbd>b</kbd> buy 1, <kbd>B</kbd> buy 10, <kbd>s</kbd> sell 1,{" "}
                <kbd>S</kbd> sell 10, <kbd>a</kbd> sell all
              </li>
            </ul>
          </details>
          {log.length > 0 ? (
            <ol className="log" aria-label="Recent actions">
              {log.map((l, i) => (
                <li key={i} className={l.invalid ? "bad" : ""}>
                  Day {l.day}: {l.label} ({fmtNumber(l.reward, 3)})
                </li>
              ))}
            </ol>
          ) : null}
        </div>
      </div>
    </div>
  );
}
