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
arm() {  # NAME INIT CORE
  local name=$1 init=$2 core=$3
  taskset -c "$core" geor1 pretrain --init "$init" --vision-only --out "$OUT/$name/phase0" --pool-size 3000 \
      --steps "$P0_STEPS" --batch 32 --lr 2e-3 --warmup 50 --decay-steps 1500 --workers 1 --threads 1 --seed 0
  taskset -c "$core" geor1 pretrain --init "$OUT/$name/phase0/final" --out "$OUT/$name/phase1" --pool-size 3000 \
      --max-objects 1 --steps "$P1_STEPS" --batch 16 --lr 1e-3 --warmup 30 --decay-steps 2000 --dense-weight 1 \
      --ground-weight 1 --frame norm100 --eval-every 100 --eval-n 96 --threads 1 --workers 1 --seed 0
}
mkdir -p "$OUT"
arm qwen2.5-vl tiny 0 > "$OUT/qwen2.5-vl.log" 2>&1 &
arm qwen3-vl tiny-qwen3-vl 1 > "$OUT/qwen3-vl.log" 2>&1 &
wait
