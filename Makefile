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

demo: $(VENV)/.base
	$(PY) -m modelito.demo
	@echo; echo "Next: .venv/bin/modelito chat -m modelito-tiny-instruct   or   .venv/bin/modelito serve -m modelito-tiny-instruct"
	@echo "      (serve, then open http://127.0.0.1:8000/ in a browser)"

# pytest exits 5 when it collects nothing: that is a failure of the suite's layout, say so clearly.
test: $(VENV)/.test
	@$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: check tests/"; exit 1; fi; exit $$rc

bench: $(VENV)/.base
	$(PY) benchmarks/decode.py

# Retrain the shipped tiny models from ../shared/corpora (about 30 minutes on 2 cores).
models: $(VENV)/.base
	$(PY) recipes/tiny_models.py

clean:
	rm -rf $(VENV) .pytest_cache
