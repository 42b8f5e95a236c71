/** SVG map of towns and roads; road colour and width show danger, the caravan's town is ringed. */
import type { GameView } from "@/lib/types";

const DANGER_COLORS = ["#16a34a", "#65a30d", "#ca8a04", "#ea580c", "#dc2626", "#991b1b"];

export function dangerColor(d: number): string {
  return DANGER_COLORS[Math.max(0, Math.min(DANGER_COLORS.length - 1, Math.round(d)))];
}

export function GameMap({ view }: { view: Pick<GameView, "towns" | "roads" | "town"> }) {
  const W = 400;
  const H = 260;
  const pad = 28;
  const pos = new Map(view.towns.map((t) => [t.id, { x: pad + t.x * (W - 2 * pad), y: pad + t.y * (H - 2 * pad) }]));
  const maxDanger = Math.max(1, ...view.roads.map((r) => r.danger));
  return (
    <figure className="game-map" data-testid="game-map">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="map-title">
        <title id="map-title">{`Map: caravan at ${view.town.name}; ${view.towns.length} towns, ${view.roads.length} roads`}</title>
        {view.roads.map((r) => {
          const a = pos.get(r.a);
          const b = pos.get(r.b);
          if (!a || !b) return null;
          const here = r.a === view.town.id || r.b === view.town.id;
          return (
            <g key={`${r.a}-${r.b}`}>
              <line
                x1={a.x}
                y1={a.y}
                x2={b.x}
                y2={b.y}
                stroke={dangerColor(r.danger)}
                strokeWidth={here ? 4 : 2.5}
                strokeOpacity={here ? 1 : 0.65}
                strokeDasharray={r.danger >= Math.max(3, maxDanger) ? "6 3" : undefined}
              />
              <text x={(a.x + b.x) / 2} y={(a.y + b.y) / 2 - 3} className="road-label" textAnchor="middle">
                {r.danger}
              </text>
            </g>
          );
        })}
        {view.towns.map((t) => {
          const p = pos.get(t.id)!;
          const here = t.id === view.town.id;
          return (
            <g key={t.id} data-town={t.name}>
              {here ? <circle cx={p.x} cy={p.y} r={12} fill="none" stroke="#C2185B" strokeWidth={3} /> : null}
              <circle cx={p.x} cy={p.y} r={7} fill={t.visited ? "#1e3a8a" : "#fff"} stroke="#1e3a8a" strokeWidth={2} />
              <text x={p.x} y={p.y + (p.y > H - 40 ? -15 : 22)} textAnchor="middle" className="town-label">
                {t.id + 1}. {t.name}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="map-legend">
        Road numbers are danger (0 safe … higher is riskier); filled towns are visited; the ring marks the caravan.
      </figcaption>
    </figure>
  );
}
