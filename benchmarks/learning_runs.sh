#!/usr/bin/env bash
# Steps-to-target of several trainer configs (issue 10 item 4), 3 seeds each in one program
# (--num-seeds 3), at 8,192 envs. Env steps to the target do not depend on the machine, so the
# runs may go on any backend (on a GPU the configs share the device, one process each);
# time-to-target = steps / the config's steps/s from the profiler on the box in question.
#   bash benchmarks/learning_runs.sh OUT_DIR [MAX_WALL_S]
set -u
out=${1:?OUT_DIR}; wall=${2:-270}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
parallel=${PARALLEL:-1}
if [ "$parallel" = 1 ]; then export XLA_PYTHON_CLIENT_MEM_FRACTION=${MEM_FRACTION:-0.3}; fi
runs=${RUNS:-/tmp/learning-runs}
# NAME:FLAGS entries; CONFIGS (space-separated NAME:FLAGS with commas for spaces) overrides.
configs=("h128e2:--hidden 128 --epochs 2" "h64e1:--hidden 64 --epochs 1" "h128e1:--hidden 128 --epochs 1")
if [ -n "${CONFIGS:-}" ]; then read -r -a configs <<<"$CONFIGS"; configs=("${configs[@]//,/ }"); fi
for c in "${configs[@]}"; do
  name=${c%%:*}; flags=${c#*:}
  # shellcheck disable=SC2086
  timeout $((wall + 120)) $py -m ppo.train --num-envs "${ENVS:-8192}" --num-seeds 3 \
    --total-steps 200000000 \
    --max-wall-s "$wall" --eval-episodes 256 --keep-checkpoints 1 --wandb disabled \
    --run-dir "$runs" --run-id "$name" $flags ${EXTRA:-} >"$out/$name.log" 2>&1 &
  [ "$parallel" = 1 ] || wait
done
wait
$py -m benchmarks.steps_to_target "$runs"/* --out "$out/steps.json" --png "$out/curves.png" \
  | tee "$out/steps.txt"
tar czf "$out/records.tgz" --exclude=checkpoints -C "$runs" .
