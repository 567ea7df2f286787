# medrobust: `make reproduce` runs everything; `make test` runs the test suite.
# MIRROR=<dir> reads the data from a local folder in the publishers' layout instead of the network.

# A Python >= 3.11, preferring 3.11: the locks are resolved for it (and the offline CPU torch wheel is cp311).
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
PIP_VERSION := 26.3
VENV := .venv
BIN := $(VENV)/bin
# SMK_ARGS: extra Snakemake options for every target, e.g. SMK_ARGS="--configfile config/paper.yaml"
SMK_ARGS ?=
SNAKEMAKE := $(BIN)/snakemake --workflow-profile workflow/profiles/default $(SMK_ARGS)
CORES ?= all
# Snakemake refuses a dotted --config key (data.mirror=DIR) before the workflow is read, without saying
# what to write instead: say it here (medrobust.config.dotted_config_hint).
ifneq ($(findstring --config,$(SMK_ARGS)),)
DOTTED_CONFIG := $(shell PYTHONPATH=src $(BIN)/python -m medrobust.config $(SMK_ARGS) 2>/dev/null)
ifneq ($(DOTTED_CONFIG),)
$(error $(DOTTED_CONFIG))
endif
endif
ifdef MIRROR
export MEDROBUST_MIRROR := $(abspath $(MIRROR))
endif

.PHONY: help reproduce test test-fast report lint dry-run clean venv

help:  ## List the targets
	@echo "medrobust: make <target> [MIRROR=<dir>] [SMK_ARGS='<snakemake options>'] [CORES=<n>]"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1\t\2/' | expand -t 14

reproduce: $(VENV)/.installed  ## Download, verify, run every study, build reports/report.html
	@start=$$(date +%s); set -e; \
	$(SNAKEMAKE) --cores $(CORES); \
	$(SNAKEMAKE) --report reports/snakemake-report.html; \
	$(BIN)/python -m medrobust.report.summary --since $$start

test: $(VENV)/.installed  ## The whole test suite (what .ci/run calls)
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

test-fast: $(VENV)/.installed  ## Tests without the slow end-to-end runs
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -m "not slow"

# The report rule and every figure rule (named *figures); nothing upstream of them may run.
REPORT_RULES = $(shell $(BIN)/snakemake --list-rules 2>/dev/null | grep -E '^(report|[a-z0-9_]*figures)$$')

report: $(VENV)/.installed  ## Rebuild the report and figures from stored results, never retraining
	$(SNAKEMAKE) --cores $(CORES) --rerun-triggers mtime --forcerun $(REPORT_RULES) --allowed-rules $(REPORT_RULES) -- reports/report.html
	$(SNAKEMAKE) --report reports/snakemake-report.html

lint: $(VENV)/.installed  ## Snakemake's linter, snakefmt's formatting check and a byte-compile of the library
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/
	$(BIN)/python -m compileall -q src scripts

dry-run: $(VENV)/.installed  ## Print the jobs without running anything, and write the DAG to results/dag.dot
	$(SNAKEMAKE) --cores $(CORES) -n
	mkdir -p results
	$(BIN)/snakemake --dag > results/dag.dot.tmp && mv results/dag.dot.tmp results/dag.dot
	@echo "DAG written to results/dag.dot (render: dot -Tsvg results/dag.dot > dag.svg)"

clean:  ## Remove results, logs and the built report (keeps downloads in resources/)
	rm -rf results logs .snakemake/incomplete reports/*.html

venv: $(VENV)/.installed

$(VENV)/.installed: envs/requirements.lock envs/requirements-nodeps.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "medrobust needs Python >= 3.11 (python3.11, 3.12, 3.13 or python3 on PATH); none found. Install one, or pass PYTHON=/path/to/python3.11" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else print(f"note: Python {v[0]}.{v[1]}: the locks are resolved for 3.11; pip may resolve other wheels", file=sys.stderr))' || true
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q pip==$(PIP_VERSION)
	# The hashed lock pins torch==2.13.0+cpu (elsewhere: --extra-index-url https://download.pytorch.org/whl/cpu);
	# envs/requirements-cuda.lock is the GPU variant. pip checks every hash.
	$(BIN)/pip install -q -r envs/requirements.lock
	$(BIN)/pip install -q --no-deps -r envs/requirements-nodeps.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@
