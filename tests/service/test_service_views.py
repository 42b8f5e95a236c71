"""Pure pieces: time spelling, W&B histogram mapping, the shim's marker."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics_service import views
from analytics_service.wandb_shim import parse_marker


def test_views__times_from_both_sources_compare_equal() -> None:
    assert views.parse_time("2026-11-20T12:00:00.123Z") == views.parse_time("2026-11-20T12:00:00")
    assert views.parse_time("not a time") is None
    ts = datetime(2026, 11, 20, 12, 0, 1, 500000, tzinfo=UTC).timestamp()
    assert views.epoch_to_iso_ms(ts) == "2026-11-20T12:00:01.500Z"
    row = views.window_row({"timestamp": "2026-11-20T12:00:01.500000+00:00"})
    assert row["timestamp"] == "2026-11-20T12:00:01.500Z"


def test_views__wandb_histogram_and_missing_eval() -> None:
    row = {
        "eval/return_hist": {"_type": "histogram", "values": [1, 2], "bins": [0, 1, 2]},
        "eval/profit_hist": {"_type": "histogram", "values": [3], "bins": [0.0, 5.0]},
        "eval/actions/wait": 0.5,
    }
    ev = views.eval_from_wandb_row(row)
    assert ev["histograms"]["return"] == {"bin_edges": [0.0, 1.0, 2.0], "counts": [1, 2]}
    assert ev["action_mix"] == {"wait": 0.5, "travel": None, "buy": None, "sell": None}
    assert views.eval_from_wandb_row({"window_id": 1}) is None
    assert views.pick({"a": float("nan"), "b": "Infinity"}, ("a", "b", "c")) == {
        "a": None,
        "b": None,
        "c": None,
    }


def test_shim__marker_round_trip() -> None:
    f = parse_marker("POST x: caravan-upstream kind=rate_limited status=429 retry_after=7 ...")
    assert (f.kind, f.status, f.retry_after_s) == ("rate_limited", 429, 7)
    assert parse_marker("caravan-upstream kind=timeout").kind == "timeout"
    assert parse_marker("giving up after 2 attempt(s)") is None


def test_views__runs_table_fields_and_scored_replays_are_typed() -> None:
    # The runs table's fields and an eval record's scored replays: each value in its type,
    # null when the record's cannot be represented (as every other record value).
    info = views.run_info(
        run_id="r",
        name="n",
        state="running",
        created_at=None,
        updated_at=None,
        last_window={"window_id": 2.0, "env_steps": 2**60, "wall_time_s": float("inf")},
        config={"lr": "0.1", "num_envs": 8.0},
        kpis={"sps": "NaN", "env_steps": 5},
        group=["g"],
        seed_index=True,
        code_version="\ud800x",
    )
    assert (info["window_id"], info["env_steps"], info["duration_s"]) == (2, None, None)
    assert (info["group"], info["seed_index"], info["code_version"]) == (None, None, "?x")
    assert info["config"]["lr"] is None and info["config"]["num_envs"] == 8
    assert info["kpis"]["sps"] is None and info["kpis"]["env_steps"] == 5
    record = {
        "policy": ["greedy"],
        "replays": [
            {"rank": "best", "seed": 7.0, "return": "1.5", "survived": 1, "length": 1e300},
            {"rank": "median", "seed": -1, "return": 1.0},  # not an episode seed: left out
            {"rank": ["worst"], "seed": 3},  # unknown rank: left out
            "not an object",
        ],
    }
    assert views.replays_from_record(record) == [
        {
            "rank": "best",
            "seed": 7,
            "return": None,
            "profit": None,
            "survived": None,
            "length": None,
        }
    ]
    assert views.replays_from_record({"replays": {"best": 1}}) == []
    assert views.eval_from_record(record)["policy"] is None
