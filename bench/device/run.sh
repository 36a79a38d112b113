#!/usr/bin/env bash
# kdkit's benchmark on a lent GPU machine (one H200, 16 cores, Python 3.12 with
# torch 2.11 in the image, NO network), in ONE call of at most 10 minutes.
#
# Here, once (needs the package registry):
#   bash bench/device/fetch.sh          # -> build/device-wheels/ (~10 MiB, ignored by git)
# Then one device call, from the repository root:
#   run(command='bash bench/device/run.sh', carry=['build/device-wheels'], timeout_s=600)
# The record comes back from $OUT: full_<time>.{json,md}, latest_full.md, plan.txt,
# setup.log, bench.log (a bench cut short by the time limit still leaves the record of
# its teachers and plain students, marked partial).
#
# Modes:
#   run.sh [all]        setup, data, time plan, `kdkit bench --seeds 0 1 2`, record to $OUT
#   run.sh setup-only   install the carried wheels, build xtcocotools and mmcv (with its
#                       ops), check the stack imports (`kdkit doctor`); no data, no GPU needed
#   run.sh plan [SECONDS_SPENT]   print the time plan only (nothing installed)
#   run.sh --help
#
# How the 10 minutes go (KDKIT_BUDGET_S=570 of the call's 600 s: the rest is for
# the files coming back): setup is measured (wheels ~10 s, xtcocotools ~15 s, mmcv
# with CUDA ops for the GPU's architecture only ~4-6 min with MAX_JOBS=16, CPU ops only
# ~1.5 min; `kdkit doctor` ~10 s), the full data is generated (~1 min on 16 processes),
# then bench/device/recipe.py's plan splits what is left: the teachers (RTMPose-s
# stride 16, ResNet-50; the ResNet-18 is shipped) and the plain students in one phase,
# the 7 distilled students x 3 seeds in the next, KDKIT_JOBS trainings at a time
# (auto: the number that fits most epochs), 45 s for the record, 20 % spare; the
# epochs that fit are passed to `kdkit bench --epochs/--teacher-epochs` and stated in
# the record. The configs' 60 epochs x 3 seeds need about half an hour of training on
# such a machine (plan's estimate): more than one call; the record says which epochs ran.
#
# Environment (defaults): OUT (set by the device tool; required for `all`),
# PYTHON (python3), KDKIT_WHEELS (build/device-wheels), KDKIT_SITE (/tmp/kdkit-site:
# the packages go there, on PYTHONPATH, not into the image's Python),
# KDKIT_BUILD (/tmp/kdkit-build), KDKIT_MMCV_CUDA (1: CUDA ops, falling back to CPU
# ops if that build fails; 0: CPU ops only, which is enough for every bench model and
# leaves ~3 more minutes to train; auto: CUDA where nvcc and a GPU are found),
# MAX_JOBS (the cores), TORCH_CUDA_ARCH_LIST (the GPU's, e.g. 9.0), KDKIT_BUDGET_S (570),
# KDKIT_JOBS (auto), KDKIT_SEEDS ("0 1 2").
set -uo pipefail

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

MODE=${1:-all}
case "$MODE" in
  all|setup-only|plan) ;;
  -h|--help|help) usage; exit 0 ;;
  *) echo "run.sh: unknown mode '$MODE' (expected all, setup-only or plan; --help)" >&2; exit 2 ;;
esac

REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO" || exit 1
PYTHON=${PYTHON:-python3}
WHEELS=${KDKIT_WHEELS:-build/device-wheels}
SITE=${KDKIT_SITE:-/tmp/kdkit-site}
BUILD=${KDKIT_BUILD:-/tmp/kdkit-build}
MMCV_CUDA=${KDKIT_MMCV_CUDA:-1}
BUDGET=${KDKIT_BUDGET_S:-570}
JOBS=${KDKIT_JOBS:-auto}
SEEDS=${KDKIT_SEEDS:-0 1 2}
CORES=$(nproc 2>/dev/null || echo 2)
export MAX_JOBS=${MAX_JOBS:-$CORES}
OUT=${OUT:-}
N_SEEDS=$(wc -w <<<"$SEEDS")

