import Link from "next/link";
import { LatestRun } from "@/components/LatestRun";

export default function Home() {
  return (
    <main id="main" data-page="home">
      <section className="hero">
        <h1>Caravan</h1>
        <p>
          Caravan is an open reinforcement-learning stack in JAX for one game: a trading caravan crosses eight towns for a
          year, buying and selling twelve goods while feeding its crew and surviving bandits. A PPO agent learns the game
          on fully compiled, vectorised environments; this site shows how its training goes and lets you play the same
          game yourself.
        </p>
        <div className="row">
          <Link className="btn btn-primary" href="/analytics">
            Open analytics
          </Link>
          <Link className="btn" href="/play">
            Play the game
          </Link>
        </div>
      </section>
      <LatestRun />
    </main>
  );
}
