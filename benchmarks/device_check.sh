#!/usr/bin/env bash
# One-shot check on a CUDA machine: the captured-graph training path against the plain loop
# (equivalence tests), the engine benchmark, and the question types' presets with wall times.
# Needs torch, numpy, matplotlib and pytest; the mnist1d package and the generated data can be
# carried in .device/pylib and data/ (nothing is downloaded). Writes logs under ${OUT:-out}.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD:$PWD/.device/pylib${PYTHONPATH:+:$PYTHONPATH}"
PY=${PY:-python3}
run() { echo "+ $*"; "$@"; }

nvidia-smi -L
run "$PY" -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"
run "$PY" -m pytest -q --noconftest -p no:cacheprovider tests/experiments/test_trainer.py \
  tests/experiments/test_norms.py tests/experiments/test_fused.py \
  tests/experiments/test_step_paths.py 2>&1 | tail -n 5
run "$PY" -m service.cli bench engine --device cuda --seeds 8 --steps 300 --batch-sizes 8,64
run "$PY" -m service.cli bench engine --device cuda --seeds 64 --steps 100 --batch-sizes 8
run "$PY" -m service.cli bench engine --device cuda --seeds 8 --steps 200 --batch-sizes 8 --no-graph
for preset in quick full; do
  for t in ${TYPES:-small_batch_statistics gamma_beta_undo covariate_shift_generalization}; do
    start=$SECONDS
    "$PY" -m service.cli run "$t" --preset "$preset" --device cuda --out "$OUT/$t-$preset" \
      > "$OUT/$t-$preset.log" 2>&1
    echo "$t $preset rc=$? wall=$((SECONDS - start)) s"
    tail -n 2 "$OUT/$t-$preset.log" | cut -c1-400
  done
done
