# Quick start targets (see README). `make demo` and `make test` each set up .venv first.
# SAM2_BUILD_CUDA=0: sam2 (prompt extra) installs without compiling its optional CUDA kernel.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= workflow,demo,prompt,dev
# OpenCV's contrib build (ours: classical.spatial_fill auto) and ultralytics' plain build share
# the cv2 files: the one installed last wins, so the contrib build is reinstalled last (its own
# version, from the pip cache)
CONTRIB := opencv-contrib-python-headless

.PHONY: install demo test lint pytest benchmarks

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	SAM2_BUILD_CUDA=0 $(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	version=$$($(BIN)/python -m pip show $(CONTRIB) 2>/dev/null | sed -n 's/^Version: //p'); \
	  if [ -n "$$version" ]; then \
	    $(BIN)/python -m pip install --quiet --no-deps --force-reinstall "$(CONTRIB)==$$version"; \
	  fi
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/snakemake --cores all

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint
	$(BIN)/snakemake --lint --config granularity=video

pytest: install
	tests/offline.sh $(BIN)/python -m pytest

test: lint pytest

benchmarks: install
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/speed.py
