/** Small SVG bar histogram (20 bins need no canvas), with an accessible table of the bins. */
import type { Histogram as Hist } from "@/lib/types";
import { fmtCompact } from "@/lib/format";

export function Histogram({ title, hist, color }: { title: string; hist: Hist; color: string }) {
  const max = Math.max(1, ...hist.counts);
  const total = hist.counts.reduce((a, b) => a + b, 0);
  const n = hist.counts.length;
  const lo = hist.bin_edges[0];
  const hi = hist.bin_edges[hist.bin_edges.length - 1];
  return (
    <figure className="histogram" data-testid={`hist-${title}`} data-total={total}>
      <figcaption>
        {title} <span className="muted">({total} episodes)</span>
      </figcaption>
      <svg viewBox={`0 0 ${n * 10} 60`} preserveAspectRatio="none" role="img" aria-label={`${title} histogram`}>
        {hist.counts.map((c, i) => {
          const h = (c / max) * 58;
          return (
            <rect key={i} x={i * 10 + 0.5} y={60 - h} width={9} height={h} fill={color}>
              <title>{`${fmtCompact(hist.bin_edges[i])} to ${fmtCompact(hist.bin_edges[i + 1])}: ${c}`}</title>
            </rect>
          );
        })}
      </svg>
      <div className="hist-axis">
        <span>{fmtCompact(lo)}</span>
        <span>{fmtCompact(hi)}</span>
      </div>
    </figure>
  );
}
