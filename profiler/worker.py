"""Subprocess entry: run one profiler job in a fresh process and write its result as JSON.

Each mode (and the ceiling) runs in its own process so that its peak RSS, CPU time and
compile caches are its own. Usage: `python -m profiler.worker SPEC_JSON RESULT_PATH`.
The result is `{"ok": true, "result": ..., "system": ...}` or
`{"ok": false, "kind": "config"|"missing"|"crash", "error": "..."}`.

Under `python -m ppo.launch --module profiler` the profiler CLI passes the launch in
DIST_ENV; a trainer-mode worker then joins it (ppo.distributed) before touching the backend,
so N workers (one per profiler process) train as one multi-process run, and process 0's
result carries every process's figures (`details.processes`).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

from profiler.config import ConfigError
from profiler.system import jax_info, source_digests

DIST_ENV = "CARAVAN_PROFILER_LAUNCH"  # JSON of a ppo.distributed.Plan, set by profiler.cli
TRAINER_MODES = ("trainer", "trainer+eval")


def _progress(label: str):
    def emit(msg: str) -> None:
        print(f"  [{label}] {msg}", file=sys.stderr, flush=True)

    return emit


def run_job(spec: dict) -> dict:
    """Run the job that `spec` describes and return its result payload."""
    if spec["job"] == "ceiling":
        from profiler import ceiling

        result = ceiling.measure(spec["level"], spec["repeats"], _progress("ceiling"))
    elif spec["job"] == "mode":
        from profiler.modes import runner

        digests = source_digests()  # the code this process imports (others edit the tree)
        launch = os.environ.get(DIST_ENV) if spec["mode"] in TRAINER_MODES else None
        if launch:
            from ppo import distributed

            distributed.initialize(distributed.Plan(**json.loads(launch)))
        result = runner(spec["mode"])(spec, _progress(spec["mode"]))
        result["details"]["source_digests"] = digests
        if launch:
            _merge_processes(result)
            distributed.finish()
    elif spec["job"] == "vs-peer":
        from profiler.modes import vs_peer

        result = vs_peer.run(spec, _progress("vs-peer"))
    else:
        raise ValueError(f"unknown job {spec['job']!r}")
    return {"ok": True, "result": result, "system": jax_info()}


def _merge_processes(result: dict) -> None:
    """Per-process figures of a multi-process trainer run, gathered into `result` (all).

    Steps are global (all processes' envs) in the run's steps/s; `cpu` becomes the sum over
    processes, so steps per CPU-second stays comparable with a single-process report.
    """
    import socket

    import jax

    from ppo import distributed
    from profiler.stats import usable_cores

    mine = {
        "process_id": jax.process_index(),
        "host": socket.gethostname(),
        "local_devices": jax.local_device_count(),
        "envs": result["num_envs"] * jax.local_device_count() // jax.device_count(),
        "steps_per_sec_p50": result["steps_per_sec"]["p50"]
        * jax.local_device_count()
        / jax.device_count(),
        "call_seconds_p50": result["call_seconds"]["p50"],
        "process_cpu_s": result["cpu"]["process_cpu_s"],
        "usable_cores": usable_cores(),
        "peak_rss_bytes": result["peak_rss_bytes"],
        "phase_seconds_p50": result["details"].get("phase_seconds_p50"),
    }
    procs = [json.loads(v) for v in distributed.gather("profiler/figures", json.dumps(mine))]
    cpu = result["cpu"]
    total_cpu = sum(p["process_cpu_s"] for p in procs)
    cores = sum({p["host"]: p["usable_cores"] for p in procs}.values())
    steps = result["steps_per_call"] * len(result["details"]["timed_windows"])
    cpu.update(
        process_cpu_s=total_cpu,
        usable_cores=cores,
        utilisation=total_cpu / (cpu["wall_s"] * cores) if cpu["wall_s"] > 0 else None,
        steps_per_cpu_s=steps / total_cpu if total_cpu > 0 else None,
    )
    result["details"].update(
        num_processes=len(procs),
        process_id=mine["process_id"],
        processes=procs,
        cpu_note="cpu sums every process; steps/s are global (all processes' envs)",
    )


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    out = Path(argv[1])
    try:
        payload = run_job(spec)
    except ModuleNotFoundError as exc:
        payload = {"ok": False, "kind": "missing", "error": f"cannot import {exc.name}: {exc}"}
    except ConfigError as exc:
        # e.g. the trainer's config rejecting inconsistent sizes before anything compiles.
        payload = {"ok": False, "kind": "config", "error": str(exc)}
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        payload = {"ok": False, "kind": "crash", "error": f"{type(exc).__name__}: {exc}"}
    out.write_text(json.dumps(payload))
    return 0 if payload["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
