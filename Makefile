# Two entry points on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test bench clean

# torch is pinned here (the CPU build on these machines); an unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PIP) install -e '.[test]'
	touch $@

demo: $(VENV)/.base
	$(PY) -m modelito.demo

# pytest exits 5 when it collects nothing: that is a failure of the suite's layout, say so clearly.
test: $(VENV)/.test
	@$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: check tests/"; exit 1; fi; exit $$rc

bench: $(VENV)/.base
	$(PY) benchmarks/decode.py

clean:
	rm -rf $(VENV) .pytest_cache
