"""A/B of the window program at two git revisions, in one process, calls alternated.

    python -m benchmarks.ab_window --base REV [--num-envs 8192] [--repeats 6]
        [--set KEY=VALUE] [--out artifacts/throughput/ab-window.json]

Run-to-run spread on a 2-core box (~5 %) hides changes of a few per cent when each
revision runs in its own process. Here the `ppo` package of `--base` (from `git archive`)
is imported as `ppo_base` next to the working tree's `ppo`; both compile the default
config's window program (K = updates_per_window updates per call, runner donated, as
training runs it) on the same envs count, and their calls alternate (A B, B A, ...) so that
drift hits both alike. `envjax` is the working tree's for both: the A/B covers the trainer.
Reported: each side's median CPU and wall seconds per update over `--repeats` calls after
one untimed call, the ratios base / working tree, each pair's ratio, and the matmul and
copy ceilings measured in the same process (quick level).
"""

from __future__ import annotations

import io
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import cli
from profiler.report import write_json
from profiler.system import REPO_ROOT

# `from ppo.x import`, `from ppo import`, `import ppo.x`: the base package's own imports.
_IMPORT = re.compile(r"^(\s*)(from|import) ppo(?=[.\s])", re.M)


def export_base(rev: str, into: Path) -> Path:
    """`ppo/` at git revision `rev` written to `into/ppo_base/`, its imports of `ppo`
    renamed; ValueError for a revision git does not know."""
    try:
        tar = subprocess.run(
            ["git", "archive", "--format=tar", rev, "ppo"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except subprocess.CalledProcessError as e:
        msg = e.stderr.decode(errors="replace").strip().splitlines()
        raise ValueError(f"--base {rev!r}: {msg[-1] if msg else 'git archive failed'}") from e
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        for m in tf.getmembers():
            if not m.isfile() or not m.name.endswith(".py"):
                continue
            src = tf.extractfile(m)
            assert src is not None
            text = _IMPORT.sub(r"\1\2 ppo_base", src.read().decode())
            dest = into / "ppo_base" / Path(m.name).relative_to("ppo")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text)
    return into / "ppo_base"


def measure(
    window_mods: dict[str, ModuleType],
    config_mods: dict[str, ModuleType],
    sets: dict[str, Any],
    num_envs: int,
    repeats: int,
    say: Any,
) -> dict:
    """Alternate the window programs of each side; medians per update and ratios."""
    import jax

    from envjax import N_ACTIONS, OBS_DIM, CaravanEnv
    from profiler import ceiling as ceiling_mod

    ceil = ceiling_mod.measure("quick", 3)
    env = CaravanEnv()
    progs: dict[str, list[Any]] = {}
    k = batch = 0
    for side, w in window_mods.items():
        tc = config_mods[side].TrainConfig(num_envs=num_envs, **sets)
        der = tc.derived(1)
        mesh = w.make_mesh(1)
        runner = w.init_runner(tc, der, env, env.default_params, mesh, OBS_DIM, N_ACTIONS)
        fn = w.make_window_fn(tc, der, env, env.default_params, mesh, runner, N_ACTIONS)
        t0 = time.perf_counter()
        runner, stats = fn(runner)
        jax.block_until_ready(stats)
        say(f"{side}: compiled and ran once in {time.perf_counter() - t0:.1f} s")
        progs[side] = [fn, runner]
        k, batch = tc.updates_per_window, tc.num_envs * tc.rollout_steps
    cpu: dict[str, list[float]] = {s: [] for s in progs}
    wall: dict[str, list[float]] = {s: [] for s in progs}
    order = list(progs)
    for i in range(repeats):
        for side in order if i % 2 == 0 else order[::-1]:
            fn, runner = progs[side]
            c0, t0 = time.process_time(), time.perf_counter()
            runner, stats = fn(runner)
            jax.block_until_ready(stats)
            wall[side].append(time.perf_counter() - t0)
            cpu[side].append(time.process_time() - c0)
            progs[side][1] = runner
            say(f"{side}: {cpu[side][-1] / k * 1e3:,.0f} CPU ms per update")
    sides = {
        s: {
            "cpu_s_per_update_p50": statistics.median(cpu[s]) / k,
            "s_per_update_p50": statistics.median(wall[s]) / k,
            "env_steps_per_cpu_s": batch * k / statistics.median(cpu[s]),
            "env_steps_per_s": batch * k / statistics.median(wall[s]),
            "cpu_s_samples": cpu[s],
            "wall_s_samples": wall[s],
        }
        for s in progs
    }
    return {
        "sides": sides,
        "ratio_cpu_base_over_tree": sides["base"]["cpu_s_per_update_p50"]
        / sides["tree"]["cpu_s_per_update_p50"],
        "ratio_wall_base_over_tree": sides["base"]["s_per_update_p50"]
        / sides["tree"]["s_per_update_p50"],
        "pair_ratios_cpu": [b / t for b, t in zip(cpu["base"], cpu["tree"], strict=True)],
        "updates_per_call": k,
        "ceiling": ceil,
        "load_average_end": list(os.getloadavg()),
        "backend": jax.default_backend(),
    }


def main(argv: list[str] | None = None) -> int:
    p = cli.parser("python -m benchmarks.ab_window", __doc__)
    p.add_argument("--base", required=True, help="git revision to compare the tree with")
    p.add_argument("--out", default=None, help="also write the result as JSON here")
    a = p.parse_args(argv)
    tc = cli.config_from_args(a, out=a.out)  # exits 2 with one line on a bad value
    sets = cli.parse_sets(a.set)

    def say(m: str) -> None:
        print(f"ab_window: {m}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="ab-window-") as tmp:
        try:
            export_base(a.base, Path(tmp))
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        sys.path.insert(0, tmp)
        import importlib

        import ppo.config
        import ppo.window

        mods = {"base": importlib.import_module("ppo_base.window"), "tree": ppo.window}
        cfgs = {"base": importlib.import_module("ppo_base.config"), "tree": ppo.config}
        out = measure(mods, cfgs, sets, tc.num_envs, a.repeats, say)
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout.strip()
    out = {"base": a.base, "tree_head": head, "num_envs": tc.num_envs, "set": sets, **out}
    s = out["sides"]
    print(
        f"base {a.base}: {s['base']['cpu_s_per_update_p50'] * 1e3:,.0f} CPU ms per update; "
        f"tree ({head}+): {s['tree']['cpu_s_per_update_p50'] * 1e3:,.0f}; base / tree "
        f"{out['ratio_cpu_base_over_tree']:.3f}x per CPU-s, "
        f"{out['ratio_wall_base_over_tree']:.3f}x wall ({a.repeats} calls each, alternated; "
        f"matmul ceiling {out['ceiling']['matmul']['flops_per_sec']['p50'] / 1e9:.0f} GFLOP/s)"
    )
    if a.out:
        write_json(a.out, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
