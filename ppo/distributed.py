"""Multi-process training: who the processes are, `jax.distributed` start-up, agreement, liveness.

One process per host (JAX's multi-controller model, docs/SCALING.md). Everything here runs
BEFORE anything touches the XLA backend (`jax.devices()`, `jax.device_count()`, a jit call):
JAX fixes the device set when the backend starts, so `initialize` must come first.

How the processes are named (`resolve`, first match wins):
- flags `--coordinator HOST:PORT --num-processes N --process-id I`;
- the environment `JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES`, `JAX_PROCESS_ID` (each fills
  the flag it matches; this jax reads only the address itself, so count and id are passed on);
- `--coordinator auto` (or `JAX_COORDINATOR_ADDRESS=auto`): JAX's cluster detection (SLURM,
  Open MPI, Kubernetes indexed jobs, Cloud TPU) fills whatever is unset;
- under `srun` with more than one task (`SLURM_STEP_NUM_TASKS`/`SLURM_NTASKS` > 1 inside a job
  step) the same detection is used without any flag, since those tasks are one launch.
Anything else (no flag, no variable, a single SLURM task) is a plain single-process run.

Liveness (bounds in seconds, documented in docs/SCALING.md):
- a peer that never joins: every process exits 1 after `--join-timeout-s`;
- a peer killed mid-run: its sockets close, the next collective fails at once;
- a peer frozen or unreachable (host down, network cut): JAX's coordination service stops
  hearing its heartbeats after `--peer-timeout-s`; a watchdog thread polling the service every
  `POLL_S` sees it and stops this process.
Either way the survivor runs the registered crash hooks (process 0 marks the run crashed),
prints one line and exits 1 without waiting in JAX's shutdown barrier. JAX's coordination
service runs in recoverable mode (`jax_enable_recoverability`) so that a peer's death is
reported to the watchdog instead of aborting every process with a C++ stack trace.
The loss of process 0 (it hosts the service) is different: JAX's agent in every other
process sees it at once and aborts that process from a C++ thread, before any Python code
can act. Those processes send their stderr through `ppo.stderr_guard`, which replaces that
abort and its stack trace with one line of ours,
`error: process 0 (the coordinator) of N is gone; process I stops too` (also the line when a
Python thread of ours notices first). Process 0's run lock dies with it, so readers report
the run as crashed (docs/RUN_RECORDS.md) and `--resume` continues it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

# The flags are declared once, with the trainer's other options (ppo.config).
from ppo.config import (
    LAUNCH_GROUP,
    DistConfig,
    add_fields,
    field_errors,
)
from ppo.stderr_guard import coordinator_lost_line

ALIGN_TIMEOUT_S = 3600  # barrier before the first collective (compile-time skew)
POLL_S = 0.5  # watchdog poll interval: a dead peer is seen within peer timeout + POLL_S
PROBE_S = 2.0  # how long a leaving process asks whether process 0 still answers
EXIT_PEER_LOST = 1
_KV_PREFIX = "caravan"
_ADDRESS_RE = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-_]+):(\d{1,5})$")


class DistributedConfigError(ValueError):
    """Inconsistent multi-process settings; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """A resolved multi-process start-up: what `initialize` passes to jax.distributed.

    `auto` means JAX's cluster detection fills the fields left None.
    """

    coordinator: str | None
    num_processes: int | None
    process_id: int | None
    auto: bool
    peer_timeout_s: int
    join_timeout_s: int
    source: str  # "flags", "environment", "auto", "slurm": for messages


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the multi-process flags (their own argument group, generated from DistConfig's
    declarations as every other option) to a command line."""
    title, description = LAUNCH_GROUP
    add_fields(parser.add_argument_group(title, description), DistConfig)


def pop_config(kw: dict[str, Any]) -> DistConfig:
    """Take the multi-process keys out of a parsed-argument dict; DistributedConfigError
    when one is outside its bounds."""
    cfg = DistConfig(**{f.name: kw.pop(f.name) for f in dataclasses.fields(DistConfig)})
    errs = field_errors(cfg)
    if errs:
        raise DistributedConfigError("; ".join(errs))
    return cfg


def _int_env(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise DistributedConfigError(f"{name}={raw!r} is not an integer") from None


def _slurm_tasks(environ: Mapping[str, str]) -> int:
    """Tasks of the current SLURM job step (0 outside a step)."""
    if "SLURM_STEP_NODELIST" not in environ or "SLURM_PROCID" not in environ:
        return 0
    for name in ("SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"):
        n = _int_env(environ, name)
        if n is not None:
            return n
    return 0


def resolve(cfg: DistConfig, environ: Mapping[str, str]) -> Plan | None:
    """Decide how (and whether) to start jax.distributed; None for a single process.

    Pure: reads only `cfg` and `environ`. Raises DistributedConfigError on a partial or
    inconsistent setting (e.g. an address without a process count).
    """
    errs: list[str] = []
    if cfg.peer_timeout_s < 1:
        errs.append(f"--peer-timeout-s must be >= 1 (got {cfg.peer_timeout_s})")
    if cfg.join_timeout_s < 1:
        errs.append(f"--join-timeout-s must be >= 1 (got {cfg.join_timeout_s})")
    flags = (cfg.coordinator, cfg.num_processes, cfg.process_id)
    coordinator, n, pid = flags
    source = "flags"
    env_addr = environ.get("JAX_COORDINATOR_ADDRESS") or None
    env_n = _int_env(environ, "JAX_NUM_PROCESSES")
    env_id = _int_env(environ, "JAX_PROCESS_ID")
    if all(v is None for v in flags) and any(v is not None for v in (env_addr, env_n, env_id)):
        source = "environment"
    coordinator = coordinator if coordinator is not None else env_addr
    n = n if n is not None else env_n
    pid = pid if pid is not None else env_id
    auto = coordinator == "auto"
    if auto:
        coordinator = None
        source = "auto"
    elif coordinator is None and n is None and pid is None:
        if _slurm_tasks(environ) > 1:
            auto, source = True, "slurm"
        else:
            if errs:
                raise DistributedConfigError("; ".join(errs))
            return None
    if not auto:
        missing = [
            f"--{k.replace('_', '-')} (or {env})"
            for k, v, env in (
                ("coordinator", coordinator, "JAX_COORDINATOR_ADDRESS"),
                ("num_processes", n, "JAX_NUM_PROCESSES"),
                ("process_id", pid, "JAX_PROCESS_ID"),
            )
            if v is None
        ]
        if missing:
            errs.append(
                f"a multi-process run needs {', '.join(missing)} too "
                "(or --coordinator auto under SLURM/Open MPI/Kubernetes)"
            )
    if coordinator is not None:
        m = _ADDRESS_RE.match(coordinator)
        if not m or not 0 < int(m.group(2)) < 65536:
            errs.append(f"--coordinator {coordinator!r} must be HOST:PORT or 'auto'")
    if n is not None and n < 1:
        errs.append(f"--num-processes must be >= 1 (got {n})")
    if pid is not None and n is not None and n >= 1 and not 0 <= pid < n:
        errs.append(f"--process-id must be in 0..{n - 1} (got {pid})")
    if errs:
        raise DistributedConfigError("; ".join(errs))
    if not auto and n == 1:
        return None
    return Plan(coordinator, n, pid, auto, cfg.peer_timeout_s, cfg.join_timeout_s, source)


# ---- side effects: start-up, agreement, watchdog, exit ----------------------------------------

_crash_hooks: list[Callable[[str], None]] = []
_exiting = threading.Lock()
_watchdog: Watchdog | None = None
_plan: Plan | None = None


def exit_now(line: str, code: int = EXIT_PEER_LOST) -> NoReturn:
    """Print `line` on stderr and leave at once, skipping JAX's shutdown barrier.

    A survivor must not wait in that barrier for a peer that is gone (JAX would hold it for
    its shutdown timeout and then abort with a C++ stack trace). Process 0 hosts the
    coordination service, whose loss aborts every other process: it waits (at most the
    peer timeout) for the others to leave first.
    """
    if not _exiting.acquire(blocking=False):  # another thread is already on its way out
        threading.Event().wait()
    try:
        sys.stdout.flush()
        if _plan is not None and _plan.process_id != 0 and _coordinator_gone():
            # e.g. a collective failed because process 0 died: say so, not the symptom
            line = coordinator_lost_line(_plan.process_id or 0, _plan.num_processes or 0)
        print(line, file=sys.stderr, flush=True)
        _leave()
    finally:
        os._exit(code)


def _coordinator_gone() -> bool:
    """True when process 0's coordination service fails to answer (it is gone); False when
    it answers, or says nothing within PROBE_S (e.g. a frozen host: keep the line as is)."""
    answer: list[bool] = []

    def probe() -> None:
        # A read of a key nobody sets: NOT_FOUND is the service answering; anything else
        # (UNAVAILABLE: connection closed) means it is gone.
        try:
            _client().key_value_try_get(f"{_KV_PREFIX}/probe")
            answer.append(False)
        except Exception as e:
            answer.append(not str(e).startswith("NOT_FOUND"))

    t = threading.Thread(target=probe, name="coordinator-probe", daemon=True)
    t.start()
    t.join(PROBE_S)
    return bool(answer) and answer[0]


def _leave() -> None:
    """Disconnect from the launch without blocking for long (see exit_now)."""
    plan, wd = _plan, _watchdog
    if plan is None:
        return
    if wd is not None:
        wd.stop()
    client = _client()
    if plan.process_id != 0:
        # Leave without disconnecting: a disconnect in flight when process 0 exits makes
        # JAX's error-polling thread abort this process (SIGABRT) after its line is out.
        # Process 0 learns of the exit from the missed heartbeats (--peer-timeout-s).
        return
    everyone = list(range(plan.num_processes or 1))
    deadline = time.monotonic() + plan.peer_timeout_s + 1
    while time.monotonic() < deadline:
        try:
            if set(client.get_live_nodes(everyone)) <= {0}:
                return
        except Exception:
            pass  # a peer mid-disconnect can fail the query: ask again until the deadline
        time.sleep(0.05)


def on_peer_lost(hook: Callable[[str], None]) -> Callable[[], None]:
    """Register `hook(reason)` to run when the watchdog stops this process; returns remove."""
    _crash_hooks.append(hook)
    return lambda: _crash_hooks.remove(hook) if hook in _crash_hooks else None


def _lost(reason: str) -> NoReturn:
    for hook in list(_crash_hooks):
        try:
            hook(reason)
        except Exception as e:  # the line below must still come out
            print(f"warning: crash hook failed: {type(e).__name__}: {e}", file=sys.stderr)
    exit_now(f"error: {reason}")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _client() -> Any:
    """JAX's coordination-service client (key-value store, barriers, live nodes).

    jax has no public handle to it; `jax._src.distributed.global_state.client` is where
    jax.distributed keeps it (jax 0.10). tests/test_multiprocess.py fails if that moves.
    """
    from jax._src import distributed as jd

    return jd.global_state.client


def is_multiprocess() -> bool:
    """True once `initialize` started jax.distributed with more than one process."""
    return _plan is not None


def initialize(plan: Plan) -> None:
    """Start jax.distributed per `plan`, then the watchdog. Call before any backend use.

    Exits 1 with one line when the peers have not all joined within plan.join_timeout_s
    (JAX itself would abort with a C++ stack trace on its own timeout).
    """
    global _plan, _watchdog
    import jax

    who = f"process {plan.process_id}" if plan.process_id is not None else "this process"
    where = plan.coordinator or "the auto-detected coordinator"
    timer = threading.Timer(
        plan.join_timeout_s,
        exit_now,
        (
            f"error: {who} could not join the {plan.num_processes or '?'}-process launch at "
            f"{where} within --join-timeout-s {plan.join_timeout_s}: a peer is missing or the "
            "coordinator is unreachable",
        ),
    )
    timer.daemon = True
    timer.start()
    # Recoverable mode: the service reports a dead peer to the watchdog instead of making
    # every client abort the process from a C++ thread (see the module docstring).
    jax.config.update("jax_enable_recoverability", True)
    try:
        jax.distributed.initialize(
            coordinator_address=plan.coordinator,
            num_processes=plan.num_processes,
            process_id=plan.process_id,
            cluster_detection_method=None if plan.auto else "deactivate",
            # JAX's own limit is a backstop behind the timer above (its expiry aborts).
            initialization_timeout=plan.join_timeout_s + 30,
            heartbeat_timeout_seconds=plan.peer_timeout_s,
            shutdown_timeout_seconds=plan.peer_timeout_s,
        )
    except (RuntimeError, ValueError) as e:
        timer.cancel()
        raise DistributedConfigError(f"jax.distributed.initialize failed: {e}") from None
    from jax._src import distributed as jd

    n, pid = jd.global_state.num_processes, jd.global_state.process_id
    # All processes joined (connect returns once the service saw all of them).
    timer.cancel()
    _plan = dataclasses.replace(plan, num_processes=n, process_id=pid)
    if pid != 0:  # JAX aborts this process when process 0 dies: see ppo.stderr_guard
        from ppo import stderr_guard

        stderr_guard.install(pid, n)
    _watchdog = Watchdog(_client(), n, pid, plan.peer_timeout_s)
    _watchdog.start()


def agree(key: str, make: Callable[[], str]) -> str:
    """A string all processes share: process 0 computes `make()`, the others receive it.

    Single-process: just `make()`. Raises DistributedConfigError when process 0 does not
    publish within the join timeout.
    """
    if _plan is None:
        return make()
    client = _client()
    full = f"{_KV_PREFIX}/agree/{key}"
    if _plan.process_id == 0:
        value = make()
        client.key_value_set(full, value)
        return value
    try:
        return str(client.blocking_key_value_get(full, _plan.join_timeout_s * 1000))
    except Exception as e:
        raise DistributedConfigError(
            f"process {_plan.process_id} got no {key!r} from process 0 within "
            f"{_plan.join_timeout_s} s: {_first_line(e)}"
        ) from None


def finish() -> None:
    """Leave a multi-process launch cleanly (all processes, at the end of a successful run).

    Process 0 hosts JAX's coordination service, so it must leave last: everyone meets at a
    barrier, the others disconnect, and process 0 waits (at most the peer timeout) until
    they have. Without this, a peer still disconnecting when process 0 exits aborts.
    """
    global _plan, _watchdog
    if _plan is None:
        return
    import jax

    plan, wd, client = _plan, _watchdog, _client()
    try:
        # The watchdog keeps running through the barrier but ignores peers that are done.
        client.key_value_set(f"{_KV_PREFIX}/done/{plan.process_id}", "1")
        client.wait_at_barrier(f"{_KV_PREFIX}/end", plan.join_timeout_s * 1000)
    except Exception as e:
        exit_now(f"error: a peer did not reach the end of the run: {_first_line(e)}")
    if wd is not None:
        wd.stop()
    if plan.process_id != 0:
        jax.distributed.shutdown()
    else:
        others = list(range(plan.num_processes or 1))
        deadline = time.monotonic() + plan.peer_timeout_s
        while time.monotonic() < deadline and len(client.get_live_nodes(others)) > 1:
            time.sleep(0.05)
        jax.distributed.shutdown()
    _plan, _watchdog = None, None


class Watchdog:
    """A daemon thread that stops this process when a peer stops answering JAX's service.

    Polls `client.get_live_nodes` every `poll_s`. The service drops a peer from the live set
    when it misses heartbeats for `peer_timeout_s`, so a frozen or vanished peer is noticed
    within peer_timeout_s + poll_s; an unreachable service (process 0 gone) at the next poll.
    """

    def __init__(
        self,
        client: Any,
        num_processes: int,
        process_id: int,
        peer_timeout_s: int,
        poll_s: float = POLL_S,
    ) -> None:
        self._client = client
        self._n = num_processes
        self._id = process_id
        self._peer_timeout_s = peer_timeout_s
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peer-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    def _done(self, process_id: int) -> bool:
        """True when `process_id` finished the run (it left on purpose)."""
        try:
            return bool(self._client.key_value_try_get(f"{_KV_PREFIX}/done/{process_id}"))
        except Exception:  # NOT_FOUND: not done
            return False

    def _run(self) -> None:
        everyone = list(range(self._n))
        while not self._stop.wait(self._poll_s):
            try:
                live = self._client.get_live_nodes(everyone)
            except Exception as e:
                if self._stop.is_set():
                    return
                reason = f"process {self._id} cannot reach its coordination service: "
                if self._id != 0:  # the service lives in process 0
                    reason = coordinator_lost_line(self._id, self._n).removeprefix("error: ")
                _lost(reason if self._id != 0 else reason + _first_line(e))
            missing = [p for p in sorted(set(everyone) - set(live)) if not self._done(p)]
            if missing and not self._stop.is_set():
                names = ", ".join(str(p) for p in missing)
                _lost(
                    f"process {names} of {self._n} is gone (it exited, or sent no heartbeat "
                    f"for {self._peer_timeout_s} s); process {self._id} stops too"
                )


def check_same(key: str, value: dict[str, Any]) -> None:
    """Fail on every process unless all were given the same `value` (e.g. the config).

    Each process publishes its value and reads all the others', so all of them stop with
    the same DistributedConfigError naming the differing keys. No-op for a single process.
    """
    if _plan is None:
        return
    import json

    values = [json.loads(v) for v in gather(f"same/{key}", json.dumps(value, default=str))]
    ref = values[0]  # every process computes the same message from the same values
    problems = [
        f"{k}={v.get(k)!r} on process {p} (process 0: {ref.get(k)!r})"
        for p, v in enumerate(values)
        for k in sorted(set(v) | set(ref))
        if v.get(k) != ref.get(k)
    ]
    if problems:
        raise DistributedConfigError(
            f"processes were started with different {key}s: {'; '.join(problems)}; "
            "start every process with the same arguments"
        )


def barrier(name: str, timeout_s: float = ALIGN_TIMEOUT_S) -> None:
    """Wait until every process reaches `name` (no-op for a single process).

    Aligns the processes before their first collective: Gloo gives a peer only 30 s to
    show up when it sets up its connections, and compiling can differ by more than that
    between processes on a loaded host. The timeout is long on purpose: a dead peer is the
    watchdog's to notice, within the peer timeout. Raises RuntimeError when it expires.
    """
    if _plan is None:
        return
    try:
        _client().wait_at_barrier(f"{_KV_PREFIX}/barrier/{name}", int(timeout_s * 1000))
    except Exception as e:
        raise RuntimeError(f"processes did not all reach {name!r}: {_first_line(e)}") from None


def gather(key: str, value: str) -> list[str]:
    """Every process's `value` for `key`, in process order (the same list on all of them).

    Single-process: `[value]`. Raises DistributedConfigError when a process does not publish
    within the join timeout.
    """
    if _plan is None:
        return [value]
    client, prefix = _client(), f"{_KV_PREFIX}/gather/{key}"
    client.key_value_set(f"{prefix}/{_plan.process_id}", value)
    out = []
    for p in range(_plan.num_processes or 1):
        try:
            out.append(
                str(client.blocking_key_value_get(f"{prefix}/{p}", _plan.join_timeout_s * 1000))
            )
        except Exception as e:
            raise DistributedConfigError(
                f"process {p} did not publish {key!r} within {_plan.join_timeout_s} s: "
                f"{_first_line(e)}"
            ) from None
    return out


def process_id() -> int:
    """This process's index in the launch (0 for a single process)."""
    return _plan.process_id or 0 if _plan is not None else 0


def process_label() -> str:
    """'process I of N on HOST' for messages ('' for a single process)."""
    if _plan is None:
        return ""
    import socket

    return f"process {_plan.process_id} of {_plan.num_processes} on {socket.gethostname()}"
