"""Fixtures of the analytics service tests: a real short training run, the stub W&B server
loaded from it, and app factories pointed at both."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from procs import train_tiny

from analytics_service.settings import Settings
from tools.wandb_stub import StubWandb, load_runs

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))

from svc_env import API_KEY, ENTITY, PROJECT, REAL_RUN  # noqa: E402


@pytest.fixture(scope="session")
def _wandb_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wandb_home")


@pytest.fixture(autouse=True)
def _wandb_isolation(_wandb_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HOME and the wandb dirs in a temp dir, so no real config or key is ever read; set
    per test (restored after each), so tests outside this folder keep their environment."""
    for name in ("HOME", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DIR"):
        monkeypatch.setenv(name, str(_wandb_home / name.lower()))
    for name in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs dir holding one real, tiny `ppo.train` run (4 windows, checkpoints, evals)."""
    runs = tmp_path_factory.mktemp("runs")
    train_tiny(
        runs, REAL_RUN, "--total-steps", "1024", "--eval-episodes", "8", "--name", "tiny real run"
    )
    return runs


@pytest.fixture(scope="session")
def stub(real_runs: Path) -> Iterator[StubWandb]:
    """The stub W&B server, loaded from the real run's records."""
    server = StubWandb(load_runs(real_runs), entity=ENTITY, project=PROJECT, api_key=API_KEY)
    server.start()
    yield server
    server.stop()


def service_settings(
    runs_dir: Path, cache_dir: Path, stub_url: str | None, **overrides
) -> Settings:
    """Settings for a test app (W&B on when `stub_url` is given)."""
    values = {
        "runs_dir": runs_dir,
        "cache_dir": cache_dir,
        "allowed_origins": ["http://localhost:3000"],
        "rate_limit_per_s": 10_000,
        "rate_limit_burst": 10_000,
        "wandb_timeout_s": 2.0,
        "fetch_timeout_s": 4.0,
        "error_backoff_s": 0.0,
    }
    if stub_url is not None:
        values.update(
            wandb_api_key=API_KEY,
            wandb_entity=ENTITY,
            wandb_project=PROJECT,
            wandb_base_url=stub_url,
        )
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def make_client(real_runs: Path, stub: StubWandb, tmp_path: Path):
    """`make_client(**settings)`: a TestClient of a fresh app on the stub and the real run."""
    from fastapi.testclient import TestClient

    from analytics_service.app import create_app

    stub.set_fault(None)
    stub.reset_counts()
    clients = []

    def make(*, wandb: bool = True, cache_dir: Path | None = None, **overrides) -> TestClient:
        settings = service_settings(
            overrides.pop("runs_dir", real_runs),
            cache_dir or tmp_path / "cache",
            stub.url if wandb else None,
            **overrides,
        )
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)
    stub.set_fault(None)
