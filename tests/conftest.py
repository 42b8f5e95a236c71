"""Shared pytest options: `--full` turns on the long property runs."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        default=False,
        help="run the long property runs (>= 10,000 parity episodes and the like)",
    )


@pytest.fixture(scope="session")
def full_run(request: pytest.FixtureRequest) -> bool:
    """True when the suite was started with --full."""
    return bool(request.config.getoption("--full"))
