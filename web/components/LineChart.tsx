"use client";
/**
 * Canvas line chart on uPlot. uPlot is loaded on first use (dynamic import), so it is not in
 * the first-load bundle; it draws thousands of points per frame without DOM nodes per point.
 * Drag across a chart to zoom its x-axis; "Reset zoom" appears while zoomed. The legend's
 * entries are buttons that show or hide their series (a group: a run's smoothed and raw lines).
 */
import { memo, useEffect, useMemo, useRef, useState } from "react";
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
  /** The group's legend label (default: the label of its first series). */
  groupLabel?: string;
  /**
   * A second legend entry (a line style) this series also belongs to: when comparing runs,
   * each run is a group (its colour) and each metric a subgroup (solid eval, dashed train).
   */
  subgroup?: string;
  /** What the series shows (e.g. "run-a|eval/return_mean"), listed in the figure's data-series. */
  id?: string;
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
/** Legend entries are run/key groups ("g:") and line-style subgroups ("s:"); a series shows unless either is hidden. */
const shown = (s: LineSeries, hidden: Set<string>) => !hidden.has(`g:${groupOf(s)}`) && !(s.subgroup !== undefined && hidden.has(`s:${s.subgroup}`));

interface LegendEntry {
  id: string;
  label: string;
  color: string;
  /** A line-style entry (solid or dashed sample) rather than a colour swatch. */
  style?: "solid" | "dashed";
}

function legendEntries(series: LineSeries[]): LegendEntry[] {
  const out: LegendEntry[] = [];
  const seen = new Set<string>();
  for (const s of series) {
    if (s.quiet) continue;
    const id = `g:${groupOf(s)}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ id, label: s.groupLabel ?? s.label, color: s.color });
  }
  const subs = series.filter((s) => !s.quiet && s.subgroup !== undefined);
  if (new Set(subs.map((s) => s.subgroup)).size > 1)
    for (const s of subs) {
      const id = `s:${s.subgroup}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({ id, label: s.subgroup as string, color: "#475569", style: s.dash ? "dashed" : "solid" });
    }
  return out;
}

/** What decides the plot's construction; a change in anything else (the data) is a setData. */
function layoutKey(series: LineSeries[], rest: unknown[]): string {
  return JSON.stringify([series.map((s) => [s.label, s.color, s.width, s.dash, s.quiet, s.group, s.subgroup]), rest]);
}

