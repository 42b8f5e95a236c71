/** Day, cash, health, provisions, capacity and net worth. */
import { fmtCoins } from "@/lib/format";
import type { GameView } from "@/lib/types";

export function StatusBar({ view }: { view: GameView }) {
  const items: [string, string, string][] = [
    ["day", "Day", `${view.day} / ${view.max_days}`],
    ["town", "Town", view.town.name],
    ["cash", "Cash", fmtCoins(view.cash)],
    ["health", "Health", String(view.health)],
    ["provisions", "Provisions", String(view.provisions)],
    ["capacity", "Cargo", `${view.capacity.used} / ${view.capacity.max}`],
    ["net-worth", "Net worth", fmtCoins(view.net_worth)],
  ];
  return (
    <dl className="status-bar" data-testid="status-bar">
      {items.map(([id, label, value]) => (
        <div key={id} data-testid={`status-${id}`} className={id === "health" && view.health < 30 ? "warn" : ""}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function CargoList({ view }: { view: GameView }) {
  return (
    <div className="cargo" data-testid="cargo">
      <h3>
        Cargo <span className="muted">({view.capacity.free} free of {view.capacity.max})</span>
      </h3>
      {view.cargo.length === 0 ? (
        <p className="muted">Empty.</p>
      ) : (
        <ul>
          {view.cargo.map((c) => (
            <li key={c.good}>
              {c.units} × {c.name} <span className="muted">(weight {c.weight}, worth ~{fmtCoins(c.fair_value * c.units)})</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
