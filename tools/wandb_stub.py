"""A stub W&B GraphQL server for tests and offline demos, loaded from real run records.

The real `wandb.Api` client talks to it over loopback (`base_url=http://127.0.0.1:PORT`).
Its data follow the trainer's W&B mapping of docs/RUN_RECORDS.md (update `u` of window `w`
at step `u + w`, the window row at `last_update + w + 1` with the eval extras), so the
service's `/api/wandb` and `/api/local` must agree on the same run.

Faults can be switched on (in-process via `StubWandb.set_fault`, or over HTTP with
`POST /_stub/fault {"mode": ..., "ops": [...]}`): `rate_limit` (429 + Retry-After),
`server_error` (500), `slow` (answers after `delay_s`), `malformed` (invalid JSON), `auth`
(401). Every request is counted per operation (`counts`, or `GET /_stub/counts`).

Run it standalone: `python -m tools.wandb_stub --runs-dir runs --port 8765`.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tools.wandb_stub_data import StubRun, load_runs

__all__ = ["FAULT_MODES", "StubRun", "StubWandb", "load_runs", "main"]

FAULT_MODES = ("rate_limit", "server_error", "slow", "malformed", "auth")
_OP = re.compile(r"\b(?:query|mutation)\s+(\w+)")


def _strict_json(obj: Any) -> str:
    """JSON that W&B's own (Go) client can read: it has no NaN or Infinity, so a non-finite
    number travels as null, as the run records write it (docs/RUN_RECORDS.md)."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), allow_nan=False)