if [ "$MODE" = plan ]; then
  exec "$PYTHON" bench/device/recipe.py plan --elapsed "${2:-0}" --budget "$BUDGET" \
    --seeds "$N_SEEDS" --jobs "$JOBS"
fi

LOG=/dev/null
if [ -n "$OUT" ]; then mkdir -p "$OUT" && LOG="$OUT/setup.log"; : >"$LOG"; fi
log() { echo "[run.sh $(printf '%4d' "$SECONDS") s] $*" | tee -a "$LOG"; }
die() { log "error: $*"; exit 1; }
note() { echo "[run.sh] $*"; }  # inside a step: its output goes to setup.log
step() {  # step NAME COMMAND...: run, log its output and seconds
  local name=$1 t0=$SECONDS; shift
  log "$name ..."
  "$@" >>"$LOG" 2>&1 || { tail -n 40 "$LOG" >&2; die "$name failed (see setup.log)"; }
  log "$name: $((SECONDS - t0)) s"
}

check_carried() {
  [ -d "$WHEELS" ] || die "$WHEELS not found: run bench/device/fetch.sh here and carry it"
  local missing=() name version kind
  while read -r spec kind; do
    name=${spec%%==*}; version=${spec##*==}
    compgen -G "$WHEELS/${name}-${version}[-.]*" >/dev/null || missing+=("$spec ($kind)")
  done < <("$PYTHON" bench/device/recipe.py carried)
  [ ${#missing[@]} -eq 0 ] || die "missing in $WHEELS: ${missing[*]} (bench/device/fetch.sh)"
}

install_wheels() {
  "$PYTHON" -m pip install --no-index --no-deps --upgrade --disable-pip-version-check \
    --target "$SITE" "$@"
}

build_sdist() {  # build_sdist NAME: a carried source archive -> wheel -> $SITE
  local name=$1 wheel
  wheel=$(compgen -G "$BUILD/${name}-*.whl" | head -n1)
  if [ -z "$wheel" ]; then
    "$PYTHON" -m pip wheel --no-deps --no-build-isolation --no-index \
      --disable-pip-version-check -w "$BUILD" "$WHEELS/${name}"-*.tar.gz || return 1
    wheel=$(compgen -G "$BUILD/${name}-*.whl" | head -n1)
  fi
  install_wheels "$wheel"
}

has_nvcc() {
  command -v nvcc >/dev/null || [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]
}

build_mmcv() {
  export MMCV_WITH_OPS=1
  local want=$MMCV_CUDA
  if [ "$want" = auto ]; then
    if has_nvcc && command -v nvidia-smi >/dev/null; then want=1; else want=0; fi
  fi
  if [ "$want" = 1 ] && ! has_nvcc; then note "no nvcc: mmcv gets CPU ops only"; want=0; fi
  if [ "$want" = 1 ]; then
    if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
      TORCH_CUDA_ARCH_LIST=$("$PYTHON" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())' 2>/dev/null || echo 9.0)
      export TORCH_CUDA_ARCH_LIST
    fi
    note "mmcv: CUDA ops for $TORCH_CUDA_ARCH_LIST, MAX_JOBS=$MAX_JOBS"
    if FORCE_CUDA=1 build_sdist mmcv; then MMCV_BUILT=cuda; return 0; fi
    note "mmcv: the CUDA build failed; building CPU ops (no bench model uses an mmcv op)"
    rm -f "$BUILD"/mmcv-*.whl
  fi
  # CPU ops only: setup.py builds CUDA ops whenever torch sees a GPU, so hide it
  CUDA_VISIBLE_DEVICES='' FORCE_CUDA=0 build_sdist mmcv && MMCV_BUILT=cpu
}

verify_stack() {
  "$PYTHON" - <<'EOF' || return 1
import mmcv, mmcv.ops, mmdet, mmengine, mmpose, pycocotools, torch, xtcocotools  # noqa: F401
import kdkit
from mmcv.ops import get_compiling_cuda_version, get_compiler_version
print(f'torch {torch.__version__} (CUDA {torch.version.cuda}, GPU available: '
      f'{torch.cuda.is_available()}), mmcv {mmcv.__version__} (ops compiled with CUDA '
      f'{get_compiling_cuda_version()}, {get_compiler_version()}), mmengine '
      f'{mmengine.__version__}, mmpose {mmpose.__version__}, mmdet {mmdet.__version__}, '
      f'kdkit {kdkit.__version__} from {kdkit.__file__}')
EOF
  "$PYTHON" -m kdkit.cli doctor
}

setup() {
  log "setup: $("$PYTHON" -V 2>&1) at $(command -v "$PYTHON"), $CORES cores, site $SITE"
  check_carried
  mkdir -p "$SITE" "$BUILD"
  step 'install the carried wheels' install_wheels "$WHEELS"/*.whl
  # the carried packages first; kdkit from this checkout (pyproject says Python 3.11,
  # which pip would refuse on 3.12: nothing in kdkit needs installing)
  export PYTHONPATH="$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}"
  step 'build xtcocotools' build_sdist xtcocotools
  MMCV_BUILT=none
  step 'build mmcv with its ops' build_mmcv
  step 'check the stack' verify_stack
  log "setup done in $SECONDS s (mmcv ops: $MMCV_BUILT)"
}

setup
[ "$MODE" = setup-only ] && exit 0

[ -n "$OUT" ] || die 'OUT is not set: the record has nowhere to go'
step 'generate the full data' "$PYTHON" -m kdkit.cli data generate --profile full --seed 0 \
  --out data/kdkit_full --workers "$CORES" --no-progress

"$PYTHON" bench/device/recipe.py plan --elapsed "$SECONDS" --budget "$BUDGET" \
  --seeds "$N_SEEDS" --jobs "$JOBS" | tee "$OUT/plan.txt" | tee -a "$LOG"
PLAN=$(tail -n 1 "$OUT/plan.txt")
[[ $PLAN =~ ^EPOCHS=[0-9]+\ TEACHER_EPOCHS=[0-9]+\ JOBS=[0-9]+$ ]] || die "no plan: $PLAN"
eval "$PLAN"  # EPOCHS= TEACHER_EPOCHS= JOBS=
[ "${EPOCHS:-0}" -ge 1 ] || die "no epoch fits in the $BUDGET s after $SECONDS s of setup (plan.txt)"

WORKERS=$(( CORES / JOBS > 1 ? CORES / JOBS : 1 ))
LEFT=$(( BUDGET - SECONDS - 30 ))  # 30 s: the kill's grace and rendering a partial record
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}  # JOBS processes share the cores
log "kdkit bench: seeds $SEEDS, students $EPOCHS epochs, teachers $TEACHER_EPOCHS, $JOBS jobs x $WORKERS workers, ${LEFT} s at most"
# shellcheck disable=SC2086  # SEEDS is a list
timeout --signal=TERM --kill-after=15 "$LEFT" \
  "$PYTHON" -m kdkit.cli bench --profile full --seeds $SEEDS --epochs "$EPOCHS" \
  --teacher-epochs "$TEACHER_EPOCHS" --jobs "$JOBS" --latency-iters 0 --out "$OUT" \
  --work-dir work_dirs --cfg-options "train_dataloader.num_workers=$WORKERS" \
  "val_dataloader.num_workers=$WORKERS" "test_dataloader.num_workers=$WORKERS" \
  >"$OUT/bench.log" 2>&1
rc=$?
# cut short: the teachers' and plain students' record (written after phase 1) as .json/.md
if ! compgen -G "$OUT/full_*[0-9].md" >/dev/null; then
  for partial in "$OUT"/full_*.partial.json; do
    [ -f "$partial" ] || continue
    log "kdkit bench did not finish (exit $rc): rendering $(basename "$partial")"
    timeout 20 "$PYTHON" -m kdkit.cli bench --report "$partial" --out "$OUT" >>"$OUT/bench.log" 2>&1
  done
fi
# the end of every job that left no result (a failure or the time limit)
for job in work_dirs/bench_full/*.job.log work_dirs/*.job.log; do
  [ -f "$job" ] && [ ! -f "${job%.job.log}.job-result.json" ] || continue
  { echo "--- $job (no result)"; tail -n 15 "$job"; } >>"$OUT/bench.log"
done
log "kdkit bench exited $rc after $SECONDS s; record: $(ls "$OUT"/full_*.md 2>/dev/null || echo none)"
exit "$rc"
