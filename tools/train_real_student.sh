#!/bin/bash
# `make real-student`: trains the shipped real-video student of issue #15 and
# packs it into checkpoints/ (fp16 weights + the run's log), as the config says:
#   configs/real/kd-pseudo_mobilenetv2_gen20-mix60e_kdkit-video+demo-multiperson-128x96.py
# Needs data/kdkit_full (kdkit data generate --profile full) and
# data/real/demo_multiperson (make real-labels); the Makefile target makes both.
# Resumable: a finished stage is skipped, a cut one resumes. About 30 min on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${SEED:-0}
KDKIT=${KDKIT:-.venv/bin/kdkit}
OUT=${OUT:-checkpoints}
MIX=configs/real/kd-pseudo_mobilenetv2_20e_kdkit-video+demo-multiperson-128x96.py
SHIP=configs/real/kd-pseudo_mobilenetv2_gen20-mix60e_kdkit-video+demo-multiperson-128x96.py
STAGE1=work_dirs/real_student/generated-only-20e_seed$SEED
STAGE2=work_dirs/real_student/$(basename "$SHIP" .py)_seed$SEED

train() {  # work_dir epochs config [kdkit train options...]
  local wd=$1 epochs=$2; shift 2
  if [ -f "$wd/epoch_$epochs.pth" ]; then echo "$wd: done"; return; fi
  local resume=(); [ -f "$wd/last_checkpoint" ] && resume=(--resume)
  "$KDKIT" train "$@" --work-dir "$wd" --seed "$SEED" "${resume[@]}"
}

train "$STAGE1" 20 "$MIX" --cfg-options "train_dataloader.dataset.sample_ratio_factor=[0.3,0]"
train "$STAGE2" 60 "$SHIP" --cfg-options "load_from=$STAGE1/epoch_20.pth"
"$KDKIT" pack "$STAGE2/epoch_60.pth" "$OUT" --config "$SHIP"
# the pack keeps stage 2's log; stage 1's goes beside it
cp "$(ls "$STAGE1"/*/*.log | tail -n 1)" "$OUT/$(basename "$SHIP" .py).stage1.log"