class StubWandb:
    """The stub server: `start()` binds 127.0.0.1 on a free port, `stop()` shuts it down."""

    def __init__(
        self,
        runs: dict[str, StubRun],
        *,
        entity: str = "caravan-team",
        project: str = "caravan",
        api_key: str | None = None,
    ) -> None:
        self.runs = runs
        self.entity = entity
        self.project = project
        self.api_key = api_key
        self.counts: Counter[str] = Counter()
        self.unknown_ops: list[str] = []
        self._lock = threading.Lock()
        self.fault: str | None = None
        self.fault_ops: set[str] | None = None  # None: every operation
        self.delay_s = 3.0
        self.retry_after_s = 7
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- control --------------------------------------------------------------------
    def set_fault(
        self,
        mode: str | None,
        *,
        ops: list[str] | None = None,
        delay_s: float | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        """Switch a fault on (`mode` in FAULT_MODES) or off (`None`)."""
        if mode is not None and mode not in FAULT_MODES:
            raise ValueError(f"unknown fault {mode!r}")
        with self._lock:
            self.fault = mode
            self.fault_ops = set(ops) if ops else None
            if delay_s is not None:
                self.delay_s = delay_s
            if retry_after_s is not None:
                self.retry_after_s = retry_after_s

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()

    def data_requests(self) -> int:
        """Requests other than the client's `Viewer` handshake."""
        with self._lock:
            return sum(n for op, n in self.counts.items() if op != "Viewer")

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, port: int = 0) -> StubWandb:
        stub = self

        class Handler(_Handler):
            server_stub = stub

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---- GraphQL ----------------------------------------------------------------------
    def answer(self, op: str, query: str, variables: dict) -> dict:
        """The `data` of one operation."""
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            with self._lock:
                self.unknown_ops.append(op)
            return {}
        return handler(query, variables)

    def _op_Viewer(self, query: str, variables: dict) -> dict:
        return {
            "viewer": {
                "id": "VXNlcjox",
                "entity": self.entity,
                "username": "stub",
                "email": "stub@example.invalid",
                "flags": "{}",
                "admin": False,
                "teams": {"edges": []},
            }
        }

    def _node(self, run: StubRun, full: bool) -> dict:
        node = {
            "projectId": "1",
            "id": base64.b64encode(f"Run:{run.run_id}".encode()).decode(),
            "name": run.run_id,
            "displayName": run.display_name,
            "tags": [],
            "sweepName": None,
            "state": _state(run),
            "group": run.group,
            "jobType": None,
            "commit": run.commit,
            "readOnly": False,
            "createdAt": run.created_at,
            "heartbeatAt": run.heartbeat_at,
            "description": None,
            "notes": None,
            "historyLineCount": len(run.history),
            "user": {"name": "stub", "username": "stub"},
        }
        if full:
            node["config"] = _strict_json(
                {k: {"value": v, "desc": None} for k, v in run.config.items()}
            )
            node["summaryMetrics"] = _strict_json(run.summary)
            node["systemMetrics"] = "{}"
            node["historyKeys"] = {"lastStep": run.last_step}
        return node

    def _project_ok(self, variables: dict) -> bool:
        return variables.get("project") == self.project and variables.get("entity") in (
            self.entity,
            None,
        )

    def _op_Runs(self, query: str, variables: dict) -> dict:
        if not self._project_ok(variables):
            return {"project": None}
        order = variables.get("order") or "+created_at"
        runs = sorted(
            self.runs.values(),
            key=lambda r: (r.created_at, r.run_id),
            reverse=order.startswith("-"),
        )
        filters = variables.get("filters")
        filters = json.loads(filters) if isinstance(filters, str) else filters or {}
        if "group" in filters:  # the only filter the service uses
            runs = [r for r in runs if r.group == filters["group"]]
        per_page = int(variables.get("perPage") or 50)
        start = int(variables["cursor"]) if variables.get("cursor") else 0
        page = runs[start : start + per_page]
        full = "fragment RunFragment on Run" in query
        edges = [
            {"node": self._node(r, full), "cursor": str(start + i + 1)} for i, r in enumerate(page)
        ]
        return {
            "project": {
                "internalId": "1",
                "runCount": len(runs),
                "readOnly": False,
                "runs": {
                    "edges": edges,
                    "pageInfo": {
                        "endCursor": str(start + len(page)),
                        "hasNextPage": start + len(page) < len(runs),
                    },
                },
            }
        }

    def _run(self, variables: dict) -> StubRun | None:
        if not self._project_ok(variables):
            return None
        name = variables.get("name") or variables.get("run") or variables.get("runName") or ""
        return self.runs.get(name)

    def _op_Run(self, query: str, variables: dict) -> dict:
        run = self._run(variables)
        if run is None:
            return {"project": {"run": None}}
        return {"project": {"run": self._node(run, "fragment RunFragment on Run" in query)}}

    def _op_RunHistoryKeys(self, query: str, variables: dict) -> dict:
        run = self._run(variables)
        if run is None:
            return {"project": {"run": None}}
        keys = sorted({k for r in run.history for k in r})
        return {
            "project": {
                "run": {
                    "historyKeys": {
                        "lastStep": run.last_step,
                        "keys": {k: {"typeCounts": []} for k in keys},
                    }
                }
            }
        }

    def _op_RunParquetHistory(self, query: str, variables: dict) -> dict:
        run = self._run(variables)
        if run is None:
            return {"project": {"run": None}}
        return {"project": {"run": {"parquetHistory": {"parquetUrls": [], "liveData": []}}}}

    def _op_HistoryPage(self, query: str, variables: dict) -> dict:
        run = self._run(variables)
        if run is None:
            return {"project": {"run": None}}
        lo, hi = int(variables.get("minStep", 0)), int(variables.get("maxStep", 1 << 62))
        rows = [_strict_json(r) for r in run.history if lo <= r["_step"] < hi]
        return {"project": {"run": {"history": rows}}}

    def _sampled(self, run: StubRun, spec: dict) -> list[dict]:
        keys = list(spec.get("keys") or [])
        lo = int(spec.get("minStep", 0))
        hi = int(spec.get("maxStep", 1 << 62))  # inclusive in sampled specs
        out = []
        for r in run.history:
            if lo <= r["_step"] <= hi and all(k in r for k in keys):
                out.append({k: r[k] for k in keys})
        samples = int(spec.get("samples") or len(out) or 1)
        return out[:samples]

    def _op_SampledHistoryPage(self, query: str, variables: dict) -> dict:
        run = self._run(variables)
        if run is None:
            return {"project": {"run": None}}
        spec = variables.get("spec")
        spec = json.loads(spec) if isinstance(spec, str) else (spec or {})
        return {"project": {"run": {"sampledHistory": [self._sampled(run, spec)]}}}

    def _op_RunSampledHistory(self, query: str, variables: dict) -> dict:
        run = self._run(variables)
        if run is None:
            return {"project": {"run": None}}
        specs = variables.get("specs") or []
        specs = [json.loads(s) if isinstance(s, str) else s for s in specs]
        return {"project": {"run": {"sampledHistory": [self._sampled(run, s) for s in specs]}}}

    def _op_RunFullHistory(self, query: str, variables: dict) -> dict:
        run = self._run(variables)
        if run is None:
            return {"project": {"run": None}}
        return {
            "project": {"run": {"history": [_strict_json(r) for r in run.history], "events": []}}
        }


