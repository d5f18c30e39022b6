# One command each for the main job and the tests; both set up .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup test run demo lint rules-doc tests-doc clean schemas mutation

# setuptools notes every editable install of a flat layout ("Editable installation. Please be careful with folders
# in your working directory..."): information, not a problem with the project, so set-up leaves it out.
$(BIN)/smi: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/smi

## setup also builds and installs the optional compiled YAML reader when cargo is there (ci/native.sh: cached by a
## hash of native/; without cargo, smi lint's pure-Python path, the same findings, slower)
setup: $(BIN)/smi
	@bash ci/native.sh $(BIN)/python

## test: the project's own test suite (what CI runs). SARIF_SCHEMA: the official SARIF schema, fetched with npm
## when npm is there (ci/sarif-schema.sh); JUNIT_XSD: the Jenkins JUnit schema, from pytest's source distribution
## (ci/junit-xsd.sh); CHROMIUM: Debian's chromium for the HTML report's browser test, installed with apt-get when
## missing (ci/chromium.sh). Without one of them the test that needs it skips and says so, except under CI=true
## (.ci/run sets it), where it fails: CI must run it (tests/conftest.py: missing_input).
SARIF_SCHEMA ?= $(shell bash ci/sarif-schema.sh 2>/dev/null)
JUNIT_XSD ?= $(shell bash ci/junit-xsd.sh 2>/dev/null)
CHROMIUM ?= $(shell bash ci/chromium.sh 2>/dev/null)
test: setup
	SARIF_SCHEMA='$(SARIF_SCHEMA)' JUNIT_XSD='$(JUNIT_XSD)' CHROMIUM='$(CHROMIUM)' \
	  $(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

## run: the main job: certify the bundled reference mesh on the embedded (loopback) cluster and print the report
## (reports in smi-conformance-report/: YAML, JSON, HTML)
REPORT_DIR ?= smi-conformance-report
run: setup
	$(BIN)/smi-conformance run --report $(REPORT_DIR)/report.yaml --report $(REPORT_DIR)/report.json \
		--html $(REPORT_DIR)/report.html --artifacts $(REPORT_DIR)/artifacts $(RUN_ARGS)

## demo: the reference mesh on the example topology (traffic, check, top, routes, metrics)
demo: setup
	$(BIN)/smi lint examples/
	$(BIN)/reference-mesh demo examples/mesh/bookstore-topology.yaml

## schemas: regenerate schemas/ (JSON Schemas, CRDs) from the models; a test fails when they drift
schemas: setup
	$(BIN)/python -m smi_conformance.schema generate

## tests-doc: regenerate docs/conformance/tests.md from the conformance test registry (drift-tested)
tests-doc: setup
	$(BIN)/python -m smi_conformance.suite.docs > docs/conformance/tests.md

## rules-doc: regenerate docs/rules.md from the lint rule registry (a test fails when it drifts)
rules-doc: setup
	$(BIN)/python -m smi_conformance.lint.docs > docs/rules.md

## lint: ruff, mypy --strict, and the layers' import contracts ([tool.importlinter] in pyproject.toml)
lint: setup
	$(BIN)/ruff check smi_conformance reference_mesh tests
	$(BIN)/mypy
	$(BIN)/lint-imports

## mutation: mutation testing of the decision modules, one module at a time, nice'd (not part of `test`); writes
## docs/mutation.md (with each module's time: split, authz, stats and oracle take 1-10 minutes each on 2 shared
## cores) and fails if a surviving mutant is unexplained.
## MODULES: some of split authz routing compiler metrics lint-rules stats oracle (default: all)
mutation: setup
	$(BIN)/python benchmarks/mutation.py $(MODULES)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .hypothesis
