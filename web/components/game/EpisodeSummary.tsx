/** The episode's metrics at its end. */
import { fmtCoins, fmtNumber } from "@/lib/format";
import type { EpisodeMetrics } from "@/lib/types";

export function EpisodeSummary({ episode, title = "Episode over" }: { episode: EpisodeMetrics; title?: string }) {
  return (
    <section className="episode-summary" data-testid="episode-summary" aria-live="polite">
      <h2>{title}</h2>
      <p className={episode.survived ? "good" : "bad"}>
        {episode.survived === null ? "" : episode.survived ? "The caravan survived the year." : "The caravan did not survive."}
      </p>
      <dl className="metrics">
        <div data-testid="episode-return" data-value={episode.return}>
          <dt>Return</dt>
          <dd>{fmtNumber(episode.return)}</dd>
        </div>
        <div data-testid="episode-profit" data-value={episode.profit}>
          <dt>Profit</dt>
          <dd>{fmtCoins(episode.profit)}</dd>
        </div>
        <div data-testid="episode-length" data-value={episode.length}>
          <dt>Days</dt>
          <dd>{episode.length}</dd>
        </div>
        <div data-testid="episode-invalid" data-value={episode.invalid_actions}>
          <dt>Invalid actions</dt>
          <dd>{episode.invalid_actions}</dd>
        </div>
      </dl>
    </section>
  );
}
