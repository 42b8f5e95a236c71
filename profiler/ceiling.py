"""The device's measured ceiling: a large float32 matmul's FLOP/s and a large copy's bytes/s.

Both run on the default JAX backend with non-zero random inputs, are compiled before timing,
block on their result before the clock is read, and report the median over repeats.
"""

from __future__ import annotations

from collections.abc import Callable

from profiler.stats import summarize, time_repeats

# (matmul n, copy MiB) by backend family and level. The CPU sizes keep a full run to a few
# seconds on 2 cores while staying far outside the caches; accelerators need larger problems.
_SIZES: dict[tuple[str, str], tuple[int, int]] = {
    ("cpu", "full"): (2048, 256),
    ("cpu", "quick"): (512, 32),
    ("accel", "full"): (8192, 2048),
    ("accel", "quick"): (2048, 256),
}


def sizes(backend: str, level: str) -> tuple[int, int]:
    """Matmul side length and copy size (MiB) for a backend and a ceiling level."""
    family = "cpu" if backend == "cpu" else "accel"
    return _SIZES[(family, level)]


def measure(
    level: str,
    repeats: int,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Measure the matmul and copy ceilings; `level` is `full` or `quick`."""
    import jax
    import jax.numpy as jnp

    backend = jax.default_backend()
    n, copy_mib = sizes(backend, level)
    reps = max(3, repeats)
    key_a, key_b, key_c = jax.random.split(jax.random.PRNGKey(1234), 3)

    # Matmul: 2*n^3 FLOPs; inputs in [0.5, 1.5) so no zero or denormal shortcut applies.
    a = jax.random.uniform(key_a, (n, n), jnp.float32, 0.5, 1.5)
    b = jax.random.uniform(key_b, (n, n), jnp.float32, 0.5, 1.5)
    matmul = jax.jit(lambda x, y: x @ y).lower(a, b).compile()
    jax.block_until_ready(matmul(a, b))
    if progress:
        progress(f"ceiling: matmul {n}x{n} float32 compiled")
    mm = time_repeats(lambda: jax.block_until_ready(matmul(a, b)), reps, 1)
    flops = 2.0 * n**3
    mm_rates = summarize([flops / s for s in mm.seconds])

    # Copy: x <- x * c streams every byte in and out once. The input is donated so the output
    # reuses its buffer: a fresh output would time the OS faulting in new pages, not bandwidth.
    # The scale keeps values non-zero and stops XLA from eliding the pass.
    count = copy_mib * 1024 * 1024 // 4
    buf = {"x": jax.random.uniform(key_c, (count,), jnp.float32, 0.5, 1.5)}
    copy = jax.jit(lambda v: v * jnp.float32(1.0001), donate_argnums=0)
    copy = copy.lower(buf["x"]).compile()

    def copy_call() -> None:
        buf["x"] = copy(buf["x"])
        jax.block_until_ready(buf["x"])

    cp = time_repeats(copy_call, reps, 1)
    moved = 2.0 * count * 4
    cp_rates = summarize([moved / s for s in cp.seconds])
    if progress:
        progress(
            f"ceiling: {mm_rates['p50'] / 1e9:.1f} GFLOP/s matmul, "
            f"{cp_rates['p50'] / 1e9:.1f} GB/s copy"
        )
    return {
        "level": level,
        "matmul": {
            "n": n,
            "dtype": "float32",
            "flops_per_call": flops,
            "repeats": reps,
            "flops_per_sec": mm_rates,
            # Per CPU-second: on a shared machine the wall-clock rate falls with others' load,
            # this one much less (it still counts hyper-thread and cache contention).
            "flops_per_cpu_s": flops * reps / mm.cpu_s if mm.cpu_s > 0 else None,
        },
        "copy": {
            "bytes": count * 4,
            "bytes_moved_per_call": moved,
            "dtype": "float32",
            "repeats": reps,
            "bytes_per_sec": cp_rates,
            "bytes_per_cpu_s": moved * reps / cp.cpu_s if cp.cpu_s > 0 else None,
        },
    }
