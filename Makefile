# medrobust: `make reproduce` runs everything; `make test` runs the test suite.
# MIRROR=<dir> reads the data from a local folder in the publishers' layout instead of the network.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# SMK_ARGS: extra Snakemake options for every target, e.g. SMK_ARGS="--configfile config/paper.yaml"
SMK_ARGS ?=
SNAKEMAKE := $(BIN)/snakemake --workflow-profile workflow/profiles/default $(SMK_ARGS)
CORES ?= all
ifdef MIRROR
export MEDROBUST_MIRROR := $(abspath $(MIRROR))
endif

.PHONY: reproduce test test-fast report lint dry-run clean venv

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

lint: $(VENV)/.installed  ## Snakemake's linter and a byte-compile of the library
	$(BIN)/snakemake --lint
	$(BIN)/python -m compileall -q src scripts

dry-run: $(VENV)/.installed  ## Print the jobs and the DAG without running anything
	$(SNAKEMAKE) --cores $(CORES) -n
	$(BIN)/snakemake --dag | tee results/dag.dot > /dev/null || true

clean:  ## Remove results, logs and the built report (keeps downloads in resources/)
	rm -rf results logs .snakemake/incomplete reports/*.html

venv: $(VENV)/.installed

$(VENV)/.installed: envs/requirements.lock envs/requirements-nodeps.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The lock pins torch==2.13.0 (CPU build); nothing in it can pull a CUDA torch.
	$(BIN)/pip install -q -r envs/requirements.lock
	$(BIN)/pip install -q --no-deps -r envs/requirements-nodeps.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@
