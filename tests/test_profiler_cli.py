"""Profiler command line, config checks, statistics and gates (fast: nothing is measured)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiler import gates
from profiler.cli import config_from_args, main
from profiler.compare import compare
from profiler.config import MODES, ConfigError, parse_modes, parse_override, parse_sweep
from profiler.jobs import job_specs, resolve_sizes
from profiler.stats import summarize, time_calls


def test_parse_modes__all_expands_in_canonical_order() -> None:
    assert parse_modes("all") == MODES
    assert parse_modes("trainer,reference") == ("reference", "trainer")


def test_parse_modes__unknown_mode_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown mode 'fast'"):
        parse_modes("fast")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("num_envs", "expected KEY=V1,V2"),
        ("speed=1,2", "unknown key 'speed'"),
        ("num_envs=", "no values"),
        ("num_envs=64,abc", "'abc' is not an integer"),
        ("num_envs=0,64", "must be positive"),
        ("num_envs=64,64", "listed twice"),
    ],
)
def test_parse_sweep__bad_input_is_rejected(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_sweep(text)


def test_parse_sweep__keeps_order_and_accepts_underscores() -> None:
    sweep = parse_sweep("num_envs=1_024,4096,8192,16384")
    assert sweep.key == "num_envs"
    assert sweep.values == (1024, 4096, 8192, 16384)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--num-envs", "0"], "--num-envs must be a positive integer"),
        (["--repeats", "-1"], "--repeats must be a positive integer"),
        (["--warmup", "-2"], "--warmup must be 0 or more"),
        (["--target-steps-per-sec", "0"], "--target-steps-per-sec must be a positive"),
        (["--mode", "reference", "--sweep", "num_envs=8,16"], "needs a vectorised mode"),
        (["--mode", "env-only", "--target-modes", "trainer"], "not among the selected"),
        (["--gate-file", "/nonexistent/gates.json"], "does not exist"),
        (["--plot", "/tmp/plot.svg", "--sweep", "num_envs=8,16"], "must name a .png"),
    ],
)
def test_main__bad_input_exits_2_with_a_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error:" in err and message in err


def test_main__out_path_that_is_a_directory_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_main__non_integer_option_exits_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--num-envs", "many"])
    assert exc.value.code == 2


def test_config__target_skips_reference_unless_alone() -> None:
    assert config_from_args(["--mode", "all"]).target_modes == (
        "env-only",
        "trainer",
        "trainer+eval",
    )
    assert config_from_args(["--mode", "reference"]).target_modes == ("reference",)


def test_job_specs__sweep_runs_reference_once() -> None:
    cfg = config_from_args(["--mode", "reference,env-only", "--sweep", "num_envs=8,16,32"])
    specs = job_specs(cfg, resolve_sizes(cfg), "/tmp/x")
    assert [(s["mode"], s["num_envs"]) for s in specs] == [
        ("reference", 1),
        ("env-only", 8),
        ("env-only", 16),
        ("env-only", 32),
    ]


def test_parse_override__types_values_and_rejects_reserved_keys() -> None:
    assert parse_override("epochs=1") == ("epochs", 1)
    assert parse_override("lr=3e-4") == ("lr", 3e-4)
    assert parse_override("action-masking=false") == ("action_masking", False)
    with pytest.raises(ConfigError, match="use --num-envs"):
        parse_override("num_envs=64")
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_override("epochs")


def test_main__set_needs_a_trainer_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--mode", "env-only", "--set", "epochs=1"]) == 2
    assert "select trainer" in capsys.readouterr().err


def test_summarize__percentiles_of_known_samples() -> None:
    s = summarize([4.0, 1.0, 3.0, 2.0, 5.0])
    assert (s["mean"], s["p50"], s["min"], s["max"]) == (3.0, 3.0, 1.0, 5.0)
    assert s["p95"] == pytest.approx(4.8)


def test_time_calls__one_untimed_call_then_one_wall_and_cpu_reading_per_repeat() -> None:
    calls = []

    def busy() -> None:
        calls.append(1)
        sum(range(20_000))  # some CPU work, so the CPU clock moves

    walls, cpus = time_calls(busy, 3)
    assert len(calls) == 4 and len(walls) == len(cpus) == 3
    assert all(w > 0 for w in walls) and all(c >= 0 for c in cpus)


def _run(mode: str, num_envs: int, p50: float, compile_s: float | None = 1.0) -> dict:
    """A report run with only the fields the gates read; CPU rate = p50 / 2."""
    phases = {"eval": 2.0, "checkpoint": 1.0, "cycle": 20.0} if mode == "trainer+eval" else {}
    return {
        "mode": mode,
        "num_envs": num_envs,
        "steps_per_sec": {"p50": p50},
        "compile_s": compile_s,
        "cpu": {"steps_per_cpu_s": p50 / 2},
        "details": {"phase_seconds_p50": phases},
    }


def test_gates__ratios_and_one_line_reason() -> None:
    runs = [
        _run("reference", 1, 1000.0, None),
        _run("env-only", 64, 100_000.0),
        _run("trainer", 64, 50_000.0),
        _run("trainer+eval", 64, 40_000.0, 90.0),
    ]
    primary = gates.primary_runs(runs, 64)
    ratios = gates.derived(primary)
    assert ratios["env_only_over_reference"] == pytest.approx(100.0)
    assert ratios["trainer_eval_drop"] == pytest.approx(0.2)
    assert ratios["eval_checkpoint_share"] == pytest.approx(0.15)
    g = gates.Gates(
        floors={"env-only": 1.0, "trainer": 60_000.0, "trainer+eval": 1.0},
        cpu_floors={"trainer": 10.0, "env-only": 1e9},
    )
    checks = gates.evaluate(g, primary, ratios)
    failed = {c["name"] for c in checks if not c["passed"]}
    assert failed == {
        "trainer p50 steps/s",
        "env-only steps/cpu-s",
        "env-only / reference",
        "trainer+eval eval+checkpoint share",
        "trainer+eval compile s",
    }
    line = gates.failure_line(checks)
    assert line is not None and "\n" not in line and line.startswith("target missed:")


def test_gates__sweep_judges_the_configured_size_else_the_fastest() -> None:
    runs = [_run("env-only", 64, 10.0), _run("env-only", 128, 30.0), _run("env-only", 256, 20.0)]
    assert gates.primary_runs(runs, 64)["env-only"]["num_envs"] == 64
    assert gates.primary_runs(runs, 8192)["env-only"]["num_envs"] == 128


def test_gates__file_is_validated(tmp_path: Path) -> None:
    bad = tmp_path / "gates.json"
    bad.write_text(json.dumps({"floors": {"warp": 5}}))
    with pytest.raises(ConfigError, match="unknown mode 'warp'"):
        gates.load(str(bad))
    bad.write_text(json.dumps({"floors": {"trainer": -5}}))
    with pytest.raises(ConfigError, match="must be a positive number"):
        gates.load(str(bad))
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read JSON"):
        gates.load(str(bad))


def test_gates__calibrated_config_must_match(tmp_path: Path) -> None:
    path = tmp_path / "gates.json"
    path.write_text(json.dumps({"floors": {"trainer": 5}, "config": {"num_envs": 8192}}))
    g = gates.load(str(path))
    with pytest.raises(ConfigError, match="calibrated at num_envs=8192"):
        gates.check_config_matches(g, {"num_envs": 64})
    gates.check_config_matches(g, {"num_envs": 8192})


ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "throughput"


def test_committed_reports__match_the_schema() -> None:
    import jsonschema

    schema = json.loads(
        (ARTIFACTS.parent.parent / "docs" / "schemas" / "throughput_report.schema.json").read_text()
    )
    reports = sorted(ARTIFACTS.glob("baseline-*.json")) + sorted(ARTIFACTS.glob("current.json"))
    reports += sorted(ARTIFACTS.glob("vs-peer*.json"))  # make bench-peer
    reports += sorted(ARTIFACTS.glob("trainer-*.json"))  # profiler --mode trainer
    reports += sorted(ARTIFACTS.glob("gpu/h200-*.json"))  # benchmarks/gpu_check_short.sh
    reports += sorted(ARTIFACTS.glob("learning/*/profiler-*.json"))  # per-config steps/s
    assert reports, "the baseline report is committed"
    for path in reports:
        jsonschema.Draft202012Validator(schema).validate(json.loads(path.read_text()))


def test_committed_gate_file__loads_and_names_its_config() -> None:
    g = gates.load(str(ARTIFACTS / "gates.json"))
    assert set(g.floors) == {"env-only", "trainer", "trainer+eval"}
    assert g.config["num_envs"] == 8192


def _report(p50: float, cpu: float) -> dict:
    return {
        "timestamp": "2026-11-24T00:00:00Z",
        "code_version": "unknown",
        "config": {"trainer_overrides": {}, "xla_flags": None},
        "system": {"load_average_start": [1.0, 1.0, 1.0]},
        "runs": [
            {
                "mode": "trainer",
                "num_envs": 64,
                "steps_per_sec": {"p50": p50},
                "cpu": {"steps_per_cpu_s": cpu},
            }
        ],
    }


def test_compare__ratios_of_median_and_cpu_rates() -> None:
    text = compare(_report(100.0, 50.0), _report(150.0, 100.0))
    row = next(line for line in text.splitlines() if line.startswith("trainer"))
    assert "1.50x" in row and "2.00x" in row


def test_calibrate__floors_sit_below_every_measured_sample(tmp_path: Path) -> None:
    from profiler.calibrate import main as calibrate_main

    baseline = sorted(ARTIFACTS.glob("baseline-*.json"))[0]
    out = tmp_path / "gates.json"
    assert calibrate_main([str(baseline), "--out", str(out), "--margin", "0.5"]) == 0
    g = gates.load(str(out))
    report = json.loads(baseline.read_text())
    for run in report["runs"]:
        if run["mode"] in g.floors:
            assert g.floors[run["mode"]] == pytest.approx(
                0.5 * run["steps_per_sec"]["min"], rel=1e-3
            )
            assert g.cpu_floors[run["mode"]] == pytest.approx(
                0.5 * run["cpu"]["steps_per_cpu_s"], rel=1e-3
            )
    assert g.config["num_envs"] == report["config"]["resolved"]["num_envs"]
    assert calibrate_main([str(baseline), "--out", str(out), "--margin", "2"]) == 2
