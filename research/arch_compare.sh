#!/usr/bin/env bash
# Side by side, same data and step budget: the tiny Qwen2.5-VL (224 px, 14-px patches, rotary
# positions only) against the tiny Qwen3-VL (256 px, 16-px patches, learned absolute positions +
# DeepStack); both 64 image tokens, both answering on 0-100. One core each, run together so both
# see the same machine load. Phase 0: vision tower + dense object probe on full scenes; phase 1:
# the whole model on one-object scenes with the position, dense, grounding and box losses.
#   bash research/arch_compare.sh runs/arch        # ~30 min on 2 cores
set -euo pipefail
OUT=${1:-runs/arch}
P0_STEPS=${P0_STEPS:-300}
P1_STEPS=${P1_STEPS:-500}
arm() {  # NAME INIT CORE: the shipped phase recipes, at this budget, one thread
  local name=$1 init=$2 core=$3
  taskset -c "$core" geor1 pretrain tiny/pretrain_vision --no-progress --set "init=$init" \
      "out=$OUT/$name/phase0" pool_size=3000 "steps=$P0_STEPS" threads=1 workers=1
  taskset -c "$core" geor1 pretrain tiny/pretrain_one_object --no-progress --set "init=$OUT/$name/phase0/final" \
      "out=$OUT/$name/phase1" pool_size=3000 "steps=$P1_STEPS" eval_every=100 eval_n=96 threads=1 workers=1
}
mkdir -p "$OUT"
arm qwen2.5-vl tiny 0 > "$OUT/qwen2.5-vl.log" 2>&1 &
arm qwen3-vl tiny-qwen3-vl 1 > "$OUT/qwen3-vl.log" 2>&1 &
wait
