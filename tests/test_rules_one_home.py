"""Each shared rule has one definition that the rest import (docs/INTERFACES.md, "Where each
rule lives"): the action layout, the mask read from an observation, the lot cost, the JAX
tables, the W&B mapping and the JSON-lines reader."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envjax import CaravanEnv, action_mask_from_obs, tables
from envjax import constants as C
from envjax import reference as R
from ppo import metrics, records, wandb_mapping
from tools import gen_action_layout

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("envjax", "ppo", "profiler", "analytics_service", "infra")


def _product_sources() -> list[tuple[Path, str]]:
    return [(p, p.read_text()) for pkg in PRODUCT for p in sorted((ROOT / pkg).rglob("*.py"))]


# ---- the action layout ----


def test_action_groups__tile_every_action_once_and_decode_agrees() -> None:
    covered = [a for g in C.ACTION_GROUPS for a in range(g.first, g.first + g.size)]
    assert covered == list(range(C.N_ACTIONS))
    for g in C.ACTION_GROUPS:
        for i in range(g.size):
            kind, target, lot = C.decode_action(g.first + i)
            assert (kind, target, lot) == (g.kind, i if g.size > 1 else 0, g.lot)
    assert len(C.ACTION_LABELS) == C.N_ACTIONS
    assert C.ACTION_LABELS[C.A_SELLALL + C.N_GOODS - 1] == "Sell all Gems"
    assert metrics.KIND_NAMES == C.ACTION_KIND_NAMES


def test_action_layout__website_file_is_generated_from_the_table(tmp_path, monkeypatch) -> None:
    assert gen_action_layout.main(["--check"]) == 0, "run python -m tools.gen_action_layout"
    data = json.loads(gen_action_layout.TARGET.read_text())
    assert data["kinds"] == list(C.ACTION_KIND_NAMES)
    assert [g["first"] for g in data["groups"]] == [g.first for g in C.ACTION_GROUPS]
    # The check can fail: a stale copy is reported.
    stale = tmp_path / "action-layout.json"
    stale.write_text(json.dumps({**data, "n_actions": 70}))
    monkeypatch.setattr(gen_action_layout, "TARGET", stale)
    assert gen_action_layout.main(["--check"]) == 1


def test_action_layout__website_reads_the_generated_file_only() -> None:
    actions_ts = (ROOT / "web" / "lib" / "actions.ts").read_text()
    mix_tsx = (ROOT / "web" / "components" / "ActionMix.tsx").read_text()
    assert 'from "./action-layout.json"' in actions_ts
    # No hand-written offsets (9, 21, 33, 45, 57) or kind lists left beside the generated file.
    assert not re.search(r"\b(9|21|33|45|57)\b", actions_ts)
    assert '"wait", "travel"' not in actions_ts + mix_tsx
    assert "ACTION_KINDS" in mix_tsx
    palette = (ROOT / "web" / "lib" / "palette.ts").read_text()
    assert all(re.search(rf"\b{k}: \"#", palette) for k in C.ACTION_KIND_NAMES)


# ---- the mask read from an observation ----


def test_action_mask_from_obs__equals_the_env_mask_for_jax_numpy_and_reference_obs() -> None:
    env = CaravanEnv()
    obs, state = env.reset_from_seed(7)
    step = jax.jit(env.step)
    for a in (C.A_BUY10 + C.PROVISIONS, C.A_TRAVEL + 1, C.A_SELLALL + C.PROVISIONS, C.A_WAIT):
        want = np.asarray(env.action_mask(state))
        assert np.array_equal(np.asarray(action_mask_from_obs(obs)), want)
        assert np.array_equal(action_mask_from_obs(np.asarray(obs)), want)
        assert action_mask_from_obs(jnp.stack([obs, obs])).shape == (2, C.N_ACTIONS)
        obs, state, *_ = step(jax.random.key(0), state, jnp.int32(a))
    ref = R.ReferenceEnv(7)
    ref_obs, _ = ref.reset()
    assert action_mask_from_obs(ref_obs) == R.action_mask(ref.state)


def test_action_mask_from_obs__no_product_module_slices_the_mask_by_hand() -> None:
    # The kind of bug this guards: a copy of the rule that drifts (one copy masked with -inf).
    hand = re.compile(r"\[\s*(\.\.\.\s*,|:\s*,)?\s*:\s*(n_actions|N_ACTIONS|C\.N_ACTIONS|69)\s*\]")
    for path, text in _product_sources():
        assert not hand.search(text), f"{path}: use envjax.action_mask_from_obs"
        if "logits" in text:  # masking logits: the shared large finite negative, never -inf
            assert "-jnp.inf" not in text and "-np.inf" not in text, f"{path}: use apply_mask"


# ---- the lot cost and the JAX tables ----


@pytest.mark.parametrize("price", [1, 99, 100, 4321, 200_000])
def test_lot_cost__reference_and_jax_agree(price: int) -> None:
    for units in (0, 1, 10, 37):
        want = sum(price + k * max(1, price // C.IMPACT_DIV) for k in range(units))
        assert R.buy_cost(price, units) == want
        got = C.lot_cost(jnp.int32(price), units, tables.impact_step(jnp.int32(price)))
        assert int(got) == want


def test_jax_tables__no_private_name_is_imported_across_modules() -> None:
    for path, text in _product_sources():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PRODUCT:
                bad = [a.name for a in node.names if a.name.startswith("_") and a.name[1] != "_"]
                assert not bad, f"{path}: imports private {bad} from {node.module}"


def test_env_spaces__sizes_come_from_the_env_and_match_the_gym_wrapper() -> None:
    from envjax.gym_env import CaravanGymEnv

    env = CaravanEnv()
    params = env.default_params
    act, obs_space = env.action_space(params), env.observation_space(params)
    assert act.n == env.num_actions == C.N_ACTIONS and obs_space.shape == (C.OBS_DIM,)
    obs, _ = env.reset_from_seed(3)
    assert bool(obs_space.contains(obs)) and bool(act.contains(jnp.int32(C.A_SELLALL)))
    assert not bool(act.contains(jnp.int32(C.N_ACTIONS)))
    assert not bool(obs_space.contains(obs.at[0].set(2.0)))
    gym_env = CaravanGymEnv()
    assert gym_env.action_space.n == act.n
    assert np.array_equal(gym_env.observation_space.high, obs_space.high)


# ---- the W&B mapping ----


def _window(w: int, first: int, n: int) -> tuple[dict, list[dict]]:
    ups = [{"window_id": w, "update": first + i, "loss/value": 0.5, "x": None} for i in range(n)]
    row = {"window_id": w, "first_update": first, "last_update": first + n - 1,
           "wall_time_s": 1.0, "timestamp": "2026-01-01T00:00:00Z"}  # fmt: skip
    return row, ups


def test_wandb_mapping__steps_of_a_window_lie_in_its_range_and_nowhere_else() -> None:
    hist = {"counts": [1, 2], "bin_edges": [0.0, 1.0, 2.0]}
    ev = {"histograms": {"return": hist, "profit": hist},
          "action_mix": dict.fromkeys(C.ACTION_KIND_NAMES, 0.25)}  # fmt: skip
    steps: list[int] = []
    for w, (first, n) in enumerate([(0, 3), (3, 2), (5, 4)]):
        row, ups = _window(w, first, n)
        logged = list(wandb_mapping.window_log_rows(row, ups, ev, histogram=lambda c, e: (c, e)))
        lo, hi = wandb_mapping.window_step_range(first, first + n - 1, w)
        assert all(lo <= s < hi for s, _ in logged) and len(logged) == n + 1
        assert min(s for s, _ in logged) > max(steps, default=-1)  # strictly after the last
        steps += [s for s, _ in logged]
        *update_rows, (_, data) = logged
        assert all("x" not in d and "update" in d for _, d in update_rows)
        assert wandb_mapping.is_window_row(data) and "timestamp" not in data
        assert data[wandb_mapping.action_mix_key("sell")] == 0.25
        assert data[wandb_mapping.HIST_KEYS["return"]] == ([1, 2], [0.0, 1.0, 2.0])
    assert steps == sorted(set(steps))


def test_wandb_mapping__the_trainer_logger_logs_exactly_the_mapping() -> None:
    from ppo.wandb_log import WandbLogger

    class Recorder:
        def __init__(self) -> None:
            self.rows: list[tuple[int, dict]] = []

        def log(self, data: dict, step: int) -> None:
            self.rows.append((step, data))

    row, ups = _window(2, 10, 3)
    logger = WandbLogger(
        mode="disabled", run_id="r", name="r", project="p", entity=None, config={},
        run_dir=Path("."), resume=False,
    )  # fmt: skip
    logger.run = rec = Recorder()
    logger.log_window(row, ups, None)
    assert rec.rows == list(wandb_mapping.window_log_rows(row, ups, None))


# ---- the JSON-lines reader ----


def test_read_jsonl__one_rule_for_a_torn_last_line(tmp_path) -> None:
    from analytics_service import records as service_records

    good = '{"window_id": 0, "name": "caf\u00e9"}\n'
    p = tmp_path / "windows.jsonl"
    # A crash can cut the last line anywhere, even inside a UTF-8 character.
    p.write_bytes(good.encode() + '{"window_id": 1, "name": "caf\u00e9"}'.encode()[:-3])
    assert records.read_jsonl(p) == [json.loads(good)]
    p.write_bytes(good.encode() + b'{"window_id": 1, "na')
    assert records.read_jsonl(p) == [json.loads(good)]
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "windows.jsonl").write_bytes(p.read_bytes())
    assert service_records.read_windows(run) == [json.loads(good)]
    # Anywhere else an unparsable line is corruption, not a crash: it raises.
    p.write_bytes(b'{"window_id": 1, "na\n' + good.encode())
    with pytest.raises(ValueError):
        records.read_jsonl(p)
    assert records.read_jsonl(tmp_path / "missing.jsonl") == []


# ---- one word per side: "window" in code and records, "iteration" on the website ----


def test_website__user_facing_text_says_iteration_not_window() -> None:
    # docs/API.md "Vocabulary". Identifiers (window_id, WindowRow, data-window, the DOM's
    # `window`) are code, not text; comments are stripped first.
    word = re.compile(r"(?<![-\w.])(?<!const )[Ww]indows?(?![-\w.\[])")
    web = ROOT / "web"
    found = []
    for path in sorted([*(web / "components").rglob("*.ts*"), *(web / "app").rglob("*.ts*")]):
        text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
        for n, line in enumerate(text.splitlines(), 1):
            line = re.sub(r"(^|[^:])//.*", r"\1", line)
            if word.search(line) and not re.search(r"typeof window|in window|window as", line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "user-facing 'window' on the website:\n" + "\n".join(found)


def test_python__iteration_names_only_the_api_paths_and_their_handlers() -> None:
    # The API's words (docs/API.md): the route handlers, the path/query parameter and the
    # list's payload field; everything else in Python says window.
    handlers, values = {"list_iterations", "get_iteration"}, {"iteration", "iterations"}
    for path, text in _product_sources():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                name, allowed = node.name, handlers
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                name, allowed = node.id, values
            else:
                continue
            if "iteration" in name.lower() and name not in allowed:
                raise AssertionError(f"{path}: {name!r} (code says window, docs/API.md)")
