"use client";
/** /play: a tab for playing yourself and one for watching a trained agent. */
import { useRef, useState, type KeyboardEvent } from "react";
import { useHydrated } from "@/lib/useHydrated";
import { PlayGame } from "./PlayGame";
import { ReplayViewer } from "./ReplayViewer";

const TABS = [
  { id: "play", label: "Play" },
  { id: "watch", label: "Watch the agent" },
] as const;
type Tab = (typeof TABS)[number]["id"];

export function PlayPage() {
  const [tab, setTab] = useState<Tab>("play");
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  // The tabs are in the server HTML: a click before hydration would be lost.
  const hydrated = useHydrated();
  // WAI-ARIA tabs: arrows move between tabs, Home/End jump to the ends.
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const i = TABS.findIndex((t) => t.id === tab);
    const next = e.key === "ArrowRight" ? (i + 1) % TABS.length : e.key === "ArrowLeft" ? (i + TABS.length - 1) % TABS.length : e.key === "Home" ? 0 : e.key === "End" ? TABS.length - 1 : -1;
    if (next < 0) return;
    e.preventDefault();
    setTab(TABS[next].id);
    refs.current[next]?.focus();
  };
  return (
    <>
      <div className="tabs" role="tablist" aria-label="Mode" onKeyDown={onKey}>
        {TABS.map((t, i) => (
          <button
            key={t.id}
            ref={(el) => {
              refs.current[i] = el;
            }}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={tab === t.id ? 0 : -1}
            disabled={!hydrated}
            onClick={() => setTab(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="panel-play" aria-labelledby="tab-play" hidden={tab !== "play"}>
        <PlayGame keysEnabled={tab === "play"} />
      </div>
      <div role="tabpanel" id="panel-watch" aria-labelledby="tab-watch" hidden={tab !== "watch"}>
        {tab === "watch" ? <ReplayViewer /> : null}
      </div>
    </>
  );
}
