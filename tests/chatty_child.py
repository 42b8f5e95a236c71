"""`python -m tests.chatty_child [LINES|wait] [launcher flags...]`: print LINES lines
(default 200,000, ~4 MB) on stdout, then exit 0; `wait`: print one line, then wait for a
signal. The flags ppo.launch appends are ignored.

A stand-in process for ppo.launch tests about its output streaming (no JAX).
"""

from __future__ import annotations

import signal
import sys


def main(argv: list[str]) -> None:
    if argv and argv[0] == "wait":
        print("waiting", flush=True)
        signal.pause()
        return
    lines = int(argv[0]) if argv and argv[0].isdigit() else 200_000
    out = sys.stdout
    for i in range(lines):
        out.write(f"line {i} of a chatty process\n")
    out.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
