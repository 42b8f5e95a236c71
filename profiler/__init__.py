"""Caravan throughput profiler (`python -m profiler`).

Measures env steps/s of four modes (the plain-Python reference env, vmapped JAX env stepping,
the PPO trainer end to end, and the trainer with per-window eval and checkpointing), next to the
device's measured ceiling, and writes a JSON report whose schema lives in
`docs/schemas/throughput_report.schema.json`.
"""

SCHEMA_VERSION = 1
