#!/usr/bin/env bash
# Every GPU check of xmsem in one command, at most 7 minutes (the step timeouts add up to 415 s):
#   1. pytest -m gpu                 runs on CUDA, snapshot metrics CUDA == CPU, local_gpus launcher
#   2. benchmarks/train_speed.py     cohort vs raw torch loop, ensemble=20 vs 20 sequential runs
#   3. +experiment=init_sensitivity  ensemble=20 (PGNN + MLP) timed, then xmsem.analyze timed
#   4. benchmarks/callback_cost.py   fmnist_pgnn_vs_mlp's snapshot share on the GPU (2 epochs,
#                                    projected onto its 20 epochs and 6 snapshots)
#
#   bash benchmarks/gpu_check.sh            # from the checkout root
#   DRY_RUN=1 bash benchmarks/gpu_check.sh  # print the steps, run only the non-GPU preparation
#
# Offline GPU machines: put wheels of hydra-core, omegaconf and antlr4-python3-runtime in
# ../.gpu/wheels (beside the checkout; e.g. `cp /work/shared/wheels/* ../.gpu/wheels/`) and the
# Fashion-MNIST .gz files in ../.gpu/fashion-mnist; the script installs the wheels with
# `pip install --no-index` when hydra is missing and points XMSEM_FMNIST_DIR at the data.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GPU_DIR="${GPU_DIR:-$(dirname "$ROOT")/.gpu}"
PY="${PYTHON:-python3}"
[ -x "$ROOT/.venv/bin/python" ] && PY="$ROOT/.venv/bin/python"
OUT="${OUT:-$(mktemp -d)}"
DRY="${DRY_RUN:-0}"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" WANDB_MODE=disabled

step() { echo; echo "== $* ($(date +%T))"; }
FAILED=()
run() { if [ "$DRY" = 1 ]; then echo "[dry run] $*"; else "$@"; fi; }
check() { run "$@" || { echo "FAILED ($?): $*"; FAILED+=("$*"); }; }

step "environment"
if ! "$PY" -c "import hydra, omegaconf, antlr4" 2>/dev/null; then
  if [ -d "$GPU_DIR/wheels" ]; then
    run "$PY" -m pip install --no-index --find-links "$GPU_DIR/wheels" \
      hydra-core omegaconf antlr4-python3-runtime
  else
    echo "hydra-core/omegaconf/antlr4 missing and no wheels in $GPU_DIR/wheels" >&2; exit 1
  fi
fi
if [ -z "${XMSEM_FMNIST_DIR:-}" ] && [ -d "$GPU_DIR/fashion-mnist" ]; then
  export XMSEM_FMNIST_DIR="$GPU_DIR/fashion-mnist"
fi
FMNIST=()
[ -n "${XMSEM_FMNIST_DIR:-}" ] && FMNIST=("data.data_dir=$XMSEM_FMNIST_DIR")
echo "python: $PY | fmnist: ${XMSEM_FMNIST_DIR:-<default places>} | outputs: $OUT"
run "$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; \
print('device:', torch.cuda.get_device_name(0), '| torch', torch.__version__)"

step "1. pytest -m gpu"
check timeout 120 "$PY" -m pytest -q -m gpu -p no:cacheprovider

step "2. train_speed"
check timeout 70 "$PY" benchmarks/train_speed.py --batches 0 --repeats 2 --sequential 5 \
  ${XMSEM_FMNIST_DIR:+--data-dir "$XMSEM_FMNIST_DIR"}

step "3. init_sensitivity: ensemble=20, PGNN + MLP, 10 epochs, then analyze"
SWEEP="$OUT/sweeps/init_sensitivity"
start=$(date +%s)
check timeout 120 "$PY" -m xmsem.train +experiment=init_sensitivity "paths.output_dir=$OUT" \
  trainer.accelerator=gpu "${FMNIST[@]}"
mid=$(date +%s)
check timeout 45 "$PY" -m xmsem.analyze "$SWEEP" --no-figures
end=$(date +%s)
echo "init_sensitivity: train $((mid - start)) s, analyze $((end - mid)) s (ensemble=20, 40 models)"

step "4. fmnist_pgnn_vs_mlp: snapshot share on the GPU"
check timeout 60 "$PY" benchmarks/callback_cost.py --only-full --epochs 2 --project-epochs 20 \
  -- trainer.accelerator=gpu "${FMNIST[@]}"
if [ "${#FAILED[@]}" -gt 0 ]; then
  printf 'gpu_check: %d step(s) failed\n' "${#FAILED[@]}"; exit 1
fi
echo "gpu_check: all steps passed"
