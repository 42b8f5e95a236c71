"""What machine and code a report was measured on."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import subprocess
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent


def utc_timestamp() -> str:
    """ISO 8601 UTC with a `Z` suffix, seconds precision."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def code_version(root: Path = REPO_ROOT) -> str:
    """Git commit of the tree (`-dirty` when tracked files are modified), or `unknown`."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
        suffix = "-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else ""
        return sha.stdout.strip() + suffix
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def source_digests(
    root: Path = REPO_ROOT, packages: tuple[str, ...] = ("envjax", "ppo", "profiler")
) -> dict:
    """A short sha256 of each package's *.py files as they are on disk right now.

    Several people edit one working tree, so a commit id (even with `-dirty`) does not say
    which code ran; these digests do, and two reports with equal digests ran the same code.
    """
    out: dict[str, str | None] = {}
    for pkg in packages:
        files = sorted((root / pkg).rglob("*.py"))
        if not files:
            out[pkg] = None
            continue
        h = hashlib.sha256()
        for f in files:
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
        out[pkg] = h.hexdigest()[:12]
    return out


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, falling back to platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def host_info() -> dict:
    """Host facts that need no JAX: CPU, cores, memory, load, Python, XLA flags."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    try:
        load = [float(x) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu_model": cpu_model(),
        "cpu_count_logical": os.cpu_count() or 1,
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "cpu_affinity": affinity,
        "memory_total_bytes": int(psutil.virtual_memory().total),
        "load_average": load,
        "hostname": platform.node(),
        "os": platform.platform(),
        "python_version": platform.python_version(),
        "xla_flags": os.environ.get("XLA_FLAGS"),
    }


def jax_info() -> dict:
    """The default JAX backend and its devices, with jax/jaxlib versions."""
    import jax
    import jaxlib

    devices = jax.devices()
    return {
        "backend": jax.default_backend(),
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "devices": [str(d) for d in devices],
        "jax_version": jax.__version__,
        "jaxlib_version": jaxlib.__version__,
    }


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages, or None where the OS has none."""
    try:
        return [float(x) for x in os.getloadavg()]
    except OSError:
        return None
