"use client";
/** Home page block: the latest run's KPI cards, with its state and a link into /analytics. */
import Link from "next/link";
import { api as defaultApi, type ApiClient } from "@/lib/api";
import { fmtAgo } from "@/lib/format";
import type { Source } from "@/lib/types";
import { useApi, useNow } from "@/lib/useApi";
import { Card, StaleBanner } from "./Card";
import { KpiCards } from "./KpiCards";
import { StateBadge } from "./StateBadge";

export function LatestRun({ client = defaultApi }: { client?: ApiClient }) {
  const now = useNow(1000);
  const health = useApi("health", () => client.health());
  const source: Source | null = health.data?.default_source ?? (health.error ? "local" : null);
  const runs = useApi(source ? `runs:${source}` : null, () => client.runs(source as Source, 1));
  const run = runs.data?.runs[0] ?? null;
  const summary = useApi(source && run ? `${source}:${run.run_id}` : null, () => client.summary(source as Source, run!.run_id));
  const error = runs.error ?? summary.error;
  const stale = [runs.data, summary.data].find((p) => p?.stale);
  return (
    <Card
      title="Latest run"
      loading={health.loading || runs.loading || summary.loading}
      error={error}
      onRetry={() => {
        runs.reload();
        summary.reload();
      }}
      hasData={true}
      testId="latest-run"
      actions={
        run ? (
          <span className="run-meta">
            <Link href={`/analytics?run=${encodeURIComponent(run.run_id)}`}>{run.name || run.run_id}</Link>
            <StateBadge state={run.state} />
            <span className="muted">updated {fmtAgo(run.updated_at, now)}</span>
          </span>
        ) : null
      }
    >
      {stale ? <StaleBanner fetchedAt={stale.fetched_at} /> : null}
      {runs.data && runs.data.runs.length === 0 ? (
        <p className="muted">No runs yet: start one with <code>make run</code>.</p>
      ) : (
        <KpiCards kpis={summary.data?.kpis ?? null} loading={!error} context="latest iteration" />
      )}
    </Card>
  );
}
