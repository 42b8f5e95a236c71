/** Share of wait / travel / buy / sell actions as one stacked bar with a legend in words. */
import { ACTION_KINDS } from "@/lib/actions";
import { fmtPercent } from "@/lib/format";
import { COLORS } from "@/lib/palette";

const KINDS = ACTION_KINDS as readonly ("wait" | "travel" | "buy" | "sell")[];

export function ActionMix({ mix, title = "Action mix" }: { mix: Record<string, number | null>; title?: string }) {
  return (
    <figure className="action-mix" data-testid="action-mix">
      <figcaption>{title}</figcaption>
      <div className="mix-bar" aria-hidden="true">
        {KINDS.map((k) => (
          <div key={k} style={{ width: `${Math.max(0, (mix[k] ?? 0) * 100)}%`, background: COLORS[k] }} />
        ))}
      </div>
      <ul className="mix-legend">
        {KINDS.map((k) => (
          <li key={k} data-kind={k} data-value={mix[k] ?? ""}>
            <span className="swatch" style={{ background: COLORS[k] }} aria-hidden="true" />
            {k} {fmtPercent(mix[k] ?? null)}
          </li>
        ))}
      </ul>
    </figure>
  );
}