class _Handler(BaseHTTPRequestHandler):
    server_stub: StubWandb
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, _strict_json(obj).encode(), headers)

    def _read_body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self) -> None:
        stub = self.server_stub
        if self.path == "/_stub/counts":
            with stub._lock:
                self._json(200, dict(stub.counts))
            return
        self._json(404, {"errors": [{"message": "not found"}]})

    def do_POST(self) -> None:
        stub = self.server_stub
        raw = self._read_body()
        if self.path == "/_stub/fault":
            cmd = json.loads(raw or b"{}")
            stub.set_fault(
                cmd.get("mode"),
                ops=cmd.get("ops"),
                delay_s=cmd.get("delay_s"),
                retry_after_s=cmd.get("retry_after_s"),
            )
            self._json(200, {"fault": stub.fault})
            return
        if self.path == "/_stub/reset_counts":
            stub.reset_counts()
            self._json(200, {})
            return
        if not self.path.startswith("/graphql"):
            self._json(404, {"errors": [{"message": "not found"}]})
            return
        try:
            body = json.loads(raw)
            query = body.get("query") or ""
            variables = body.get("variables") or {}
        except (ValueError, AttributeError):
            self._json(400, {"errors": [{"message": "bad request body"}]})
            return
        m = _OP.search(query)
        op = m.group(1) if m else "anonymous"
        with stub._lock:
            stub.counts[op] += 1
            fault, ops = stub.fault, stub.fault_ops
            delay, retry_after = stub.delay_s, stub.retry_after_s
        if fault and (ops is None or op in ops):
            if fault == "rate_limit":
                self._json(
                    429,
                    {"errors": [{"message": "rate limit exceeded"}]},
                    {
                        "Retry-After": str(retry_after),
                        "RateLimit-Remaining": "0",
                        "RateLimit-Reset": str(retry_after),
                    },
                )
                return
            if fault == "server_error":
                self._json(500, {"errors": [{"message": "internal server error"}]})
                return
            if fault == "malformed":
                self._send(200, b'{"data": {"project": ')
                return
            if fault == "auth":
                self._json(401, {"errors": [{"message": "user is not logged in"}]})
                return
            if fault == "slow":
                time.sleep(delay)
        if stub.api_key is not None and not _auth_ok(
            self.headers.get("Authorization"), stub.api_key
        ):
            self._json(401, {"errors": [{"message": "user is not logged in"}]})
            return
        try:
            data = stub.answer(op, query, variables)
        except Exception as exc:  # a stub bug must show up, not hang the client
            self._json(500, {"errors": [{"message": f"stub error: {exc!r}"}]})
            return
        self._json(200, {"data": data})


# W&B marks a `running` run crashed once its process has stopped heartbeating for a while.
HEARTBEAT_TIMEOUT_S = 300.0


def _state(run: StubRun) -> str:
    if run.state != "running":
        return run.state
    from datetime import UTC, datetime

    from analytics_service.views import parse_time

    beat = parse_time(run.heartbeat_at)
    age = (datetime.now(UTC) - beat).total_seconds() if beat else float("inf")
    return "crashed" if age > HEARTBEAT_TIMEOUT_S else "running"


def _auth_ok(header: str | None, api_key: str) -> bool:
    if not header or not header.startswith("Basic "):
        return False
    try:
        user_pass = base64.b64decode(header[6:]).decode()
    except ValueError:
        return False
    return user_pass.split(":", 1)[-1] == api_key


def main(argv: list[str] | None = None) -> None:
    """Serve the stub until interrupted."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--entity", default="caravan-team")
    ap.add_argument("--project", default="caravan")
    args = ap.parse_args(argv)
    stub = StubWandb(load_runs(args.runs_dir), entity=args.entity, project=args.project)
    stub.start(args.port)
    print(
        f"stub W&B on {stub.url} with {len(stub.runs)} runs (entity {args.entity}, "
        f"project {args.project}); Ctrl-C stops",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stub.stop()


if __name__ == "__main__":
    main()
