"""Replays play exactly the episodes the evaluation scored (issue 14, items 2 and 4): the
real tiny run's checkpoints, a real uvicorn service and a real websocket."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import httpx
import websockets
from svc_env import REAL_RUN
from svc_server import running_service

from envjax.constants import N_ACTIONS


async def _replay(url: str) -> tuple[list[dict], int | None, str | None]:
    messages = []
    async with websockets.connect(url, open_timeout=60, close_timeout=10) as ws:
        try:
            async for raw in ws:
                messages.append(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
    return messages, ws.close_code, ws.close_reason


def test_replay__best_median_worst_reproduce_the_eval_returns_to_the_cent(
    real_runs: Path, tmp_path: Path
) -> None:
    run = real_runs / REAL_RUN
    window = json.loads((run / "run.json").read_text())["last_checkpoint"]
    record = json.loads((run / "eval" / f"{window}.json").read_text())
    assert record["policy"] == "sampled"  # the trainer's default: the case of the issue
    assert [r["rank"] for r in record["replays"]] == ["best", "median", "worst"]
    with running_service(real_runs, tmp_path / "cache", tmp_path / "svc.log", {}) as base:
        ws = base.replace("http://", "ws://") + f"/ws/replay/{REAL_RUN}?iteration={window}"
        for scored in record["replays"]:
            msgs, code, reason = asyncio.run(_replay(f"{ws}&seed={scored['seed']}&pace_ms=0"))
            assert code == 1000, reason
            start, end = msgs[0], msgs[-1]
            assert start["policy"] == "sampled" and start["rank"] == scored["rank"]
            assert start["eval_return"] == scored["return"]
            assert start["label"] == (
                f"sampled policy, seed {scored['seed']}, eval return {scored['return']:.1f}"
            )
            assert round(end["episode"]["return"], 2) == round(scored["return"], 2), scored
            assert end["episode"]["length"] == scored["length"]
            assert end["episode"]["survived"] == scored["survived"]
            # the episode the evaluation played, action by action (its recorded actions)
            assert [m["action"]["action"] for m in msgs[1:-1]] == scored["actions"]
        # the iteration drill-down says the same, for the web page
        it = httpx.get(f"{base}/api/local/runs/{REAL_RUN}/iterations/{window}").json()
        assert it["replayable"] is True
        assert it["eval"]["policy"] == "sampled"
        # the API's replays are the record's without the (long) action lists
        scored_only = [{k: v for k, v in r.items() if k != "actions"} for r in record["replays"]]
        assert it["eval"]["replays"] == scored_only
        # another policy than the evaluated one is labelled as such, with no eval return
        seed = record["replays"][0]["seed"]
        msgs, code, _ = asyncio.run(_replay(f"{ws}&seed={seed}&pace_ms=0&policy=greedy"))
        assert code == 1000 and msgs[0]["label"] == f"greedy policy, seed {seed}"
        assert msgs[0]["rank"] is None and msgs[0]["eval_return"] is None


def test_replayable__lists_only_windows_with_a_checkpoint(real_runs: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(real_runs / REAL_RUN, runs / REAL_RUN)
    kept = sorted(int(p.name) for p in (runs / REAL_RUN / "checkpoints").iterdir())
    assert len(kept) >= 2
    pruned = kept[0]
    shutil.rmtree(runs / REAL_RUN / "checkpoints" / str(pruned))  # as the trainer prunes
    with running_service(runs, tmp_path / "cache", tmp_path / "svc.log", {}) as base:
        body = httpx.get(f"{base}/api/local/runs/{REAL_RUN}/replayable").json()
        listed = [w["window_id"] for w in body["windows"]]
        assert listed == sorted(kept[1:], reverse=True)
        assert all(w["policy"] == "sampled" and len(w["replays"]) == 3 for w in body["windows"])
        it = httpx.get(f"{base}/api/local/runs/{REAL_RUN}/iterations/{pruned}").json()
        assert it["replayable"] is False
        ws = base.replace("http://", "ws://")
        _, code, reason = asyncio.run(
            _replay(f"{ws}/ws/replay/{REAL_RUN}?iteration={pruned}&pace_ms=0")
        )
        assert code == 4404 and "replayable" in reason
        assert httpx.get(f"{base}/api/local/runs/nosuchrun/replayable").status_code == 404


def test_replay__plays_the_recorded_actions_not_a_recomputation(
    real_runs: Path, tmp_path: Path
) -> None:
    """The replay steps the env with the eval record's actions (exact on any machine), not
    with actions the checkpoint recomputes one row at a time (rounded differently from the
    evaluation's batch): a record whose actions the policy would not play shows which."""
    runs = tmp_path / "runs"
    shutil.copytree(real_runs / REAL_RUN, runs / REAL_RUN)
    window = json.loads((runs / REAL_RUN / "run.json").read_text())["last_checkpoint"]
    path = runs / REAL_RUN / "eval" / f"{window}.json"
    record = json.loads(path.read_text())
    scored = record["replays"][0]
    played = scored["actions"]
    # Wait (0) every day but one: no policy sample of this run plays that
    assert played.count(0) < len(played) - 1
    forged = [0] * len(played)
    forged[len(played) // 2] = played[len(played) // 2]
    scored["actions"] = forged
    path.write_text(json.dumps(record))
    with running_service(runs, tmp_path / "cache", tmp_path / "svc.log", {}) as base:
        ws = base.replace("http://", "ws://") + f"/ws/replay/{REAL_RUN}?iteration={window}"
        url = f"{ws}&seed={scored['seed']}&pace_ms=0"
        msgs, code, reason = asyncio.run(_replay(url))
        assert code == 1000, reason
        steps = [m["action"]["action"] for m in msgs[1:-1]]
        n = min(len(steps), len(forged))
        assert n > 1 and steps[:n] == forged[:n]
        assert played[:n] != forged[:n]  # (what the policy plays would have failed this)
        # a damaged action list is not used: the policy plays (as for a record before it)
        scored["actions"] = [*forged[:-1], N_ACTIONS]
        path.write_text(json.dumps(record))
        msgs, code, reason = asyncio.run(_replay(url))
        assert code == 1000, reason
        steps = [m["action"]["action"] for m in msgs[1:-1]]
        n = min(len(steps), len(forged))
        assert steps[:n] != forged[:n]
