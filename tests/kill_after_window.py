"""`python tests/kill_after_window.py N [ppo.train flags]`: train, SIGKILL self after window N.

A crash right after window N's records and checkpoint are durable, through the trainer's
public seam (`progress_fn` gets `WindowDone` only once they are): the kill/resume tests'
stand-in for a machine that dies mid-run.
"""

from __future__ import annotations

import os
import signal
import sys

from ppo.config import parse_command
from ppo.events import Event, WindowDone
from ppo.train import train


def main(argv: list[str]) -> None:
    kill_after = int(argv[0])
    cfg, opts = parse_command(argv[1:])

    def progress(event: Event) -> None:
        if isinstance(event, WindowDone) and event.window_id == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    train(cfg, progress_fn=progress, checkpoint_every=opts.checkpoint_every)
    sys.exit("the run ended before the window to be killed after")


if __name__ == "__main__":
    main(sys.argv[1:])
