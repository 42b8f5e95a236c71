"use client";
/**
 * Canvas line chart on uPlot. uPlot is loaded on first use (dynamic import), so it is not in
 * the first-load bundle; it draws thousands of points per frame without DOM nodes per point.
 * Drag across a chart to zoom its x-axis; "Reset zoom" appears while zoomed. The legend's
 * entries are buttons that show or hide their series (a group: a run's smoothed and raw lines).
 */
import { useEffect, useRef, useState } from "react";
import type uPlot from "uplot";
import { COLORS } from "@/lib/palette";
import { isolatedIndices } from "@/lib/series";

export interface LineSeries {
  label: string;
  values: (number | null)[];
  color: string;
  width?: number;
  dash?: number[];
  /** Hidden from the legend (faint raw lines); the hover readout shows them through `raw`. */
  quiet?: boolean;
  /** The unsmoothed values behind a smoothed series: the hover readout shows both, labelled. */
  raw?: (number | null)[];
  /** Legend entry this series belongs to (default its label); one toggle hides the group. */
  group?: string;
  /** Indices to mark with a dot (default: isolated values of `values`). */
  isolated?: number[];
}

export interface LineChartProps {
  title: string;
  x: number[];
  series: LineSeries[];
  xLabel: string;
  formatX?: (v: number) => string;
  /** Legend/cursor values. */
  formatY?: (v: number) => string;
  /** Axis ticks (default: uPlot's own, which adapts its precision to the range). */
  formatAxisY?: (v: number) => string;
  yRange?: [number, number];
  /** Log-scale y (positive values only; others are left out of the drawing). */
  logY?: boolean;
  /** x value to mark with a vertical line (the chosen iteration). */
  highlightX?: number | null;
  syncKey?: string;
  height?: number;
  /** Legend entries that toggle series (off for single-series charts). */
  toggles?: boolean;
}

const groupOf = (s: LineSeries) => s.group ?? s.label;

