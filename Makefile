# Two entry points on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test bench models clean

# torch is pinned here (the CPU build on these machines); an unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

# Browser tests drive Debian's Chromium (Playwright cannot download browsers here).
$(VENV)/.test: $(VENV)/.base
	$(PIP) install -e '.[test]'
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1) \
		|| echo "warning: could not install chromium; the browser tests need /usr/bin/chromium"
	touch $@

# The remote-engine tests start a real llama.cpp server (llama-cpp-python, built here from its sdist with
# the system compiler: 3 to 6 minutes on 2 cores, once per venv) and convert models to GGUF with the
# converter that the same sdist vendors. A machine that cannot build it gets a warning: the tests that
# need it skip, and fail in CI (MODELITO_REQUIRE_FIXTURES=1).
LLAMA_VERSION := 0.3.36
LLAMA_SRC     := $(abspath $(VENV))/llama-src
$(VENV)/.llama: $(VENV)/.test
	@rm -rf $(LLAMA_SRC) && mkdir -p $(LLAMA_SRC)
	@echo "building llama-cpp-python $(LLAMA_VERSION) for the remote-engine tests (a few minutes, once) ..."
	@if $(PIP) download --no-deps --no-binary :all: llama-cpp-python==$(LLAMA_VERSION) -d $(LLAMA_SRC) \
		&& tar xzf $(LLAMA_SRC)/llama_cpp_python-$(LLAMA_VERSION).tar.gz -C $(LLAMA_SRC) \
		&& echo 'set(LLAMA_BUILD_COMMON OFF CACHE BOOL "" FORCE)' > $(LLAMA_SRC)/no-common.cmake \
		&& CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DCMAKE_PROJECT_llama.cpp_INCLUDE=$(LLAMA_SRC)/no-common.cmake" \
		   $(PIP) install "$(LLAMA_SRC)/llama_cpp_python-$(LLAMA_VERSION)[server]" sentencepiece; \
	then echo "llama-cpp-python $(LLAMA_VERSION) built"; \
	else echo "warning: could not build llama-cpp-python; the remote-engine tests need it"; fi
	@touch $@

demo: $(VENV)/.base
	$(PY) -m modelito.demo
	@echo; echo "Next: .venv/bin/modelito chat -m modelito-tiny-instruct   or   .venv/bin/modelito serve -m modelito-tiny-instruct"
	@echo "      (serve, then open http://127.0.0.1:8000/ in a browser)"

# pytest exits 5 when it collects nothing: that is a failure of the suite's layout, say so clearly.
test: $(VENV)/.llama
	@$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: check tests/"; exit 1; fi; exit $$rc

bench: $(VENV)/.base
	$(PY) benchmarks/decode.py

# Retrain the shipped tiny models from ../shared/corpora (about 30 minutes on 2 cores).
models: $(VENV)/.base
	$(PY) recipes/tiny_models.py

clean:
	rm -rf $(VENV) .pytest_cache
