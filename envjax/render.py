"""JSON-able views of a game state for play sessions, replays and the website.

`describe` accepts a single (unbatched) JAX `EnvState` or a reference `RefState`; the shape
of its result is fixed in docs/INTERFACES.md section 2.
"""

from __future__ import annotations

from typing import Any

from envjax import constants as C
from envjax import reference as R


def _coins(cents: int) -> float:
    return round(cents / 100.0, 2)


def _as_ref(state: Any) -> R.RefState:
    if isinstance(state, R.RefState):
        return state
    if not hasattr(state, "seen_day"):
        raise TypeError(f"describe() needs an EnvState or RefState, got {type(state).__name__}")
    if getattr(state.day, "ndim", 0) != 0:
        raise ValueError("describe() needs a single env state, not a batch; index it first")
    return R.from_jax_state(state)


def describe(state: Any, params: Any = None) -> dict[str, Any]:
    """Day, town, cash, health, cargo by name, market table, map, valid actions with labels
    and the episode so far; money in coins (2 decimals), exact integers in *_cents."""
    s = _as_ref(state)
    here = s.town
    used = R.cargo_weight(s)
    terminated = s.health <= 0
    truncated = not terminated and s.day >= C.MAX_DAYS
    mask = R.action_mask(s) if not (terminated or truncated) else [False] * C.N_ACTIONS
    nw = R.net_worth(s)
    cargo = [
        {
            "good": g,
            "name": C.GOOD_NAMES[g],
            "units": s.cargo[g],
            "weight": s.cargo[g] * C.GOOD_WEIGHT[g],
            "fair_value": _coins(C.GOOD_VALUE_CENTS[g]),
        }
        for g in range(C.N_GOODS)
        if s.cargo[g] > 0
    ]
    market = []
    for g in range(C.N_GOODS):
        p = s.price[here][g]
        last_seen = []
        for t in range(C.N_TOWNS):
            seen = s.seen_day[t] >= 0
            last_seen.append(
                {
                    "town": t,
                    "name": C.TOWN_NAMES[t],
                    "price": _coins(s.seen[t][g]) if seen else None,
                    "age_days": s.day - s.seen_day[t] if seen else None,
                }
            )
        market.append(
            {
                "good": g,
                "name": C.GOOD_NAMES[g],
                "price": _coins(p),
                "price_cents": p,
                "sell_price": _coins(p * C.SELL_NUM // C.SELL_DEN),
                "fair_value": _coins(C.GOOD_VALUE_CENTS[g]),
                "weight": C.GOOD_WEIGHT[g],
                "held": s.cargo[g],
                "last_seen": last_seen,
            }
        )
    return {
        "day": s.day,
        "max_days": C.MAX_DAYS,
        "days_left": C.MAX_DAYS - s.day,
        "town": {"id": here, "name": C.TOWN_NAMES[here]},
        "cash": _coins(s.cash),
        "cash_cents": s.cash,
        "health": s.health,
        "provisions": s.cargo[C.PROVISIONS],
        "capacity": {"used": used, "max": C.CAPACITY, "free": C.CAPACITY - used},
        "net_worth": _coins(nw),
        "net_worth_cents": nw,
        "terminated": terminated,
        "truncated": truncated,
        "done": terminated or truncated,
        "cargo": cargo,
        "market": market,
        "towns": [
            {"id": t, "name": n, "x": x, "y": y, "visited": s.seen_day[t] >= 0}
            for t, (n, (x, y)) in enumerate(zip(C.TOWN_NAMES, C.TOWN_XY, strict=True))
        ],
        "roads": [{"a": a, "b": b, "danger": d} for a, b, d in C.ROADS],
        "roads_here": [
            {"to": t, "name": C.TOWN_NAMES[t], "danger": C.DANGER[here][t]}
            for t in range(C.N_TOWNS)
            if C.DANGER[here][t] != C.NO_ROAD
        ],
        "valid_actions": [
            {"action": a, "label": C.ACTION_LABELS[a]} for a in range(C.N_ACTIONS) if mask[a]
        ],
        "episode": {
            "return": round(R.episode_return(s), 4),
            "profit": _coins(nw - C.START_NET_WORTH_CENTS),
            "length": s.day,
            "invalid_actions": s.n_invalid,
        },
    }


def to_text(view: dict[str, Any]) -> str:
    """A terminal rendering of a `describe` view."""
    lines = [
        f"Day {view['day']}/{view['max_days']}  {view['town']['name']}  "
        f"cash {view['cash']:.2f}  health {view['health']}  food {view['provisions']}  "
        f"load {view['capacity']['used']}/{view['capacity']['max']}  "
        f"net worth {view['net_worth']:.2f}",
        "  good        price   sells  fair  held  best seen elsewhere",
    ]
    for m in view["market"]:
        others = [
            (ls["price"], ls["name"], ls["age_days"])
            for ls in m["last_seen"]
            if ls["price"] is not None and ls["town"] != view["town"]["id"]
        ]
        best = max(others, default=None)
        best_s = f"{best[0]:.2f} at {best[1]} ({best[2]}d ago)" if best else "-"
        lines.append(
            f"  {m['name']:<10} {m['price']:>7.2f} {m['sell_price']:>7.2f} "
            f"{m['fair_value']:>5.0f} {m['held']:>5}  {best_s}"
        )
    roads = ", ".join(f"{r['name']} (danger {r['danger']})" for r in view["roads_here"])
    lines.append(f"  roads: {roads}")
    return "\n".join(lines)