export function LineChart({
  title,
  x,
  series,
  xLabel,
  formatX,
  formatY,
  formatAxisY,
  yRange,
  logY = false,
  highlightX = null,
  syncKey,
  height = 180,
  toggles = false,
}: LineChartProps) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const highlightRef = useRef<number | null>(highlightX);
  const [failed, setFailed] = useState<string | null>(null);
  const [zoomed, setZoomed] = useState(false);
  const [hidden, setHidden] = useState<Set<string>>(() => new Set());
  const hiddenRef = useRef(hidden);
  hiddenRef.current = hidden;
  const readoutRef = useRef<HTMLSpanElement>(null);
  highlightRef.current = highlightX;

  // (Re)build when the data or the series layout changes.
  useEffect(() => {
    const el = wrapRef.current;
    if (!el) return;
    let cancelled = false;
    let ro: ResizeObserver | null = null;
    setZoomed(false);
    import("uplot")
      .then(({ default: UPlot }) => {
        if (cancelled || !wrapRef.current) return;
        const width = Math.max(240, el.clientWidth || 320);
        const xMin = x.length ? x[0] : 0;
        const xMax = x.length ? x[x.length - 1] : 1;
        const opts: uPlot.Options = {
          width,
          height,
          legend: { show: false },
          cursor: { ...(syncKey ? { sync: { key: syncKey } } : {}), drag: { x: true, y: false, setScale: true } },
          scales: {
            x: { time: false },
            y: logY ? { distr: 3 } : yRange ? { range: () => yRange } : {},
          },
          axes: [
            {
              label: xLabel,
              labelSize: 20,
              size: 36,
              values: formatX ? (_u, vals) => vals.map((v) => formatX(v)) : undefined,
              stroke: "#475569",
              grid: { stroke: "#e2e8f0" },
            },
            {
              values: formatAxisY ? (_u, vals) => vals.map((v) => formatAxisY(v)) : undefined,
              size: 60,
              stroke: "#475569",
              grid: { stroke: "#e2e8f0" },
            },
          ],
          series: [
            { label: xLabel, value: formatX ? (_u, v) => (v == null ? "–" : formatX(v)) : undefined },
            ...series.map((s) => {
              // Lines only, except a dot at each isolated value (a one-point line draws nothing).
              const iso = s.quiet ? [] : (s.isolated ?? isolatedIndices(s.values));
              return {
                label: s.label,
                stroke: s.color,
                width: s.width ?? 2,
                dash: s.dash,
                spanGaps: true,
                show: !hiddenRef.current.has(groupOf(s)),
                points: { show: false, size: 8, fill: s.color, filter: () => (iso.length > 0 ? iso : null) },
                ...(s.quiet ? { value: () => "" } : {}),
                ...(formatY && !s.quiet ? { value: (_u: uPlot, v: number | null) => (v == null ? "–" : formatY(v)) } : {}),
              };
            }),
          ],
          hooks: {
            // Cursor values go straight into one text node: no React render per mouse move.
            setCursor: [
              (u) => {
                const out = readoutRef.current;
                const i = u.cursor.idx;
                if (!out) return;
                if (i === null || i === undefined) {
                  out.textContent = "";
                  return;
                }
                const fx = formatX ?? ((v: number) => String(v));
                const fy = formatY ?? ((v: number) => v.toPrecision(4));
                const show = (v: number | null | undefined) => (v == null ? "–" : fy(v));
                const parts = series
                  .map((s, k) => {
                    if (s.quiet || hiddenRef.current.has(groupOf(s))) return null;
                    const v = u.data[k + 1][i] as number | null;
                    return s.raw ? `${s.label} smoothed ${show(v)} · raw ${show(s.raw[i])}` : `${s.label} ${show(v)}`;
                  })
                  .filter(Boolean);
                out.textContent = `${xLabel} ${fx(u.data[0][i])}: ${parts.join(", ")}`;
              },
            ],
            setScale: [
              (u, key) => {
                if (key !== "x") return;
                const { min, max } = u.scales.x;
                setZoomed(min != null && max != null && (min > xMin + 1e-9 * Math.abs(xMin) || max < xMax - 1e-9 * Math.abs(xMax)));
              },
            ],
            draw: [
              (u) => {
                const hx = highlightRef.current;
                if (hx === null || hx === undefined) return;
                const cx = u.valToPos(hx, "x", true);
                if (!Number.isFinite(cx)) return;
                const ctx = u.ctx;
                ctx.save();
                ctx.strokeStyle = COLORS.highlight;
                ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
                ctx.setLineDash([6, 4]);
                ctx.beginPath();
                ctx.moveTo(cx, u.bbox.top);
                ctx.lineTo(cx, u.bbox.top + u.bbox.height);
                ctx.stroke();
                ctx.restore();
              },
            ],
          },
        };
        // A log axis cannot place zero or negative values: they are left out, not clipped.
        const values = (v: (number | null)[]) => (logY ? v.map((y) => (y !== null && y > 0 ? y : null)) : v);
        const data = [x, ...series.map((s) => values(s.values))] as uPlot.AlignedData;
        plotRef.current?.destroy();
        plotRef.current = new UPlot(opts, data, el);
        ro = new ResizeObserver(() => {
          const w = Math.max(240, el.clientWidth);
          if (plotRef.current && Math.abs(plotRef.current.width - w) > 1) plotRef.current.setSize({ width: w, height });
        });
        ro.observe(el);
      })
      .catch((e: unknown) => setFailed(e instanceof Error ? e.message : String(e)));
    return () => {
      cancelled = true;
      ro?.disconnect();
      plotRef.current?.destroy();
      plotRef.current = null;
    };
    // formatters are stable module functions; series identity changes with data
  }, [x, series, height, xLabel, syncKey, yRange, logY]); // eslint-disable-line react-hooks/exhaustive-deps

  // Moving the highlight only needs a redraw.
  useEffect(() => {
    plotRef.current?.redraw(false, false);
  }, [highlightX]);

  const resetZoom = () => {
    const u = plotRef.current;
    if (!u || x.length === 0) return;
    u.setScale("x", { min: x[0], max: x[x.length - 1] });
  };

  const toggle = (g: string) => {
    const next = new Set(hidden);
    if (next.has(g)) next.delete(g);
    else next.add(g);
    setHidden(next);
    const u = plotRef.current;
    if (u) series.forEach((s, k) => groupOf(s) === g && u.setSeries(k + 1, { show: !next.has(g) }));
  };

  const legend = series.filter((s) => !s.quiet);
  const isolated = series.reduce((n, s) => n + (s.quiet ? 0 : (s.isolated ?? isolatedIndices(s.values)).length), 0);
  return (
    <figure
      className="chart"
      data-testid={`chart-${title}`}
      data-highlight={highlightX ?? ""}
      data-points={x.length}
      data-isolated={isolated}
      data-zoomed={zoomed}
      data-log={logY}
    >
      <figcaption>
        {title}
        <span className="legend">
          {legend.map((s) =>
            toggles ? (
              <button
                key={s.label}
                type="button"
                className="legend-item legend-toggle"
                aria-pressed={!hidden.has(groupOf(s))}
                title={hidden.has(groupOf(s)) ? `Show ${s.label}` : `Hide ${s.label}`}
                onClick={() => toggle(groupOf(s))}
              >
                <span className="swatch" style={{ background: s.color }} aria-hidden="true" />
                {s.label}
              </button>
            ) : (
              <span key={s.label} className="legend-item">
                <span className="swatch" style={{ background: s.color }} aria-hidden="true" />
                {s.label}
              </span>
            ),
          )}
          {series.some((s) => s.quiet) ? <span className="legend-item muted">faint: raw</span> : null}
        </span>
        {zoomed ? (
          <button type="button" className="btn btn-small reset-zoom" onClick={resetZoom}>
            Reset zoom
          </button>
        ) : null}
      </figcaption>
      <div ref={wrapRef} className="chart-canvas" role="img" aria-label={`${title} chart, ${x.length} points`} />
      <span ref={readoutRef} className="cursor-readout" data-testid="cursor-readout" aria-hidden="true" />
      {failed ? <p className="error-notice">Chart failed to load: {failed}</p> : null}
    </figure>
  );
}
