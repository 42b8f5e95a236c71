"""`python -m analytics_service [--host 127.0.0.1] [--port 8000] [--runs-dir runs]
[--cache-dir DIR] [--log-level info]`; every other setting from the environment or `.env`
(see `.env.example`). Each bad input, from a flag or the environment, is one line on stderr
and exit status 2, before the server starts."""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

PROG = "python -m analytics_service"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
_FLAGS = {"runs_dir": "--runs-dir", "cache_dir": "--cache-dir"}


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be 1-65535, got {port}")
    return port


def _nonempty(kind):
    # "" would become "." (a path) or every interface (a host): a mistake, never a choice.
    def parse(text: str):
        if not text.strip():
            raise argparse.ArgumentTypeError("must not be empty")
        return kind(text)

    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        _fail([message])  # one line, no usage block (`--help` shows that)


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog=PROG, description=__doc__)
    ap.add_argument("--host", type=_nonempty(str), default="127.0.0.1", help="address to listen on")
    ap.add_argument("--port", type=_port, default=8000, help="TCP port, 1-65535")
    ap.add_argument(
        "--runs-dir",
        type=_nonempty(Path),
        default=None,
        help="run records to serve (default: ANALYTICS_RUNS_DIR or runs)",
    )
    ap.add_argument(
        "--cache-dir",
        type=_nonempty(Path),
        default=None,
        help="W&B response cache (default: ANALYTICS_CACHE_DIR or .cache/analytics)",
    )
    ap.add_argument("--log-level", default="info", choices=LOG_LEVELS, type=str.lower)
    return ap


def _fail(lines: list[str]) -> NoReturn:
    for line in lines:
        print(f"{PROG}: error: {line}", file=sys.stderr)
    raise SystemExit(2)


def _writable_dir(path: Path) -> str | None:
    """Why `path` cannot hold the cache (None when it can): created if missing, then a
    file is written and removed there."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def settings_from(args: argparse.Namespace) -> Any:
    """Settings from the flags plus the environment; exits 2 with one line per bad value."""
    from pydantic import ValidationError

    from analytics_service.settings import Settings

    overrides = {name: getattr(args, name) for name in _FLAGS if getattr(args, name) is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())) or "settings"
            where = _FLAGS.get(where, where)
            given = err.get("input")
            secret = "key" in where.lower()  # a key's value is never printed
            plain = isinstance(given, str | int | float) and not secret
            shown = f"={given}" if plain else ""
            ctx_error = (err.get("ctx") or {}).get("error")
            msg = str(ctx_error) if ctx_error is not None else err.get("msg", "invalid")
            lines.append(f"{where}{shown}: {msg}")
        _fail(lines)
    # An explicitly chosen cache directory must be usable; the default one, when it is not,
    # leaves the service running with an in-memory cache (logged by the cache itself).
    if args.cache_dir is not None or "cache_dir" in settings.model_fields_set:
        why = _writable_dir(settings.cache_dir)
        if why is not None:
            name = "--cache-dir" if args.cache_dir is not None else "ANALYTICS_CACHE_DIR"
            _fail([f"{name} {settings.cache_dir}: cannot write there ({why.lower()})"])
    return settings


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a bad host or a taken port is one line, and the
    announced address is the one served."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        _fail([f"--host {host}: cannot resolve ({exc})"])
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        _fail([f"--host {host} --port {port}: cannot listen ({exc.strerror or exc})"])
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> None:
    """Check every input, then serve the app with uvicorn."""
    args = _parser().parse_args(argv)
    settings = settings_from(args)
    sock = _listen(args.host, args.port)

    import uvicorn

    from analytics_service.app import create_app

    app = create_app(settings)
    source = (
        f"W&B {settings.wandb_entity}/{settings.wandb_project}"
        if settings.wandb_configured
        else f"local records in {settings.runs_dir}"
    )
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"analytics service on http://{shown}:{port} serving {source}", flush=True)
    config = uvicorn.Config(app, host=host, port=port, log_level=args.log_level)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
