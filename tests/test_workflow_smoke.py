"""The whole DAG on fixture data, through the real Snakemake, in a scratch working directory."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fixtures.mirror import make_fixture_mirror
from fixtures.workflow import run_workflow

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


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
    return workdir, mirror, config_path


def test_report_scorecard_and_manifest_are_built(smoke_run):
    workdir, _, _ = smoke_run
    html = (workdir / "reports" / "report.html").read_text()
    assert 'id="scorecard"' in html and 'id="provenance"' in html
    for study in ("ehr", "enhancement", "ecg", "fedgan"):  # every study of the smoke config has its section
        assert f'id="study-{study}"' in html, study
    manifest = json.loads((workdir / "results" / "manifest.json").read_text())
    names = {Path(i["path"]).name for i in manifest["inputs"]}
    assert {"set-a.tar.gz", "training2017.zip", "pneumoniamnist.npz", "ADMISSIONS.csv"} <= names
    assert all(i["source"] == "mirror" for i in manifest["inputs"])


def test_data_summaries_hold_the_fixture_counts(smoke_run):
    workdir, _, _ = smoke_run
    summary = (workdir / "results" / "data" / "challenge2012" / "summary.csv").read_text()
    assert "n_stays" in summary and ",180.0" in summary  # 3 sets x 60 fixture stays


def test_second_run_does_nothing(smoke_run):
    workdir, mirror, config = smoke_run
    again = run_workflow(workdir, mirror, config)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to be done" in again.stdout + again.stderr


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
