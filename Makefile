# posedenoise: the two quick-start commands are `make study` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PD := $(BIN)/posedenoise
CODE := $(wildcard src tests benchmarks examples scripts)
# the quick study: small synthetic data, every one of the 24 runs trained briefly, Tables 1-4
STUDY_DIR ?= study
STUDY_VIDEOS ?= 240
STUDY_LIMIT ?= 16
STUDY_EPOCHS ?= 2
STUDY_PRECISION ?= bf16

.PHONY: install study test lint format bench clean

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
	$(PD) train --all --limit $(STUDY_LIMIT) --max-epochs $(STUDY_EPOCHS) --precision $(STUDY_PRECISION) \
		--data $(STUDY_DIR)/data --runs $(STUDY_DIR)/runs
	$(PD) report --data $(STUDY_DIR)/data --runs $(STUDY_DIR)/runs --limit $(STUDY_LIMIT) \
		--figure $(STUDY_DIR)/figure1.png
	$(PD) report --data $(STUDY_DIR)/data --runs $(STUDY_DIR)/runs --limit $(STUDY_LIMIT) \
		--latex --output $(STUDY_DIR)/tables.tex

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
	rm -rf $(STUDY_DIR) .pytest_cache .ruff_cache
