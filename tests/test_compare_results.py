"""The local-vs-SLURM comparison sets aside wall-clock timings and nothing else."""
import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("compare_results",
                                              Path(__file__).parent / "cluster" / "compare_results.py")
compare_results = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(compare_results)


def _run(root: Path, checks: str, metrics: str) -> Path:
    out = root / "results" / "study"
    out.mkdir(parents=True)
    (out / "checks.csv").write_text(checks)
    (out / "metrics.csv").write_text(metrics)
    return root


METRICS = "metric,value\nauroc,0.81\ncheck_seconds,{t}\nthroughput,{t}\n"


@pytest.mark.parametrize("checks_b, metrics_b, same", [
    ("defense,score,seconds\nqc,0.5,9.9\n", METRICS.format(t=7.0), True),     # timings only
    ("defense,score,seconds\nqc,0.6,0.1\n", METRICS.format(t=0.2), False),    # a score differs
    ("defense,score,seconds\nqc,0.5,0.1\n", "metric,value\nauroc,0.82\ncheck_seconds,0.2\nthroughput,0.2\n", False),
])
def test_only_timings_may_differ(tmp_path, checks_b, metrics_b, same):
    a = _run(tmp_path / "a", "defense,score,seconds\nqc,0.5,0.1\n", METRICS.format(t=0.2))
    b = _run(tmp_path / "b", checks_b, metrics_b)
    assert (compare_results.main(a, b) == 0) is same


def test_a_run_without_result_files_fails_the_comparison(tmp_path, capsys):
    (tmp_path / "a" / "results").mkdir(parents=True)
    b = _run(tmp_path / "b", "defense,score,seconds\nqc,0.5,0.1\n", METRICS.format(t=0.2))
    assert compare_results.main(tmp_path / "a", b) == 1
    assert "nothing to compare" in capsys.readouterr().err


def test_the_recorded_smoke_run_is_a_copy_that_outlives_its_folder(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("fingerprint", Path(__file__).parent / "cluster" / "fingerprint.py")
    fingerprint = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fingerprint)
    monkeypatch.setattr(fingerprint, "STAMP", tmp_path / "artifacts" / "smoke-run.json")
    monkeypatch.setattr(fingerprint, "COPY", tmp_path / "artifacts" / "smoke-run")
    monkeypatch.setattr(fingerprint, "_code_state", lambda: "commit")
    run = _run(tmp_path / "pytest-tmp" / "work", "defense,score,seconds\nqc,0.5,0.1\n", METRICS.format(t=0.2))
    config, mirror = tmp_path / "smoke.yaml", tmp_path / "mirror"
    config.write_text("seed: 0\n")
    mirror.mkdir()
    (mirror / "f.txt").write_text("data")
    fingerprint.record(run, config, mirror)
    import shutil
    shutil.rmtree(tmp_path / "pytest-tmp")  # pytest rotates its old temporary folders away
    copy = fingerprint.recorded_run(config, mirror)
    assert copy == tmp_path / "artifacts" / "smoke-run"
    assert (copy / "results" / "study" / "metrics.csv").read_text() == METRICS.format(t=0.2)
    (mirror / "f.txt").write_text("other data")
    assert fingerprint.recorded_run(config, mirror) is None  # another mirror: no reuse
