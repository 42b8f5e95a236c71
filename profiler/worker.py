"""Subprocess entry: run one profiler job in a fresh process and write its result as JSON.

Each mode (and the ceiling) runs in its own process so that its peak RSS, CPU time and
compile caches are its own. Usage: `python -m profiler.worker SPEC_JSON RESULT_PATH`.
The result is `{"ok": true, "result": ..., "system": ...}` or
`{"ok": false, "kind": "config"|"missing"|"crash", "error": "..."}`.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from profiler.config import ConfigError
from profiler.system import jax_info, source_digests


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
        result = runner(spec["mode"])(spec, _progress(spec["mode"]))
        result["details"]["source_digests"] = digests
    elif spec["job"] == "vs-peer":
        from profiler.modes import vs_peer

        result = vs_peer.run(spec, _progress("vs-peer"))
    else:
        raise ValueError(f"unknown job {spec['job']!r}")
    return {"ok": True, "result": result, "system": jax_info()}


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
