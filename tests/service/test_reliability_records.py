"""Issue 13 row 3: any field of any record file, of any type or value, from either source,
never a 500; a value that cannot be represented is null; /api/local and /api/wandb give
identical JSON for the same records. Hypothesis writes the record files."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from svc_contract import validate_response
from svc_env import API_KEY, ENTITY, PROJECT
from svc_records import write_run

from analytics_service.keys import CONFIG_SUBSET, INT_KEYS, STR_KEYS
from analytics_service.wandb_stub import StubWandb, load_runs

# Every value a JSON parser can hand back, and then some: NaN and ±Infinity (Python's json
# reads and writes them), huge integers, wrong types, nesting.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**53, max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1.5, 1e308, -0.0]),
    st.text(max_size=8),
    st.sampled_from(["NaN", "Infinity", "2026-11-29T00:00:00Z", "9999-12-31T23:59:59-05:00"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=4,
)

ENDPOINTS = [
    ("/api/{source}/runs", "/api/{s}/runs?limit=50"),
    ("/api/{source}/runs/{run_id}/summary", "/api/{s}/runs/{r}/summary"),
    ("/api/{source}/runs/{run_id}/history", "/api/{s}/runs/{r}/history"),
    ("/api/{source}/runs/{run_id}/iterations", "/api/{s}/runs/{r}/iterations?limit=50"),
]
_ids = itertools.count()


def _fuzz_row(data: st.DataObject, row: dict, keep: tuple[str, ...]) -> dict:
    """`row` with some values replaced by any JSON, some keys dropped, extra keys added."""
    out = {}
    for k, v in row.items():
        if k in keep:
            out[k] = v
        else:
            choice = data.draw(st.sampled_from(["keep", "any", "drop"]))
            if choice == "any":
                out[k] = data.draw(values)
            elif choice == "keep":
                out[k] = v
    out.update(data.draw(st.dictionaries(st.text(max_size=6), values, max_size=2)))
    return out


def _rewrite(path: Path, data: st.DataObject, *, structural: bool) -> None:
    """Fuzz every record file of the run at `path`. With `structural`, also the fields the
    files' layout rests on (window ids, update ranges, state, times); without, only values."""
    # (the layout: W&B steps come from window and update ids, a W&B window row is one with
    # wall_time_s, and W&B's summary takes env_steps from update rows when a window lacks it)
    layout = ("window_id", "env_steps", "first_update", "last_update", "wall_time_s")
    keep_w = () if structural else layout
    keep_u = () if structural else ("window_id", "update", "env_steps")
    for name, keep in (("windows.jsonl", keep_w), ("updates.jsonl", keep_u)):
        rows = [json.loads(line) for line in (path / name).read_text().splitlines()]
        rows = [_fuzz_row(data, r, keep) for r in rows]
        if structural:
            rows += data.draw(st.lists(values, max_size=2))  # lines that are not objects
        (path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta = json.loads((path / "run.json").read_text())
    if structural:  # the runs table's fields, to be fuzzed below
        meta.update(group="g", seed_index=0, code_version="abc1234")
    keep_m = () if structural else ("state", "created_at", "updated_at", "name", "config")
    meta = _fuzz_row(data, meta, keep_m)
    config = meta.get("config")
    if isinstance(config, dict):
        meta["config"] = _fuzz_row(data, config, ())
    if not structural:
        meta["config"].update(
            data.draw(st.fixed_dictionaries({}, optional={k: values for k in CONFIG_SUBSET}))
        )
    (path / "run.json").write_text(json.dumps(meta))
    for ev_file in (path / "eval").glob("*.json"):
        ev = json.loads(ev_file.read_text())
        if structural:
            # the scored replays and the key derivation a replay's label rests on
            ev["replays"] = [
                {"rank": r, "seed": 1_000_003, "return": 1.5, "profit": 2.0, "survived": True}
                for r in ("best", "median", "worst")
            ]
            ev["replays"] = [_fuzz_row(data, r, ()) for r in ev["replays"]]
            ev = _fuzz_row(data, ev, ())
            if data.draw(st.booleans()):
                ev = data.draw(values)  # not even an object
        else:
            ev["action_mix"] = _fuzz_row(data, ev["action_mix"], ())
        ev_file.write_text(json.dumps(ev))


def _comparable(body: dict) -> dict:
    # Without the envelope, and without row timestamps: on W&B a row's timestamp is W&B's own
    # log time (docs/API.md).
    body = {k: v for k, v in body.items() if k not in ("source", "fetched_at", "stale")}
    rows = body.get("rows") or body.get("iterations") or ([body["row"]] if "row" in body else [])
    for row in rows:
        row.pop("timestamp")
    return body


def _no_nan(obj) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_no_nan(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_no_nan(v) for v in obj)
    return True


@pytest.fixture(scope="module")
def fuzz_stub():
    server = StubWandb({}, entity=ENTITY, project=PROJECT, api_key=API_KEY).start()
    yield server
    server.stop()


@settings(
    max_examples=15,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_records__any_value_anywhere_is_never_a_500(make_client, tmp_path: Path, data) -> None:
    runs = tmp_path / f"runs{next(_ids)}"
    path = write_run(runs, "fz", windows=3, updates_per_window=2, state="running")
    _rewrite(path, data, structural=True)
    client = make_client(wandb=False, runs_dir=runs, local_memo_s=0)
    openapi = client.get("/openapi.json").json()
    for template, url in ENDPOINTS:
        r = client.get(url.format(s="local", r="fz"))
        assert r.status_code == 200, (url, r.text)
        validate_response(openapi, "GET", template, 200, r.json())
    # the runs table's group filter, a keys-filtered min-max history, the replayable list
    # and the CSV export read the same records
    for template, url in (
        ("/api/{source}/runs", "/api/local/runs?group=g"),
        ("/api/{source}/runs/{run_id}/history", "/api/local/runs/fz/history?keys=sps&max_points=2"),
        ("/api/{source}/runs/{run_id}/replayable", "/api/local/runs/fz/replayable"),
    ):
        r = client.get(url)
        assert r.status_code == 200, (url, r.text)
        validate_response(openapi, "GET", template, 200, r.json())
    r = client.get("/api/local/runs/fz/windows.csv")
    assert r.status_code == 200, r.text
    header, *rows = csv.reader(io.StringIO(r.text))
    for row in rows:  # every number finite, every int an int, unrepresentable ones empty
        for key, cell in zip(header, row, strict=True):
            if cell and key in INT_KEYS:
                int(cell)
            elif cell and key not in STR_KEYS:
                assert math.isfinite(float(cell)), (key, cell)
    for w in range(4):
        r = client.get(f"/api/local/runs/fz/iterations/{w}")
        assert r.status_code in (200, 404), r.text
        validate_response(
            openapi,
            "GET",
            "/api/{source}/runs/{run_id}/iterations/{iteration}",
            r.status_code,
            r.json(),
        )
    shutil.rmtree(runs)


@settings(
    max_examples=12,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking takes many minutes here
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_records__both_sources_give_identical_json_for_any_values(
    make_client, tmp_path: Path, fuzz_stub, data
) -> None:
    run_id = f"fz{next(_ids)}"  # a new id per example: no cache or memo carries over
    runs = tmp_path / f"runs_{run_id}"
    path = write_run(runs, run_id, windows=3, updates_per_window=2, state="finished")
    _rewrite(path, data, structural=False)
    fuzz_stub.runs = load_runs(runs)
    client = make_client(
        runs_dir=runs, cache_dir=runs / "cache", wandb_base_url=fuzz_stub.url, local_memo_s=0
    )
    urls = [u for _, u in ENDPOINTS] + [f"/api/{{s}}/runs/{{r}}/iterations/{w}" for w in range(3)]
    for url in urls:
        local = client.get(url.format(s="local", r=run_id))
        wandb = client.get(url.format(s="wandb", r=run_id))
        assert local.status_code == wandb.status_code == 200, (url, local.text, wandb.text)
        a, b = (_comparable(x.json()) for x in (local, wandb))
        assert a == b, url
        assert _no_nan(a)
    shutil.rmtree(runs)


def test_records__the_issue_cases(make_client, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = write_run(runs, "inf", windows=2)
    meta = json.loads((path / "run.json").read_text())
    cases = {
        "total_steps": float("inf"),
        "num_envs": 1.5,
        "seed": 2**80,
        "lr": "3e-4",
        "hidden": 64.0,
        "action_masking": 1,
        "rollout_steps": True,
    }
    meta["config"].update(cases)
    meta["name"] = 7
    (path / "run.json").write_text(json.dumps(meta))
    client = make_client(wandb=False, runs_dir=runs)
    r = client.get("/api/local/runs/inf/summary", headers={"Origin": "http://localhost:3000"})
    assert r.status_code == 200, r.text
    config = r.json()["run"]["config"]
    assert config["total_steps"] is None and config["num_envs"] is None
    assert config["seed"] is None and config["lr"] is None and config["rollout_steps"] is None
    assert config["hidden"] == 64 and config["action_masking"] is None
    assert r.json()["run"]["name"] is None


@pytest.mark.parametrize(
    "content",
    [b"[1, 2, 3]", b"7", b'"text"', b"[" * 100_000, b'{"a": 1' + b"0" * 5000 + b"}"],
    ids=["list", "number", "string", "deep", "huge_int"],
)
def test_records__run_json_that_is_no_object_is_a_502_and_unlisted(
    make_client, tmp_path: Path, content: bytes
) -> None:
    runs = tmp_path / "runs"
    path = write_run(runs, "odd", windows=2)
    (path / "run.json").write_bytes(content)
    write_run(runs, "good", windows=2)
    client = make_client(wandb=False, runs_dir=runs)
    r = client.get("/api/local/runs/odd/summary")
    if content.startswith(b'{"a"'):  # a huge integer is a value: null, not a broken file
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_error"
    listed = [x["run_id"] for x in client.get("/api/local/runs").json()["runs"]]
    assert listed == (["good", "odd"] if content.startswith(b'{"a"') else ["good"])
