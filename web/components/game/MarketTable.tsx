/**
 * Market: every good with live buy/sell prices here, the best last-seen price elsewhere and
 * the trade buttons for that good (one per action, disabled when invalid).
 */
import { buyAction, sellAction } from "@/lib/actions";
import { fmtCoins } from "@/lib/format";
import type { GameView, MarketRow } from "@/lib/types";

interface MarketTableProps {
  view: GameView;
  labels: string[];
  valid: Set<number>;
  onAction?: (a: number) => void;
  busy?: boolean;
  selectedGood?: number | null;
  onSelectGood?: (g: number) => void;
}

function bestElsewhere(row: MarketRow, here: number) {
  const seen = row.last_seen.filter((s) => s.town !== here && s.price !== null);
  if (seen.length === 0) return null;
  return seen.reduce((a, b) => ((b.price as number) > (a.price as number) ? b : a));
}

export function MarketTable({ view, labels, valid, onAction, busy, selectedGood, onSelectGood }: MarketTableProps) {
  const trades: { a: (g: number) => number; text: string }[] = [
    { a: (g) => buyAction(g, false), text: "Buy 1" },
    { a: (g) => buyAction(g, true), text: "Buy 10" },
    { a: (g) => sellAction(g, "1"), text: "Sell 1" },
    { a: (g) => sellAction(g, "10"), text: "Sell 10" },
    { a: (g) => sellAction(g, "all"), text: "Sell all" },
  ];
  return (
    <div className="table-wrap">
      <table className="market" data-testid="market">
        <caption>
          Market at {view.town.name}
          {onAction ? <span className="phone-only muted small"> · tap a good to trade it</span> : null}
        </caption>
        <thead>
          <tr>
            <th scope="col">Good</th>
            <th scope="col">Buy</th>
            <th scope="col">Sell</th>
            <th scope="col">Held</th>
            <th scope="col">Best sell elsewhere (last seen)</th>
            {onAction ? <th scope="col">Trade</th> : null}
          </tr>
        </thead>
        <tbody>
          {view.market.map((m) => {
            const best = bestElsewhere(m, view.town.id);
            const selected = selectedGood === m.good;
            return (
              <tr
                key={m.good}
                className={selected ? "selected" : ""}
                aria-selected={onSelectGood ? selected : undefined}
                onClick={onSelectGood ? () => onSelectGood(m.good) : undefined}
                data-good={m.name}
              >
                <th scope="row">
                  {m.name} <span className="muted">w{m.weight}</span>
                </th>
                <td>{fmtCoins(m.price)}</td>
                <td>{fmtCoins(m.sell_price)}</td>
                <td>{m.held}</td>
                <td>
                  {best ? (
                    <details>
                      <summary>
                        {fmtCoins(best.price)} <span className="muted">{best.name}, {best.age_days} d ago</span>
                      </summary>
                      <ul className="last-seen">
                        {m.last_seen.map((s) => (
                          <li key={s.town}>
                            {s.name}: {s.price === null ? "never seen" : `${fmtCoins(s.price)} (${s.age_days} d ago)`}
                          </li>
                        ))}
                      </ul>
                    </details>
                  ) : (
                    <span className="muted">not seen elsewhere</span>
                  )}
                </td>
                {onAction ? (
                  <td className="trade-buttons">
                    {trades.map((t) => {
                      const a = t.a(m.good);
                      return (
                        <button
                          key={a}
                          type="button"
                          className="btn btn-small"
                          aria-label={labels[a]}
                          title={labels[a]}
                          data-action={a}
                          disabled={busy || !valid.has(a)}
                          onClick={() => onAction(a)}
                        >
                          {t.text}
                        </button>
                      );
                    })}
                  </td>
                ) : null}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
