import type { Metadata } from "next";
import { PlayPage } from "@/components/game/PlayPage";

export const metadata: Metadata = { title: "Play" };

export default function Play() {
  return (
    <main id="main" data-page="play">
      <h1>Play Caravan</h1>
      <PlayPage />
    </main>
  );
}
