"""Write web/lib/action-layout.json from envjax.constants (the one table of the action layout).

    python -m tools.gen_action_layout          # rewrite the file
    python -m tools.gen_action_layout --check  # exit 1 when the file is stale

tests/test_action_layout.py runs the check, so the website cannot drift from the game.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from envjax.constants import action_layout

TARGET = Path(__file__).resolve().parents[1] / "web" / "lib" / "action-layout.json"


def render() -> str:
    """The file's exact text: two-space JSON in the table's order, a trailing newline."""
    return json.dumps(action_layout(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET} is stale: run python -m tools.gen_action_layout", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
