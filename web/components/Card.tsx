"use client";
/** A dashboard card that owns its loading, error and content states, so one failure never blanks the page. */
import type { ReactNode } from "react";
import { errorMessage } from "@/lib/api";

interface CardProps {
  title: string;
  loading: boolean;
  error: unknown;
  onRetry?: () => void;
  /** True once there is something to show; errors with data keep the data and add a notice. */
  hasData: boolean;
  children?: ReactNode;
  actions?: ReactNode;
  skeletonLines?: number;
  className?: string;
  testId?: string;
}

export function Card({
  title,
  loading,
  error,
  onRetry,
  hasData,
  children,
  actions,
  skeletonLines = 3,
  className = "",
  testId,
}: CardProps) {
  const headingId = `card-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return (
    <section className={`card ${className}`} aria-labelledby={headingId} aria-busy={loading} data-testid={testId}>
      <header className="card-head">
        <h2 id={headingId}>{title}</h2>
        {actions ? <div className="card-actions">{actions}</div> : null}
      </header>
      {error ? <ErrorNotice error={error} onRetry={onRetry} /> : null}
      {hasData ? children : !error && loading ? <Skeleton lines={skeletonLines} /> : null}
      {!hasData && !loading && !error ? <p className="muted">No data yet.</p> : null}
    </section>
  );
}

export function ErrorNotice({ error, onRetry, retryLabel = "Retry" }: { error: unknown; onRetry?: () => void; retryLabel?: string }) {
  return (
    <div className="error-notice" role="alert">
      <span>{errorMessage(error)}</span>
      {onRetry ? (
        <button type="button" className="btn btn-small" onClick={onRetry}>
          {retryLabel}
        </button>
      ) : null}
    </div>
  );
}

export function Skeleton({ lines = 3 }: { lines?: number }) {
  return (
    <div className="skeleton" data-testid="skeleton" aria-hidden="true">
      {Array.from({ length: lines }, (_, i) => (
        <div key={i} className="skeleton-line" style={{ width: `${90 - i * 12}%` }} />
      ))}
    </div>
  );
}

export function StaleBanner({ fetchedAt }: { fetchedAt: string | null }) {
  return (
    <div className="stale-banner" role="status" data-testid="stale-banner">
      <strong>Stale data.</strong> The source did not answer; showing the cached copy
      {fetchedAt ? ` fetched at ${new Date(fetchedAt).toLocaleString()}` : ""}.
    </div>
  );
}
