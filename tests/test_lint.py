"""Snakemake's own checks: the linter is clean, snakefmt leaves every workflow file unchanged, and a dry run of
the default config builds a DAG."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _snakemake(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_snakemake_lint_is_clean():
    result = _snakemake("--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr, result.stdout + result.stderr


def test_dry_run_plans_the_report(tmp_path):
    result = _snakemake("-n", "--cores", "1", "--directory", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "report" in result.stdout and "manifest" in result.stdout


def test_workflow_files_are_snakefmt_formatted():
    # The catalog's convention; line length from pyproject's [tool.snakefmt]. `snakefmt Snakefile workflow/` fixes it.
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow/"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
