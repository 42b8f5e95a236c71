#!/usr/bin/env bash
# The accelerator check of docs/THROUGHPUT.md: ../shared/device/gpu-check.sh with tighter per-step
# timeouts (to fit a short device lease) plus `--vs-peer`. Run from the project root: bash benchmarks/gpu_check_short.sh
set -u
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out="${OUT:-/tmp/gpu-check}"; mkdir -p "$out"; py=${PYTHON:-python3}
$py -c "import jax,jaxlib;print('jax',jax.__version__,'backend',jax.default_backend(),[d.device_kind for d in jax.devices()])" 2>&1 | tee "$out/devices.txt"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee -a "$out/devices.txt"
t8=${T8:-80}; t64=${T64:-110}; tp=${TP:-80}; tw=${TRAIN_S:-45}; n=${BIG:-65536}; s=${SMALL:-8192}
echo "== profiler at $s"; timeout $t8 $py -m profiler --mode env-only,trainer --num-envs $s --repeats 3 --ceiling quick --out "$out/prof-$s.json" 2>"$out/prof-$s.err" | tail -12
echo "== profiler at $n"; timeout $t64 $py -m profiler --mode env-only,trainer --num-envs $n --repeats 3 --ceiling quick --out "$out/prof-$n.json" 2>"$out/prof-$n.err" | tail -12
echo "== vs-peer at $n"; timeout $tp $py -m profiler --mode trainer --vs-peer --num-envs $n --repeats 3 --ceiling off --out "$out/peer-$n.json" 2>"$out/peer-$n.err" | tail -8
echo "== ${tw}s training at $n"; timeout $((tw + 85)) $py -m ppo.train --num-envs $n --total-steps 2000000000 --max-wall-s $tw --wandb disabled --run-dir "$out/runs" >"$out/train.log" 2>&1; tail -5 "$out/train.log"
rm -rf "$out/runs"/*/checkpoints; tar czf "$out/runs.tgz" -C "$out" runs 2>/dev/null; rm -rf "$out/runs"
