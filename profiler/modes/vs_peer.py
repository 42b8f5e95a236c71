"""`--vs-peer`: ppo's compiled window against the textbook PPO loop in `benchmarks/peer.py`.

Both run in this one process at the trainer mode's config (ppo's defaults, `--set`
overrides, `--num-envs`, window sizes): compiled first, one untimed call each, then
`--repeats` calls each, alternating, so load swings fall on both. The peer lives under
`benchmarks/` (a repository folder, not in the wheel), so this mode needs a checkout.
"""

from __future__ import annotations

from collections.abc import Callable

from profiler.modes.trainer import train_config


def run(spec: dict, progress: Callable[[str], None]) -> dict:
    """Alternate the two compiled programs; the report's `peer` object."""
    import tempfile

    try:
        from benchmarks.vs_peer import alternate
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "--vs-peer needs the repository's benchmarks/ folder (run from a checkout)",
            name=exc.name,
        ) from exc

    with tempfile.TemporaryDirectory(prefix="profiler-peer-") as tmp:
        cfg = train_config(spec, with_eval=False, run_dir=tmp, windows=1)
    return alternate(cfg, int(spec["repeats"]), int(spec["warmup"]), progress)
