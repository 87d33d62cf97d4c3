# Every target sets up what it needs first; all are idempotent and quick once set up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RESGEN := $(VENV)/bin/resgen
STAMP  := $(VENV)/.installed

.PHONY: run test build setup graphviz lint clean

## run: set up, then build, summarise (and draw) specs/resnet152.yaml
run: setup
	$(RESGEN) build specs/resnet152.yaml
	$(RESGEN) info specs/resnet152.yaml
	$(RESGEN) draw specs/resnet152.yaml -o build/resnet152.svg

## test: set up, then run every test (what CI runs)
test: setup
	$(PY) -m pytest -n 2 --dist worksteal -q

## fuzz: the property-based tests with thousands of examples each (hypothesis profile `fuzz`)
.PHONY: fuzz
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -n 2 -q tests/test_fuzz.py

## build: regenerate generated/ from specs/ (the golden files): each spec's model and deploy build
build: setup
	$(RESGEN) build specs --deploy

## docs: redraw docs/ (the README's pictures): every spec at block detail, ResNet-152 at all three
.PHONY: docs
docs: setup
	for spec in specs/*.yaml; do $(RESGEN) draw $$spec -o docs/ || exit 1; done
	$(RESGEN) draw specs/resnet152.yaml --detail stage -o docs/resnet152-stage.svg
	$(RESGEN) draw specs/resnet152.yaml --detail op -o docs/resnet152-op.svg
	$(RESGEN) draw tests/golden/specs/broken_identity.yaml -o docs/ || test $$? -eq 1

## schema: regenerate schema/resgen-spec.schema.json (the editors' schema) from the spec models
.PHONY: schema
schema: setup
	$(RESGEN) schema -o schema/resgen-spec.schema.json

## degradation: train plain/residual 20/56 on digits, 3 seeds (~20 min on 2 quiet cores): docs/degradation.png, .json
.PHONY: degradation
degradation: setup
	$(PY) examples/degradation.py

## bench: quick benchmarks (a few minutes): generated vs torchvision, the deploy build, the compiler
.PHONY: bench
bench: setup
	$(PY) benchmarks/bench_models.py --quick
	$(PY) benchmarks/bench_deploy.py --quick
	$(PY) benchmarks/bench_compiler.py --quick

## lint: ruff and mypy over the package, the tests and the generated files
lint: setup
	$(PY) -m ruff check resgen tests generated
	$(PY) -m ruff format --check generated
	$(PY) -m mypy

setup: $(STAMP) graphviz chromium

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Drawing needs Graphviz's `dot`; without it resgen still writes the DOT text.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  echo "Installing Graphviz (dot) with apt-get..."; \
	  { apt-get update -qq && apt-get install -y -qq graphviz >/dev/null; } \
	  || echo "warning: could not install Graphviz; install it with: sudo apt-get install graphviz" >&2; }

# The view tests drive Debian's Chromium headless (Playwright never downloads a browser here).
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Chromium with apt-get (for the resgen view tests)..."; \
	  { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	  || echo "warning: could not install Chromium; the browser tests will skip" >&2; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
