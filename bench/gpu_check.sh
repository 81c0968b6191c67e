#!/usr/bin/env bash
# The GPU figures of issue 28 in one run (about 8 minutes on one H100/H200), for a session that is lent
# a GPU. Run from the repository root:   bash bench/gpu_check.sh [OUT_DIR]        (OUT_DIR: default $OUT or ./gpu-check)
#   GPU_CHECK_DRY=1 bash bench/gpu_check.sh   the same steps on the CPU at tiny sizes (checks the script only)
# Each step has its own time limit and the script goes on after a failed step; every step's output
# (the machine line, a table, one JSON line) is kept in OUT_DIR/<step>.txt and summarised in summary.txt.
set -u
cd "$(dirname "$0")/.."
OUT_DIR=${1:-${OUT:-./gpu-check}}
mkdir -p "$OUT_DIR"
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for c in .venv/bin/python /work/main/.venv/bin/python python3 python; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c "import torch" >/dev/null 2>&1; then PY=$c; break; fi
  done
fi
[ -n "$PY" ] || { echo "no python with torch found (set PYTHON=...)"; exit 2; }
export PYTHONPATH=$PWD SDL_AUDIODRIVER=dummy SDL_VIDEODRIVER=offscreen
DRY=()
[ "${GPU_CHECK_DRY:-0}" = 1 ] && DRY=(--dry-run)
if [ ${#DRY[@]} -eq 0 ] && ! "$PY" -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "torch sees no CUDA device: nothing to measure (GPU_CHECK_DRY=1 checks the script on the CPU)"; exit 3
fi
SUMMARY="$OUT_DIR/summary.txt"
: > "$SUMMARY"
step() {  # step NAME SECONDS command...
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  echo "== $name (limit ${limit}s)" | tee -a "$SUMMARY"
  timeout --kill-after=10 "$limit" "$@" > "$OUT_DIR/$name.txt" 2>&1
  local rc=$?
  echo "   rc $rc, $((SECONDS - t0)) s" | tee -a "$SUMMARY"
  grep -E '^machine:|^ +GPU:' "$OUT_DIR/$name.txt" | head -2 >> "$SUMMARY"
  tail -n 3 "$OUT_DIR/$name.txt" | tee -a "$SUMMARY"
}
"$PY" -c "from gallery.machine import print_machine; print_machine(device='cuda' if __import__('torch').cuda.is_available() else None)" | tee -a "$SUMMARY"
if [ ${#DRY[@]} -eq 0 ]; then
  step cuda-tests 150 "$PY" -m pytest -q -m cuda -p no:cacheprovider tests/cuda
else
  step cuda-tests 150 "$PY" -m pytest -q -m cuda -p no:cacheprovider tests/cuda -rs
fi
step stylegan-1024-b1 90 "$PY" bench/gpu_bench.py stylegan --preset ffhq1024 --batch 1 --frames 120 "${DRY[@]}"
step vqclip-512-64cut 150 "$PY" bench/gpu_bench.py vqclip --size 512 --cutouts 64 --iters 10 "${DRY[@]}"
step stylegan-train-256 100 "$PY" bench/gpu_bench.py train --preset ffhq256 --steps 20 "${DRY[@]}"
step show-4k 60 "$PY" bench/gpu_bench.py show --size 3840x2160 --frames 240 "${DRY[@]}"
echo "done: $OUT_DIR/summary.txt"
