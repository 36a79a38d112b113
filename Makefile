# kdkit -- `make test` and `make demo` set everything up on a fresh machine.
# The dependency list is environment.yml; tools/setup_env.py turns it into .venv
# (idempotent: a second run on a ready .venv returns in about a second).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
KDKIT  := $(VENV)/bin/kdkit
PROFILE ?= quick

.PHONY: setup test browser-test demo lab bench doctor clean help real-setup real-data real-labels real-student

help:
	@echo "make setup   build/verify .venv from environment.yml"
	@echo "make test    run the test suite (sets up first)"
	@echo "make browser-test  only the notebooks in JupyterLab in headless Chromium (needs chromium, chromium-driver)"
	@echo "make demo    teacher vs plain student vs distilled student on generated data (PROFILE=quick|full)"
	@echo "make bench   the side-by-side benchmark (writes bench/results/)"
	@echo "make lab     JupyterLab on the project"
	@echo "make doctor  check the stack"
	@echo "make real-setup  build/verify .venv-real (MediaPipe labeller, separate: protobuf<5)"
	@echo "make real-data   pose2sim's Demo_MultiPerson videos into data/real/ (from its PyPI wheel)"
	@echo "make real-labels MediaPipe labels of those videos, then the dataset data/real/demo_multiperson (val: cam04)"
	@echo "make real-student  train the shipped real-video student and pack it into checkpoints/ (~30 min on 2 cores)"

setup:
	@$(PYTHON) tools/setup_env.py --venv $(VENV)

test: setup
	$(PY) -m pytest

browser-test: setup
	$(PY) -m pytest tests/test_notebooks/test_browser.py

demo: setup
	$(KDKIT) demo --profile $(PROFILE)

bench: setup
	$(KDKIT) bench --profile $(PROFILE)
	$(PY) bench/onnx_speedup.py

doctor: setup
	$(KDKIT) doctor

lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=.

clean:
	rm -rf work_dirs data/kdkit_quick .pytest_cache

real-setup:
	@$(PYTHON) tools/setup_real_env.py --venv .venv-real

real-data:
	@$(PYTHON) tools/fetch_real_data.py --out data/real

# Real video: MediaPipe pseudo-labels of the 4 Demo_MultiPerson views, then a kdkit
# dataset (train: cam01-03, val/test: cam04). Each step runs only when its output is
# older than its inputs; labelling (and so .venv-real) only when the labels are stale.
REAL_DEMO   := data/real/Demo_MultiPerson
REAL_VIDEOS := $(foreach i,1 2 3 4,$(REAL_DEMO)/videos/cam0$(i).mp4)
REAL_LABELS := data/real/labels_mediapipe.json
REAL_OUT    := data/real/demo_multiperson
LABEL_VIDEOS := 'import sys; from kdkit.teachers.mediapipe import label_videos; label_videos(sys.argv[2:], sys.argv[1], num_poses=2)'

real-labels: setup real-data
	@$(MAKE) --no-print-directory $(REAL_OUT)/meta.json

$(REAL_LABELS): $(REAL_VIDEOS)
	@$(MAKE) --no-print-directory real-setup
	$(PY) -c $(LABEL_VIDEOS) $@ $(REAL_VIDEOS)

$(REAL_OUT)/meta.json: $(REAL_LABELS) $(REAL_VIDEOS)
	$(KDKIT) data from-video $(REAL_VIDEOS) --labels $(REAL_LABELS) --val cam04 \
	    --out $(REAL_OUT) --overwrite

# The shipped real-video student: generated frames, then the mix with the real
# pseudo-labels (configs/real/kd-pseudo_mobilenetv2_gen20-mix60e_*.py says how).
real-student: real-labels
	$(KDKIT) data generate --profile full --out data/kdkit_full
	KDKIT=$(KDKIT) bash tools/train_real_student.sh
