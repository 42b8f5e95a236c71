"""Checkpoints with flax.serialization: checkpoints/<window_id>/ under a run directory.

A checkpoint holds `state.msgpack` (params, optimiser state, env state, last observations,
RNG keys, next update index: everything to continue bit-exactly), `params.msgpack` (params
alone, for `ppo.policy.load`) and `meta.json`, written last: a directory with meta.json is
complete. It is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from flax import serialization

from ppo.records import write_json_atomic


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def save(run_dir: Path, window_id: int, state: Any, params: Any, meta: dict[str, Any]) -> Path:
    """Write checkpoint `window_id` (state and params as host numpy trees)."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{window_id}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    state_bytes = serialization.to_bytes(state)
    _write_bytes(tmp / "state.msgpack", state_bytes)
    _write_bytes(tmp / "params.msgpack", serialization.to_bytes(params))
    write_json_atomic(
        tmp / "meta.json",
        {**meta, "window_id": window_id, "state_sha256": hashlib.sha256(state_bytes).hexdigest()},
    )
    final = root / str(window_id)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def complete_windows(run_dir: Path) -> list[int]:
    """window_ids of complete checkpoints, ascending."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(
        int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / "meta.json").is_file()
    )


def read_meta(run_dir: Path, window_id: int) -> dict[str, Any]:
    """meta.json of a checkpoint; FileNotFoundError when it is not complete."""
    p = Path(run_dir) / "checkpoints" / str(window_id) / "meta.json"
    if not p.is_file():
        raise FileNotFoundError(f"no complete checkpoint for window {window_id} in {run_dir}")
    return json.loads(p.read_text(encoding="utf-8"))


def load_state(run_dir: Path, window_id: int, template: Any) -> Any:
    """The state tree of checkpoint `window_id`, shaped like `template`; checks its hash."""
    meta = read_meta(run_dir, window_id)
    data = (Path(run_dir) / "checkpoints" / str(window_id) / "state.msgpack").read_bytes()
    if hashlib.sha256(data).hexdigest() != meta["state_sha256"]:
        raise ValueError(f"checkpoint {window_id} in {run_dir} is corrupt (hash mismatch)")
    return serialization.from_bytes(template, data)


def load_params(run_dir: Path, window_id: int, template: Any) -> Any:
    """Params of checkpoint `window_id`, shaped like `template`."""
    read_meta(run_dir, window_id)
    data = (Path(run_dir) / "checkpoints" / str(window_id) / "params.msgpack").read_bytes()
    return serialization.from_bytes(template, data)


def prune(run_dir: Path, keep_last: int, best: int | None) -> None:
    """Delete complete checkpoints except the last `keep_last` and `best`; stale temps too."""
    root = Path(run_dir) / "checkpoints"
    done = complete_windows(run_dir)
    keep = set(done[-keep_last:]) | ({best} if best is not None else set())
    for w in done:
        if w not in keep:
            shutil.rmtree(root / str(w), ignore_errors=True)
    for p in root.glob(".tmp-*"):
        shutil.rmtree(p, ignore_errors=True)
