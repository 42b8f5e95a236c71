"use client";
/** /play: a tab for playing yourself and one for watching a trained agent. */
import { useState } from "react";
import { PlayGame } from "./PlayGame";
import { ReplayViewer } from "./ReplayViewer";

export function PlayPage() {
  const [tab, setTab] = useState<"play" | "watch">("play");
  return (
    <>
      <div className="tabs" role="tablist" aria-label="Mode">
        <button type="button" role="tab" id="tab-play" aria-selected={tab === "play"} aria-controls="panel-play" onClick={() => setTab("play")}>
          Play
        </button>
        <button type="button" role="tab" id="tab-watch" aria-selected={tab === "watch"} aria-controls="panel-watch" onClick={() => setTab("watch")}>
          Watch the agent
        </button>
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
