"use client";
/** "Watch the agent": streams a replay of a checkpoint over the websocket, with play/pause and speed. */
import { useEffect, useRef, useState } from "react";
import { api as defaultApi, type ApiClient } from "@/lib/api";
import { BACKEND_WS_BASE } from "@/lib/config";
import { fmtInt, fmtNumber } from "@/lib/format";
import type { ActionRef, EpisodeMetrics, GameView, ReplayMessage, Source } from "@/lib/types";
import { useApi } from "@/lib/useApi";
import { ErrorNotice } from "../Card";
import { EpisodeSummary } from "./EpisodeSummary";
import { GameMap } from "./GameMap";
import { MarketTable } from "./MarketTable";
import { CargoList, StatusBar } from "./StatusBar";

export const SPEEDS: { label: string; paceMs: number }[] = [
  { label: "0.5×", paceMs: 400 },
  { label: "1×", paceMs: 200 },
  { label: "2×", paceMs: 100 },
  { label: "5×", paceMs: 40 },
  { label: "20×", paceMs: 10 },
  { label: "max", paceMs: 0 },
];

type Status = "idle" | "connecting" | "playing" | "paused" | "ended" | "error";

export function replayUrl(base: string, runId: string, iteration: number | null, seed: number | null, paceMs: number): string {
  const p = new URLSearchParams();
  if (iteration !== null) p.set("iteration", String(iteration));
  if (seed !== null) p.set("seed", String(seed));
  p.set("pace_ms", String(paceMs));
  return `${base}/ws/replay/${encodeURIComponent(runId)}?${p.toString()}`;
}

