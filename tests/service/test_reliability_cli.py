"""Issue 13 row 11 (and row 9, the service side): the service's own inputs. Every bad flag
or environment value is one line on stderr and exit 2, before the server starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from svc_server import REPO, free_port

CASES = [
    (["--port", "70000"], {}, "--port"),
    (["--port", "0"], {}, "--port"),
    (["--port", "http"], {}, "--port"),
    (["--runs-dir", "{file}"], {}, "--runs-dir"),
    (["--cache-dir", "{file}/sub"], {}, "--cache-dir"),
    (["--log-level", "bogus"], {}, "--log-level"),
    (["--host", "no-such-host.invalid"], {}, "--host"),
    ([], {"ANALYTICS_RATE_LIMIT_PER_S": "-1"}, "ANALYTICS_RATE_LIMIT_PER_S"),
    ([], {"ANALYTICS_RATE_LIMIT_BURST": "0"}, "ANALYTICS_RATE_LIMIT_BURST"),
    ([], {"ANALYTICS_TTL_RUNS_S": "nan"}, "ANALYTICS_TTL_RUNS_S"),
    ([], {"ANALYTICS_TTL_FINISHED_S": "inf"}, "ANALYTICS_TTL_FINISHED_S"),
    ([], {"ANALYTICS_CACHE_SIZE_MB": "lots"}, "ANALYTICS_CACHE_SIZE_MB"),
    ([], {"ANALYTICS_WANDB_TIMEOUT_S": "1e400"}, "ANALYTICS_WANDB_TIMEOUT_S"),
    ([], {"ANALYTICS_PLAY_MAX_SESSIONS": "99999999999999999999"}, "ANALYTICS_PLAY_MAX_SESSIONS"),
    ([], {"ANALYTICS_LOCAL_MEMO_S": "-0.5"}, "ANALYTICS_LOCAL_MEMO_S"),
    ([], {"ANALYTICS_WARM_RUNS": "17"}, "ANALYTICS_WARM_RUNS"),
    ([], {"ANALYTICS_WARM_RUNS": "2.5"}, "ANALYTICS_WARM_RUNS"),
    ([], {"ANALYTICS_PLAY_IDLE_MINUTES": "nan"}, "ANALYTICS_PLAY_IDLE_MINUTES"),
    ([], {"ANALYTICS_PLAY_MAX_PER_CLIENT": "0"}, "ANALYTICS_PLAY_MAX_PER_CLIENT"),
    ([], {"ANALYTICS_RUNS_DIR": "{file}"}, "ANALYTICS_RUNS_DIR"),
    ([], {"ANALYTICS_CACHE_DIR": "{file}/sub"}, "ANALYTICS_CACHE_DIR"),
    ([], {"ALLOWED_ORIGIN_REGEX": "("}, "ALLOWED_ORIGIN_REGEX"),
    ([], {"WANDB_BASE_URL": "api.wandb.ai"}, "WANDB_BASE_URL"),
    ([], {"ANALYTICS_TRUST_FORWARDED_FOR": "maybe"}, "ANALYTICS_TRUST_FORWARDED_FOR"),
    # found by break13: empty strings (Path("") is the cwd, host "" every interface), a path
    # under a file, URLs and origins that parse but can never work, a rate whose wait is inf
    (["--runs-dir", ""], {}, "--runs-dir"),
    (["--cache-dir", ""], {}, "--cache-dir"),
    (["--host", ""], {}, "--host"),
    (["--runs-dir", "{file}/sub"], {}, "--runs-dir"),
    ([], {"ANALYTICS_RUNS_DIR": ""}, "ANALYTICS_RUNS_DIR"),
    ([], {"ANALYTICS_CACHE_DIR": ""}, "ANALYTICS_CACHE_DIR"),
    ([], {"ANALYTICS_RUNS_DIR": "{file}/sub"}, "ANALYTICS_RUNS_DIR"),
    ([], {"WANDB_BASE_URL": "http://api.wandb.ai:99999"}, "WANDB_BASE_URL"),
    ([], {"WANDB_BASE_URL": "http://api\x01wandb.ai"}, "WANDB_BASE_URL"),
    ([], {"ALLOWED_ORIGINS": "localhost:3000"}, "ALLOWED_ORIGINS"),
    ([], {"ALLOWED_ORIGINS": "http://localhost:3000/app"}, "ALLOWED_ORIGINS"),
    ([], {"ALLOWED_ORIGINS": '["an origin"]'}, "ALLOWED_ORIGINS"),
    ([], {"ANALYTICS_RATE_LIMIT_PER_S": "5e-324"}, "ANALYTICS_RATE_LIMIT_PER_S"),
]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ANALYTICS_", "WANDB_"))}
    full.update(PYTHONPATH=str(REPO), **env)
    return subprocess.run(
        [sys.executable, "-m", "analytics_service", "--port", str(free_port()), *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(("args", "env", "names"), CASES, ids=[c[2] for c in CASES])
def test_cli__bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], env: dict[str, str], names: str
) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("not a directory")
    args = [a.format(file=a_file) for a in args]
    env = {k: v.format(file=a_file) for k, v in env.items()}
    done = _run(args, env, tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert names in lines[0] and lines[0].startswith("python -m analytics_service: error:")
    assert "Traceback" not in done.stderr and "Uvicorn running" not in done.stderr
    assert done.stdout == ""  # nothing announced


def test_cli__several_bad_values_are_one_line_each(tmp_path: Path) -> None:
    env = {"ANALYTICS_RATE_LIMIT_PER_S": "-1", "ANALYTICS_TTL_RUNS_S": "nan"}
    done = _run([], env, tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and {line.split(":")[2].strip().split("=")[0] for line in lines} == {
        "ANALYTICS_RATE_LIMIT_PER_S",
        "ANALYTICS_TTL_RUNS_S",
    }


def test_cli__a_taken_port_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = _run(["--port", str(port)], {}, tmp_path)  # the last --port wins
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "cannot listen" in done.stderr


def test_cli__read_only_cache_dir_is_refused(tmp_path: Path) -> None:
    from test_reliability_cache import _read_only_dir

    path, undo = _read_only_dir(tmp_path)
    try:
        done = _run(["--cache-dir", str(path / "cache")], {}, tmp_path)
    finally:
        undo()
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "--cache-dir" in done.stderr and "cannot write there" in done.stderr


def test_cli__settings_are_built_from_the_flags_not_the_environment(tmp_path: Path) -> None:
    from analytics_service.__main__ import _parser, settings_from

    args = _parser().parse_args(["--runs-dir", str(tmp_path / "r"), "--cache-dir", str(tmp_path)])
    before = dict(os.environ)
    settings = settings_from(args)
    assert dict(os.environ) == before  # nothing written to the environment
    assert settings.runs_dir == tmp_path / "r" and settings.cache_dir == tmp_path
