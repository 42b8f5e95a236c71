"""Read the facts a test needs from infra/Dockerfile: the final stage's ENV, CMD, USER, ...

CI has no container engine, so the tests run the image's exact command and environment on
loopback instead; this module is how they learn what that command and environment are.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

DOCKERFILE = Path(__file__).with_name("Dockerfile")


@dataclass(frozen=True)
class ImageFacts:
    """What the final stage of a Dockerfile declares."""

    env: dict[str, str] = field(default_factory=dict)
    cmd: tuple[str, ...] = ()
    user: str | None = None
    volumes: tuple[str, ...] = ()
    exposed_ports: tuple[int, ...] = ()
    healthcheck: str | None = None


def _logical_lines(text: str) -> list[str]:
    """Join backslash continuations and drop comments and blank lines."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def _parse_env(args: str) -> dict[str, str]:
    env = {}
    for token in shlex.split(args):
        key, sep, value = token.partition("=")
        if not sep:
            raise ValueError(f"ENV without '=' is not supported here: {args!r}")
        env[key] = value
    return env


def _expand(value: str, env: dict[str, str]) -> str:
    """Expand $VAR references the way Docker does for ENV values seen so far."""
    for key, val in sorted(env.items(), key=lambda kv: -len(kv[0])):
        value = value.replace("${" + key + "}", val).replace("$" + key, val)
    return value


def parse_dockerfile(text: str) -> ImageFacts:
    """Facts of the final stage (everything after the last FROM)."""
    env: dict[str, str] = {}
    cmd: tuple[str, ...] = ()
    user = healthcheck = None
    volumes: list[str] = []
    ports: list[int] = []
    for line in _logical_lines(text):
        instr, _, args = line.partition(" ")
        instr, args = instr.upper(), args.strip()
        if instr == "FROM":
            env, cmd, user, healthcheck, volumes, ports = {}, (), None, None, [], []
        elif instr == "ENV":
            env.update({k: _expand(v, env) for k, v in _parse_env(args).items()})
        elif instr == "CMD":
            if not args.startswith("["):
                raise ValueError("CMD must use the exec (JSON array) form")
            cmd = tuple(json.loads(args))
        elif instr == "USER":
            user = args
        elif instr == "VOLUME":
            volumes.extend(json.loads(args) if args.startswith("[") else args.split())
        elif instr == "EXPOSE":
            ports.extend(int(p.split("/")[0]) for p in args.split())
        elif instr == "HEALTHCHECK":
            healthcheck = args
    return ImageFacts(env, cmd, user, tuple(volumes), tuple(ports), healthcheck)


def image_facts(path: Path = DOCKERFILE) -> ImageFacts:
    """Facts of infra/Dockerfile (or another file)."""
    return parse_dockerfile(path.read_text())


def with_flag(cmd: tuple[str, ...], flag: str, value: str) -> tuple[str, ...]:
    """The command with `flag`'s value replaced (the flag must already be present)."""
    args = list(cmd)
    try:
        i = args.index(flag)
    except ValueError as err:
        raise ValueError(f"{flag} not in command {cmd}") from err
    args[i + 1] = value
    return tuple(args)
