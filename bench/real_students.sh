#!/bin/bash
# The three students of issue #15 on Demo_MultiPerson (one seed): mixed,
# generated-only and real-only, the same config with other sample ratios.
# TEMPORAL=1 trains two more, on windows of 4 frames (CombinedVideoDataset):
# the temporal term on real clips at its weight (mixed-temporal) and at 0
# (mixed-clips: the same data and sampling without it); with FROM=CHECKPOINT both
# fine-tune that student instead (mixed-temporal-ft, mixed-clips-ft).
# Resumable: a finished run is skipped, a cut one resumes.
set -e
cd "$(dirname "$0")/.."
SEED=${SEED:-0}
EPOCHS=${EPOCHS:-20}  # the config's schedule; fewer: the cosine is shortened to match
CFG=configs/real/kd-pseudo_mobilenetv2_20e_kdkit-video+demo-multiperson-128x96.py
TCFG=configs/real/kd-pseudo-temporal_mobilenetv2_20e_kdkit-video+demo-multiperson-128x96.py
run() {  # name config ratio [more --cfg-options]
  local name=$1 cfg=$2 ratio=$3; shift 3
  wd=work_dirs/real_students/${EPOCHS}e/${name}_seed$SEED
  if [ -f "$wd/epoch_$EPOCHS.pth" ]; then echo "$name: done"; return; fi
  resume=""; [ -f "$wd/last_checkpoint" ] && resume=--resume
  .venv/bin/kdkit train "$cfg" --work-dir "$wd" --seed "$SEED" $resume \
    --max-epochs "$EPOCHS" --cfg-options "train_dataloader.dataset.sample_ratio_factor=$ratio" \
    "param_scheduler.1.end=$EPOCHS" "param_scheduler.1.T_max=$EPOCHS" "$@"
}
if [ "${TEMPORAL:-0}" = 1 ]; then
  if [ -n "${FROM:-}" ]; then  # fine-tune a trained student (e.g. the shipped one's run)
    run mixed-temporal-ft $TCFG "[0.15,1.0]" "load_from=$FROM"
    run mixed-clips-ft $TCFG "[0.15,1.0]" "custom_hooks.1.weights.kd_temporal=0.0" "load_from=$FROM"
    # robust: smooth-L1 on the velocity error (a few pairs, e.g. a swap between the
    # two people, dominate the squared error), at a weight for its larger raw size
    run mixed-temporal-sl1-ft $TCFG "[0.15,1.0]" "load_from=$FROM" \
      "custom_hooks.1.terms.kd_temporal.smooth_l1=0.01" "custom_hooks.1.weights.kd_temporal=0.01"
    exit 0
  fi
  run mixed-temporal $TCFG "[0.15,1.0]"
  run mixed-clips $TCFG "[0.15,1.0]" "custom_hooks.1.weights.kd_temporal=0.0"
  exit 0
fi
run mixed $CFG "[0.15,1.0]"
run generated-only $CFG "[0.3,0]"
run real-only $CFG "[0,2]"
