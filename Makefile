# posedenoise: the two quick-start commands are `make study` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PD := $(BIN)/posedenoise
CODE := $(wildcard src tests benchmarks examples scripts)
# the quick study: small synthetic data, every one of the 24 runs trained briefly, Tables 1-4.
# Each model gets its own budget (windows per split, epochs); 3DConv and the bi-ConvLSTMs train with the
# chapter's recipe, DeciWatch with the better one of docs/fidelity.md (recorded in each run's config).
STUDY_DIR ?= study
STUDY_VIDEOS ?= 240
STUDY_PRECISION ?= bf16
STUDY_TEST ?= 32
STUDY_CONV3D ?= --limit 240 --max-epochs 5
STUDY_DECIWATCH ?= --limit 192 --max-epochs 3 --precision fp32 --lr 1e-4 \
	--model-option zero_init=true --model-option interval=2 --model-option dropout=0
STUDY_CONVLSTM ?= --limit 16 --max-epochs 2
STUDY_TRAIN = $(PD) train --all --precision $(STUDY_PRECISION) --data $(STUDY_DIR)/data --runs $(STUDY_DIR)/runs

.PHONY: install study study-long test lint format bench clean

$(BIN)/posedenoise: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the CPU wheel; a looser spec makes pip pull a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,parquet]"
	touch $(BIN)/posedenoise

install: $(BIN)/posedenoise

study: install
	$(PD) prepare --synthetic --synthetic-videos $(STUDY_VIDEOS) --out $(STUDY_DIR)/data
	$(STUDY_TRAIN) --model conv3d $(STUDY_CONV3D)
	$(STUDY_TRAIN) --model deciwatch $(STUDY_DECIWATCH)
	$(STUDY_TRAIN) --model convlstm-s $(STUDY_CONVLSTM)
	$(STUDY_TRAIN) --model convlstm-c $(STUDY_CONVLSTM)
	$(PD) report --data $(STUDY_DIR)/data --runs $(STUDY_DIR)/runs --limit $(STUDY_TEST) \
		--figure $(STUDY_DIR)/figure1.png
	$(PD) report --data $(STUDY_DIR)/data --runs $(STUDY_DIR)/runs --limit $(STUDY_TEST) \
		--latex --output $(STUDY_DIR)/tables.tex

# the longer recipe of docs/fidelity.md: the same 24 runs and Tables 1-4 on 1,000 synthetic videos with
# larger budgets (3DConv 400 steps, DeciWatch 6 epochs of 13,700 windows, bi-ConvLSTMs 60 steps), test
# tables on 320 windows per experiment: about 3 CPU-hours (docs/fidelity.md gives the measured time).
study-long:
	$(MAKE) study STUDY_DIR=study-long STUDY_VIDEOS=1000 STUDY_TEST=320 \
		STUDY_CONV3D="--limit 3200 --max-epochs 2" \
		STUDY_DECIWATCH="--max-epochs 6 --precision fp32 --lr 1e-3 --warmup-steps 500 \
		--model-option zero_init=true --model-option interval=1 --model-option dropout=0" \
		STUDY_CONVLSTM="--limit 480 --max-epochs 2"

lint: install
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)

format: install
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

test: install lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/run.py --quick

clean:
	rm -rf $(STUDY_DIR) study-long .pytest_cache .ruff_cache
