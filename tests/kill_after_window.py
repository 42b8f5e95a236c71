"""`python tests/kill_after_window.py N[@I[:SIGNAL]] [ppo.train flags]`: train, SIGKILL self
after window N.

A crash right after window N's records and checkpoint are durable, through the trainer's
public seam (`progress_fn` gets `WindowDone` only once they are): the kill/resume tests'
stand-in for a machine that dies mid-run. It runs `ppo.train.main`, so the multi-process
flags work too: `@I` acts on process I only (the others carry on and must notice), and
`:SIGSTOP` freezes the process instead (a hung host whose sockets stay open).
Also runnable as `python -m tests.kill_after_window` (e.g. under `ppo.launch --module`).
"""

from __future__ import annotations

import os
import signal
import sys

from ppo.events import Event, WindowDone
from ppo.train import main as train_main


def parse_spec(spec: str) -> tuple[int, int | None, signal.Signals]:
    """'N[@I[:SIGNAL]]' as (window, process or None for any, signal)."""
    window, _, rest = spec.partition("@")
    proc, _, sig = rest.partition(":")
    return int(window), int(proc) if proc else None, signal.Signals[sig or "SIGKILL"]


def main(argv: list[str]) -> None:
    window, proc, sig = parse_spec(argv[0])

    def progress(event: Event) -> None:
        import jax

        mine = proc is None or jax.process_index() == proc
        if isinstance(event, WindowDone) and event.window_id == window and mine:
            os.kill(os.getpid(), sig)

    code = train_main(argv[1:], progress_fn=progress)
    if code:
        sys.exit(code)
    sys.exit("the run ended before the window to be killed after")


if __name__ == "__main__":
    main(sys.argv[1:])