/** Memoised: a page re-render (another iteration chosen) re-renders only the charts whose props changed. */
export const LineChart = memo(function LineChart({
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
  const markerRef = useRef<HTMLDivElement | null>(null);
  const highlightRef = useRef<number | null>(highlightX);
  const [failed, setFailed] = useState<string | null>(null);
  const [zoomed, setZoomed] = useState(false);
  // Read by the data effect, in step with the plot's scale hook (the state lags a render).
  const zoomedRef = useRef(false);
  const [hidden, setHidden] = useState<Set<string>>(() => new Set());
  const hiddenRef = useRef(hidden);
  hiddenRef.current = hidden;
  const readoutRef = useRef<HTMLSpanElement>(null);
  highlightRef.current = highlightX;
  // The latest data and formatters, read by the plot's hooks (which outlive a render).
  const dataRef = useRef({ x, series, formatX, formatY, logY });
  dataRef.current = { x, series, formatX, formatY, logY };
  const layout = useMemo(() => layoutKey(series, [height, xLabel, syncKey, yRange, logY]), [series, height, xLabel, syncKey, yRange, logY]);

  const plotData = (): uPlot.AlignedData => {
    const d = dataRef.current;
    // A log axis cannot place zero or negative values: they are left out, not clipped.
    const values = (v: (number | null)[]) => (d.logY ? v.map((y) => (y !== null && y > 0 ? y : null)) : v);
    return [d.x, ...d.series.map((s) => values(s.values))] as uPlot.AlignedData;
  };

  // The chosen iteration's marker is a DOM line over the plot: moving it repaints nothing.
  const placeMarker = (u: uPlot | null) => {
    const m = markerRef.current;
    if (!u || !m) return;
    const hx = highlightRef.current;
    const left = hx === null || hx === undefined ? NaN : u.valToPos(hx, "x");
    const visible = Number.isFinite(left) && left >= 0 && left <= u.bbox.width / (window.devicePixelRatio || 1) + 0.5;
    m.style.display = visible ? "block" : "none";
    if (visible) m.style.transform = `translateX(${left - 1}px)`;
  };

  // (Re)build only when the series layout or the axes change.
  useEffect(() => {
    const el = wrapRef.current;
    if (!el) return;
    let cancelled = false;
    let ro: ResizeObserver | null = null;
    zoomedRef.current = false;
    setZoomed(false);
    import("uplot")
      .then(({ default: UPlot }) => {
        if (cancelled || !wrapRef.current) return;
        const width = Math.max(240, el.clientWidth || 320);
        const { series } = dataRef.current;
        const fx = (v: number) => (dataRef.current.formatX ? dataRef.current.formatX(v) : String(v));
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
              values: formatX ? (_u, vals) => vals.map((v) => fx(v)) : undefined,
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
            { label: xLabel, value: formatX ? (_u, v) => (v == null ? "–" : fx(v)) : undefined },
            ...series.map((s, k) => ({
              label: s.label,
              stroke: s.color,
              width: s.width ?? 2,
              dash: s.dash,
              spanGaps: true,
              show: shown(s, hiddenRef.current),
              // Lines only, except a dot at each isolated value (a one-point line draws nothing).
              points: {
                show: false,
                size: 8,
                fill: s.color,
                filter: () => {
                  const cur = dataRef.current.series[k];
                  if (!cur || cur.quiet) return null;
                  const iso = cur.isolated ?? isolatedIndices(cur.values);
                  return iso.length > 0 ? iso : null;
                },
              },
              ...(s.quiet ? { value: () => "" } : {}),
              ...(formatY && !s.quiet ? { value: (_u: uPlot, v: number | null) => (v == null ? "–" : formatY(v)) } : {}),
            })),
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
                const cur = dataRef.current;
                const fy = cur.formatY ?? ((v: number) => v.toPrecision(4));
                const show = (v: number | null | undefined) => (v == null ? "–" : fy(v));
                const parts = cur.series
                  .map((s, k) => {
                    if (s.quiet || !shown(s, hiddenRef.current)) return null;
                    const v = u.data[k + 1]?.[i] as number | null;
                    return s.raw ? `${s.label} smoothed ${show(v)} · raw ${show(s.raw[i])}` : `${s.label} ${show(v)}`;
                  })
                  .filter(Boolean);
                out.textContent = `${xLabel} ${fx(u.data[0][i])}: ${parts.join(", ")}`;
              },
            ],
            setScale: [
              (u, key) => {
                if (key !== "x") return;
                const xs = dataRef.current.x;
                const xMin = xs.length ? xs[0] : 0;
                const xMax = xs.length ? xs[xs.length - 1] : 1;
                const { min, max } = u.scales.x;
                const z = min != null && max != null && (min > xMin + 1e-9 * Math.abs(xMin) || max < xMax - 1e-9 * Math.abs(xMax));
                zoomedRef.current = z;
                setZoomed(z);
              },
            ],
            draw: [(u) => placeMarker(u)],
          },
        };
        plotRef.current?.destroy();
        const u = new UPlot(opts, plotData(), el);
        plotRef.current = u;
        const marker = document.createElement("div");
        marker.className = "hl-marker";
        marker.setAttribute("aria-hidden", "true");
        marker.style.background = `repeating-linear-gradient(to bottom, ${COLORS.highlight} 0 6px, transparent 6px 10px)`;
        u.over?.appendChild(marker);
        markerRef.current = marker;
        placeMarker(u);
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
      markerRef.current = null;
    };
    // the layout key holds everything the construction reads besides the data (read via dataRef)
  }, [layout]); // eslint-disable-line react-hooks/exhaustive-deps

  // New data in the same layout (a new window, another iteration's updates): no rebuild.
  const built = useRef(false);
  useEffect(() => {
    if (!built.current) {
      built.current = true;
      return;
    }
    const u = plotRef.current;
    if (!u) return;
    // A poll's new windows (the same start, more points) keep the user's zoom (y still fits the
    // data); other data (another window's updates) or no zoom: x fits the new data.
    const { min, max } = u.scales.x;
    const start = (u.data?.[0] as ArrayLike<number> | undefined)?.[0];
    const keep = zoomedRef.current && min != null && max != null && start !== undefined && start === x[0];
    u.setData(plotData());
    if (keep) u.setScale("x", { min, max });
  }, [x, series]); // eslint-disable-line react-hooks/exhaustive-deps

  // Moving the highlight moves the marker only.
  useEffect(() => {
    placeMarker(plotRef.current);
  }, [highlightX]); // eslint-disable-line react-hooks/exhaustive-deps

  const resetZoom = () => {
    const u = plotRef.current;
    if (!u || x.length === 0) return;
    u.setScale("x", { min: x[0], max: x[x.length - 1] });
  };

  const toggle = (id: string) => {
    const next = new Set(hidden);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setHidden(next);
    const u = plotRef.current;
    if (u) series.forEach((s, k) => u.setSeries(k + 1, { show: shown(s, next) }));
  };

  const { legend, isolated, drawn } = useMemo(
    () => ({
      legend: legendEntries(series),
      isolated: series.reduce((n, s) => n + (s.quiet ? 0 : (s.isolated ?? isolatedIndices(s.values)).length), 0),
      drawn: series
        .filter((s) => !s.quiet && s.values.some((v) => v !== null))
        .map((s) => s.id ?? s.label)
        .join(" "),
    }),
    [series],
  );
  return (
    <figure
      className="chart"
      data-testid={`chart-${title}`}
      data-highlight={highlightX ?? ""}
      data-points={x.length}
      data-isolated={isolated}
      data-zoomed={zoomed}
      data-log={logY}
      data-series={drawn}
    >
      <figcaption>
        {title}
        <span className="legend">
          {legend.map((e) => {
            const swatch = e.style ? (
              <span className="swatch swatch-line" style={{ borderTopColor: e.color, borderTopStyle: e.style }} aria-hidden="true" />
            ) : (
              <span className="swatch" style={{ background: e.color }} aria-hidden="true" />
            );
            return toggles ? (
              <button
                key={e.id}
                type="button"
                className="legend-item legend-toggle"
                data-legend={e.id.slice(0, 1) === "g" ? "group" : "style"}
                aria-pressed={!hidden.has(e.id)}
                title={hidden.has(e.id) ? `Show ${e.label}` : `Hide ${e.label}`}
                onClick={() => toggle(e.id)}
              >
                {swatch}
                {e.label}
              </button>
            ) : (
              <span key={e.id} className="legend-item">
                {swatch}
                {e.label}
              </span>
            );
          })}
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
});
