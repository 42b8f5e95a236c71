"""Run records written by hand to the letter of docs/RUN_RECORDS.md.

Used for source edge cases (running runs, torn lines, windows without eval) that a real
training run does not produce on demand. The main fixture is a real `ppo.train` run.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics_service.keys import UPDATE_KEYS, WINDOW_KEYS


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_run(
    runs_dir: Path,
    run_id: str,
    *,
    windows: int = 5,
    updates_per_window: int = 3,
    state: str = "finished",
    created: datetime | None = None,
    eval_every: int = 1,
    seed: int = 0,
    torn_tail: bool = False,
) -> Path:
    """Write one run's records; returns its directory."""
    rng = random.Random(seed)
    created = created or datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=UTC)
    path = runs_dir / run_id
    (path / "eval").mkdir(parents=True, exist_ok=True)
    num_envs, rollout = 16, 8
    steps_per_update = num_envs * rollout
    win_lines, upd_lines = [], []
    for w in range(windows):
        first = w * updates_per_window
        last = first + updates_per_window - 1
        for u in range(first, last + 1):
            row = {k: None for k in UPDATE_KEYS}
            row.update({"window_id": w, "update": u, "env_steps": (u + 1) * steps_per_update})
            for k in UPDATE_KEYS:
                if k.startswith(("loss/", "opt/")):
                    row[k] = round(rng.uniform(0, 1), 6)
            row["train/episodes"] = rng.randint(0, 3)
            if row["train/episodes"]:
                row["train/return_mean"] = rng.uniform(-5, 5)
                row["train/profit_mean"] = rng.uniform(-100, 100)
                row["train/survival_rate"] = rng.random()
                row["train/invalid_action_rate"] = rng.random() * 0.1
                row["train/episode_length_mean"] = rng.uniform(10, 360)
            upd_lines.append(row)
        evaluated = w % eval_every == 0
        row = {k: None for k in WINDOW_KEYS}
        row.update(
            {
                "window_id": w,
                "env_steps": (last + 1) * steps_per_update,
                "first_update": first,
                "last_update": last,
                "wall_time_s": 1.5 * (w + 1),
                "window_time_s": 1.5,
                "sps": 1234.5 + w,
                "compile_s": 4.2 if w == 0 else None,
                "timestamp": _iso(created + timedelta(seconds=1.5 * (w + 1))),
                "train/episodes": rng.randint(0, 5),
                "actions/wait": 0.25,
                "actions/travel": 0.25,
                "actions/buy": 0.25,
                "actions/sell": 0.25,
            }
        )
        for k in WINDOW_KEYS:
            if k.startswith(("loss/", "opt/")):
                row[k] = rng.uniform(0, 1)
        row["train/return_mean"] = rng.uniform(-5, 5)
        if evaluated:
            row.update(
                {
                    "eval/return_mean": rng.uniform(-5, 5),
                    "eval/return_p10": -6.0,
                    "eval/return_p90": 6.0,
                    "eval/profit_mean": rng.uniform(-50, 50),
                    "eval/survival_rate": 0.5,
                    "eval/invalid_action_rate": 0.01,
                }
            )
            edges = [-10 + i for i in range(21)]
            counts = [rng.randint(0, 5) for _ in range(20)]
            ev = {
                "window_id": w,
                "env_steps": row["env_steps"],
                "policy": "greedy",
                "episodes": sum(counts) or 1,
                "seeds": {"base": 1_000_000, "count": 64},
                "return_mean": row["eval/return_mean"],
                "return_p10": -6.0,
                "return_p90": 6.0,
                "profit_mean": row["eval/profit_mean"],
                "survival_rate": 0.5,
                "invalid_action_rate": 0.01,
                "episode_length_mean": 200.0,
                "histograms": {
                    "return": {"bin_edges": [float(e) for e in edges], "counts": counts},
                    "profit": {"bin_edges": [e * 100.0 for e in edges], "counts": counts[::-1]},
                },
                "action_mix": {"wait": 0.1, "travel": 0.2, "buy": 0.3, "sell": 0.4},
                "replay_seeds": [1_000_003, 1_000_017 + w, 1_000_042],
                "sampled": {
                    "return_mean": 0.0,
                    "profit_mean": 0.0,
                    "survival_rate": 0.0,
                    "invalid_action_rate": 0.0,
                },
            }
            (path / "eval" / f"{w}.json").write_text(json.dumps(ev))
        assert all(not isinstance(v, float) or math.isfinite(v) for v in row.values())
        win_lines.append(row)
    meta = {
        "schema_version": 1,
        "run_id": run_id,
        "name": f"synthetic {run_id}",
        "created_at": _iso(created),
        "updated_at": _iso(created + timedelta(seconds=1.5 * windows)),
        "state": state,
        "config": {
            "num_envs": num_envs,
            "rollout_steps": rollout,
            "updates_per_window": updates_per_window,
            "total_steps": windows * updates_per_window * steps_per_update,
            "epochs": 2,
            "minibatches": 2,
            "lr": 3e-4,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "clip": 0.2,
            "ent_coef": 0.01,
            "vf_coef": 0.5,
            "hidden": 64,
            "seed": seed,
            "action_masking": True,
            "num_seeds": 1,
            "eval_episodes": 64,
        },
        "wandb": None,
        "code_version": "unknown",
        "windows_completed": windows,
        "last_checkpoint": None,
        "best_checkpoint": None,
        "error": None,
    }
    (path / "run.json").write_text(json.dumps(meta))
    with (path / "windows.jsonl").open("w") as f:
        for row in win_lines:
            f.write(json.dumps(row) + "\n")
        if torn_tail:
            f.write('{"window_id": 99, "env_st')
    with (path / "updates.jsonl").open("w") as f:
        for row in upd_lines:
            f.write(json.dumps(row) + "\n")
    return path
