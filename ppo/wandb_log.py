"""W&B logging at the edge: the real wandb client, never allowed to stop training.

The local run_id is the W&B run id. Steps and keys are `ppo.wandb_mapping`'s (docs/RUN_RECORDS.md,
"W&B mapping"). Any W&B failure warns once,
turns this logger off and is recorded in run.json; the local records stay complete.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Literal, cast

from ppo.wandb_mapping import window_log_rows

WandbMode = Literal["online", "offline", "disabled"]


class WandbLogger:
    """One W&B run for one training run (mode online, offline or disabled)."""

    def __init__(
        self,
        *,
        mode: str,
        run_id: str,
        name: str,
        project: str,
        entity: str | None,
        config: dict[str, Any],
        run_dir: Path,
        resume: bool,
        group: str | None = None,
    ) -> None:
        self.mode = mode
        self.run: Any = None
        self.error: str | None = None
        self.info: dict[str, Any] = {"mode": mode, "run_id": None, "path": None, "dir": None}
        if mode == "disabled":
            return
        try:
            import wandb

            self.run = wandb.init(
                project=project,
                entity=entity,
                id=run_id,
                name=name,
                group=group,
                config=config,
                mode=cast(WandbMode, mode),
                dir=str(run_dir),
                resume="allow" if resume else None,
                reinit="create_new",
                settings=wandb.Settings(
                    silent=True, console="off", x_disable_stats=True, init_timeout=60
                ),
            )
            path = None
            if mode == "online":
                path = f"{self.run.entity}/{self.run.project}/{self.run.id}"
            self.info = {"mode": mode, "run_id": self.run.id, "path": path, "dir": self.run.dir}
        except Exception as e:  # W&B trouble must never stop training
            self._fail(e)

    def _fail(self, e: BaseException) -> None:
        if self.error is None:
            lines = str(e).strip().splitlines()  # pydantic errors run to many lines
            self.error = f"{type(e).__name__}: {lines[0] if lines else ''}"
            warnings.warn(
                f"W&B logging turned off after an error ({self.error}); "
                "training continues and the local run records stay complete",
                RuntimeWarning,
                stacklevel=3,
            )
            print(f"warning: W&B disabled for this run: {self.error}", file=sys.stderr)
            self.info["error"] = self.error
        self.run = None

    @property
    def active(self) -> bool:
        return self.run is not None

    def log_window(
        self,
        window_row: dict[str, Any],
        update_rows: list[dict[str, Any]],
        eval_doc: dict[str, Any] | None,
    ) -> None:
        """Log a window's update rows, then its row (+ eval histograms and action mix)."""
        if self.run is None:
            return
        try:
            for step, data in window_log_rows(window_row, update_rows, eval_doc):
                self.run.log(data, step=step)
        except Exception as e:
            self._fail(e)

    def finish(self, exit_code: int = 0) -> None:
        """Close the W&B run (flushes offline files)."""
        if self.run is None:
            return
        try:
            self.run.finish(exit_code=exit_code)
        except Exception as e:
            self._fail(e)
        self.run = None
