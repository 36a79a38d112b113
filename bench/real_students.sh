#!/bin/bash
# The three students of issue #15 on Demo_MultiPerson (one seed): mixed,
# generated-only and real-only, the same config with other sample ratios.
# Resumable: a finished run is skipped, a cut one resumes.
set -e
cd "$(dirname "$0")/.."
SEED=${SEED:-0}
EPOCHS=${EPOCHS:-20}  # the config's schedule; fewer: the cosine is shortened to match
CFG=configs/real/kd-pseudo_mobilenetv2_20e_kdkit-video+demo-multiperson-128x96.py
run() {  # name ratio
  wd=work_dirs/real_students/${EPOCHS}e/$1_seed$SEED
  if [ -f "$wd/epoch_$EPOCHS.pth" ]; then echo "$1: done"; return; fi
  resume=""; [ -f "$wd/last_checkpoint" ] && resume=--resume
  .venv/bin/kdkit train $CFG --work-dir "$wd" --seed "$SEED" $resume \
    --max-epochs "$EPOCHS" --cfg-options "train_dataloader.dataset.sample_ratio_factor=$2" \
    "param_scheduler.1.end=$EPOCHS" "param_scheduler.1.T_max=$EPOCHS"
}
run mixed "[0.15,1.0]"
run generated-only "[0.3,0]"
run real-only "[0,2]"
