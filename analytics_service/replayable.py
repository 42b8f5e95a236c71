"""Which windows of a local run a replay can play: a complete checkpoint (the trainer prunes
old ones) and, for the replay seeds, an eval record (docs/RUN_RECORDS.md)."""

from __future__ import annotations

from pathlib import Path

from analytics_service import records, views


def complete_checkpoints(run_dir: Path) -> list[int]:
    """window_ids with a complete checkpoint, ascending. The rule of
    `ppo.checkpoint.complete_windows` (meta.json is written last), without importing JAX."""
    root = run_dir / "checkpoints"
    try:
        entries = list(root.iterdir())
    except OSError:  # none, not a directory, a symlink loop, no permission: no checkpoints
        return []
    # (ASCII digits only: "²".isdigit() is True and int() of it fails; at most 18 of them)
    return sorted(
        int(p.name)
        for p in entries
        if p.name.isascii() and p.name.isdigit() and len(p.name) <= 18 and _complete(p)
    )


def _complete(checkpoint: Path) -> bool:
    try:
        return (checkpoint / "meta.json").is_file()
    except OSError:
        return False


def windows(run_dir: Path) -> list[dict]:
    """The replayable windows, newest first: `{window_id, env_steps, policy, replays}`
    (`replays` as `views.replays_from_record`; a window without an eval record is left
    out, as its replay has no seeds to offer)."""
    out = []
    for wid in reversed(complete_checkpoints(run_dir)):
        try:
            record = records.read_eval(run_dir, wid)
        except (OSError, ValueError):
            record = None  # unreadable or half-written: not offered
        if not record:
            continue
        env_steps = record.get("env_steps")
        policy = record.get("policy")
        out.append(
            {
                "window_id": wid,
                "env_steps": views.as_int(env_steps),  # (2**80 is no JSON a browser reads)
                "policy": policy if policy in ("sampled", "greedy") else None,
                "replays": views.replays_from_record(record),
            }
        )
    return out


def is_replayable(runs_dir: Path, run_id: str, window_id: int) -> bool:
    """True when the local run `run_id` has a complete checkpoint of `window_id`."""
    path = records.run_dir(runs_dir, run_id)
    return path is not None and (path / "checkpoints" / str(int(window_id)) / "meta.json").is_file()