export function ReplayViewer({ client = defaultApi, wsBase = BACKEND_WS_BASE }: { client?: ApiClient; wsBase?: string }) {
  const health = useApi("health", () => client.health());
  const source: Source | null = health.data?.default_source ?? (health.error ? "local" : null);
  const runs = useApi(source ? `runs:${source}` : null, () => client.runs(source as Source, 10));
  const [runId, setRunId] = useState<string | null>(null);
  const run = runId ?? runs.data?.runs[0]?.run_id ?? null;
  // Only windows whose checkpoint is still on the service can be replayed (others are pruned).
  const replayable = useApi(source && run ? `rp:${source}:${run}` : null, () => client.replayable(source as Source, run as string));
  const windows = replayable.data?.windows ?? [];
  const [chosenWindow, setIteration] = useState<number | null>(null);
  const iteration = chosenWindow ?? windows[0]?.window_id ?? null;
  const win = windows.find((w) => w.window_id === iteration) ?? null;
  const [rank, setRank] = useState<string>("best");
  const episodeToPlay = win?.replays.find((r) => r.rank === rank) ?? win?.replays[0] ?? null;
  const [speed, setSpeed] = useState(2);
  const [status, setStatus] = useState<Status>("idle");
  const [view, setView] = useState<GameView | null>(null);
  const [step, setStep] = useState<{ t: number; action: ActionRef; reward: number } | null>(null);
  const [meta, setMeta] = useState<{ window_id: number; seed: number; label: string; evalReturn: number | null } | null>(null);
  const [episode, setEpisode] = useState<EpisodeMetrics | null>(null);
  const [error, setError] = useState<string | null>(null);
  const wsRef = useRef<WebSocket | null>(null);
  // The pace the control shows; a change made while the socket is still connecting cannot be
  // sent yet, so it is sent on open (else the page would show one speed and play another).
  const paceRef = useRef(SPEEDS[speed].paceMs);

  useEffect(() => () => wsRef.current?.close(), []);

  const start = () => {
    if (!run) return;
    wsRef.current?.close();
    setError(null);
    setEpisode(null);
    setView(null);
    setStep(null);
    setMeta(null);
    setStatus("connecting");
    const openPace = paceRef.current;
    const ws = new WebSocket(replayUrl(wsBase, run, iteration, episodeToPlay?.seed ?? null, openPace));
    wsRef.current = ws;
    ws.onopen = () => {
      if (paceRef.current !== openPace) ws.send(JSON.stringify({ pace_ms: paceRef.current }));
    };
    let ended = false;
    ws.onmessage = (ev) => {
      let msg: ReplayMessage;
      try {
        msg = JSON.parse(String(ev.data)) as ReplayMessage;
      } catch {
        return;
      }
      if (msg.type === "start") {
        setMeta({
          window_id: msg.window_id,
          seed: msg.seed,
          label: msg.label ?? `${msg.policy ? `${msg.policy} policy, ` : ""}seed ${msg.seed}`,
          evalReturn: msg.eval_return ?? null,
        });
        setStatus("playing");
      } else if (msg.type === "step") {
        setView(msg.view);
        setStep({ t: msg.t, action: msg.action, reward: msg.reward });
      } else if (msg.type === "end") {
        ended = true;
        setEpisode(msg.episode);
        setStatus("ended");
      }
    };
    ws.onerror = () => {
      if (!ended) setError(`The replay connection to ${wsBase} failed.`);
    };
    ws.onclose = (ev) => {
      if (wsRef.current !== ws) return;
      if (!ended && ev.code !== 1000) {
        setError(ev.reason ? `Replay closed: ${ev.reason} (code ${ev.code})` : `Replay closed (code ${ev.code}).`);
        setStatus("error");
      }
    };
  };

  const send = (msg: object) => {
    if (wsRef.current?.readyState === WebSocket.OPEN) wsRef.current.send(JSON.stringify(msg));
  };
  const togglePause = () => {
    if (status === "playing") {
      send({ pause: true });
      setStatus("paused");
    } else if (status === "paused") {
      send({ pause: false });
      setStatus("playing");
    }
  };
  const changeSpeed = (i: number) => {
    setSpeed(i);
    paceRef.current = SPEEDS[i].paceMs;
    send({ pace_ms: SPEEDS[i].paceMs });
  };

  const noRuns = runs.data && runs.data.runs.length === 0;
  return (
    <div className="replay" data-testid="replay" data-status={status}>
      <div className="card toolbar">
        {runs.data && runs.data.runs.length > 0 ? (
          <div>
            <label htmlFor="replay-run">Run</label>
            <select
              id="replay-run"
              value={run ?? ""}
              onChange={(e) => {
                setRunId(e.target.value);
                setIteration(null);
              }}
            >
              {runs.data.runs.map((r) => (
                <option key={r.run_id} value={r.run_id}>
                  {r.name && r.name !== r.run_id ? `${r.name} (${r.run_id})` : r.run_id} · {r.state}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        <div>
          <label htmlFor="replay-iteration">Iteration</label>
          <select
            id="replay-iteration"
            value={iteration ?? ""}
            disabled={windows.length === 0}
            onChange={(e) => setIteration(Number(e.target.value))}
          >
            {windows.length === 0 ? <option value="">{replayable.loading ? "…" : "no replayable window"}</option> : null}
            {windows.map((w) => (
              <option key={w.window_id} value={w.window_id}>
                {`Window ${w.window_id} · ${fmtInt(w.env_steps)} steps`}
              </option>
            ))}
          </select>
        </div>
        {win && win.replays.length > 0 ? (
          <div>
            <label htmlFor="replay-episode">Episode</label>
            <select id="replay-episode" value={episodeToPlay?.rank ?? ""} onChange={(e) => setRank(e.target.value)}>
              {win.replays.map((r) => (
                <option key={r.rank} value={r.rank}>
                  {`${r.rank} of the evaluation: seed ${r.seed}, return ${fmtNumber(r.return)}`}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        <div>
          <label htmlFor="replay-speed">Speed</label>
          <select id="replay-speed" value={speed} onChange={(e) => changeSpeed(Number(e.target.value))}>
            {SPEEDS.map((s, i) => (
              <option key={s.label} value={i}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
        <button type="button" className="btn btn-primary" onClick={start} disabled={!run || iteration === null || status === "connecting"}>
          {status === "idle" ? "Watch" : "Restart"}
        </button>
        <button type="button" className="btn" onClick={togglePause} disabled={status !== "playing" && status !== "paused"}>
          {status === "paused" ? "Play" : "Pause"}
        </button>
      </div>
      {runs.error ? <ErrorNotice error={runs.error} onRetry={runs.reload} /> : null}
      {replayable.error ? <ErrorNotice error={replayable.error} onRetry={replayable.reload} /> : null}
      {replayable.data && windows.length === 0 ? (
        <p className="muted">
          No window of this run has a checkpoint on the service (replays read local checkpoints; training keeps the
          last few and the best).
        </p>
      ) : null}
      {noRuns ? <p className="card">No runs to replay yet.</p> : null}
      {error ? <div className="error-notice" role="alert">{error}</div> : null}
      {meta ? (
        <p className="muted" data-testid="replay-meta" role="status" data-seed={meta.seed} data-eval-return={meta.evalReturn ?? ""}>
          Window {meta.window_id} · {meta.label} · {status}
          {step ? ` · day ${step.t + 1}: ${step.action.label} (${fmtNumber(step.reward, 3)})` : ""}
        </p>
      ) : null}
      {episode ? <EpisodeSummary episode={episode} title="Replay finished" /> : null}
      {view ? (
        <div className="play-grid">
          <div className="card">
            <StatusBar view={view} />
            <GameMap view={view} />
            <CargoList view={view} />
          </div>
          <div className="card">
            <MarketTable view={view} labels={[]} valid={new Set()} />
          </div>
        </div>
      ) : status === "connecting" ? (
        <p className="muted">Connecting…</p>
      ) : null}
    </div>
  );
}
