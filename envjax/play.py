"""Play one Caravan episode in the terminal (works with piped stdin too).

    python -m envjax.play [--seed N]

Type an action number (see the list) or the start of its label ("buy 10 salt", "travel
carrow", "wait"); "help" lists the valid actions again, "quit" ends. An action that is not
valid is played as the rules say: as a wait, with a -0.1 penalty.
"""

from __future__ import annotations

import random
import sys
from typing import TextIO

from envjax import constants as C
from envjax.argparser import OneLineParser
from envjax.reference import ReferenceEnv
from envjax.render import describe, to_text


def parse_action(text: str, valid: list[int]) -> int | None:
    """An action from a number or a unique (case-insensitive) label prefix; None if unclear.
    Label prefixes match valid actions first, then any action."""
    text = " ".join(text.strip().lower().replace("to ", "").split())
    if text.isdigit():
        a = int(text)
        return a if 0 <= a < C.N_ACTIONS else None
    labels = [(a, C.ACTION_LABELS[a].lower().replace("to ", "")) for a in range(C.N_ACTIONS)]
    for pool in ([x for x in labels if x[0] in valid], labels):
        exact = [a for a, lab in pool if lab == text]
        if exact:
            return exact[0]
        hits = [a for a, lab in pool if lab.startswith(text)]
        if len(hits) == 1:
            return hits[0]
    return None


def _menu(valid: list[int]) -> str:
    return "  actions: " + "  ".join(f"[{a}] {C.ACTION_LABELS[a]}" for a in valid)


def play(seed: int, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> dict:
    """Run one episode reading actions from `stdin`; returns the final describe() view."""
    env = ReferenceEnv(seed)
    env.reset()
    total = 0.0
    print(f"Caravan, seed {seed}. Survive 360 days and grow your net worth.", file=out)
    view = describe(env.state)
    while not view["done"]:
        valid = [v["action"] for v in view["valid_actions"]]
        print("\n" + to_text(view), file=out)
        print(_menu(valid), file=out)
        print("> ", end="", file=out, flush=True)
        line = stdin.readline()
        if not line:
            print("\n(end of input)", file=out)
            break
        cmd = line.strip().lower()
        if cmd in ("q", "quit", "exit"):
            break
        if cmd in ("", "h", "help", "?"):
            continue
        action = parse_action(cmd, valid)
        if action is None:
            print(f"  not understood: {line.strip()!r} (a number 0-68 or a label)", file=out)
            continue
        _, reward, _, _, info = env.step(action)
        total += reward
        note = "  (not valid here: played as wait, -0.1)" if info["invalid"] else ""
        events = [
            name
            for name, flag in (
                ("bandits attacked!", info["bandit_attack"]),
                ("the crew went hungry", info["starved"]),
                ("medicine used", info["medicine_used"]),
            )
            if flag
        ]
        print(f"  {C.ACTION_LABELS[action]}: reward {reward:+.2f}{note}", file=out)
        if events:
            print("  " + "; ".join(events), file=out)
        view = describe(env.state)
    ep = view["episode"]
    outcome = "died" if view["terminated"] else ("survived" if view["truncated"] else "stopped")
    print(
        f"\nYou {outcome} on day {view['day']}: net worth {view['net_worth']:.2f}, "
        f"profit {ep['profit']:+.2f}, return {total:+.2f}, invalid actions {ep['invalid_actions']}",
        file=out,
    )
    return view


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(description="Play one Caravan episode in the terminal.")
    parser.add_argument("--seed", type=int, default=None, help="uint32 seed (default: random)")
    args = parser.parse_args(argv)
    seed = random.getrandbits(32) if args.seed is None else args.seed
    if not 0 <= seed < 2**32:
        print(f"error: --seed must be in [0, 2**32) (uint32; got {seed})", file=sys.stderr)
        raise SystemExit(2)
    try:
        play(seed)
    except KeyboardInterrupt:
        print("\n(interrupted)")


if __name__ == "__main__":
    main()
