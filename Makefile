# nvsense: `make demo` runs the main job on the simulated bench, `make test` runs every test.
# Both create .venv (with python3) and install the package with all extras when needed;
# they are quick when nothing changed (the install is redone only when pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# the ahead-of-time kernels (nvsense.fitting.aot) are rebuilt when a kernel's source changes
AOT_STAMP := $(VENV)/.aot-stamp
KERNEL_SOURCES := $(addprefix nvsense/fitting/,jit.py kernel_layout.py lm_kernel.py \
                    guess_kernel.py nv_transitions.py)
PYTEST_ARGS ?= -n 2

.PHONY: demo test lint bench clean install docs docs-serve

install: $(STAMP) $(AOT_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m nvsense.fitting.precompile  # numba's cache and the ahead-of-time kernels
	touch $(STAMP) $(AOT_STAMP)

$(AOT_STAMP): $(KERNEL_SOURCES) | $(STAMP)
	-$(BIN)/python -m nvsense.fitting.aot  # (without them the fits use numba's build)
	touch $(AOT_STAMP)

demo: $(STAMP) $(AOT_STAMP)
	$(BIN)/nvsense odmr

test: $(STAMP) $(AOT_STAMP)
	$(BIN)/ruff check .
	QT_QPA_PLATFORM=offscreen MPLBACKEND=Agg $(BIN)/python -m pytest $(PYTEST_ARGS) --nbmake tests notebooks

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The documentation site (mkdocs.yml): `make docs` builds it strictly into site/ (the test
# suite builds it too, into a temporary folder); `make docs-serve` serves it on
# http://127.0.0.1:8000 with live reload.
DOCS_ENV := NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true

docs: $(STAMP)
	$(DOCS_ENV) $(BIN)/mkdocs build --strict

docs-serve: $(STAMP)
	$(DOCS_ENV) $(BIN)/mkdocs serve

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache .ruff_cache
