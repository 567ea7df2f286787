"""Credentialed data stays aggregate: no identifier or date of it reaches results, reports, figures or logs.

The run reads a MIMIC-III fixture as if it were the credentialed database (data.mimic3_path), with
planted subject, admission and ICU-stay ids and dates, then every output file is scanned for them.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from fixtures.publishers import make_mimic3_demo
from fixtures.workflow import run_workflow

pytestmark = pytest.mark.slow


def _identifiers(folder: Path) -> set[str]:
    ids = set()
    for table, columns in {"ICUSTAYS.csv": ["subject_id", "hadm_id", "icustay_id"],
                           "ADMISSIONS.csv": ["subject_id", "hadm_id"]}.items():
        header, *rows = (folder / table).read_text().splitlines()
        names = header.split(",")
        for row in rows:
            fields = row.split(",")
            ids |= {fields[names.index(c)] for c in columns}
    return ids


def test_no_identifier_or_date_of_credentialed_data_in_any_output(tmp_path):
    mimic = tmp_path / "credentialed-mimic3"
    make_mimic3_demo(mimic)
    ids = _identifiers(mimic)
    assert len(ids) >= 15
    config = {"data": {"summaries": ["mimic3"], "offline": True, "mimic3_path": str(mimic),
                       "mimic3_event_tables": ["CHARTEVENTS", "LABEVENTS", "OUTPUTEVENTS"]}}
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    workdir = tmp_path / "work"
    workdir.mkdir()
    # Only the data layer and the report: every registered study is switched off here.
    studies = [p.stem for p in (Path(__file__).resolve().parents[1] / "workflow" / "rules").glob("*.smk")
               if p.stem not in {"common", "data", "report"}]
    config.update({s: {"enabled": False} for s in studies})
    config_path.write_text(yaml.safe_dump(config))
    empty_mirror = tmp_path / "empty-mirror"  # nothing is fetched: the credentialed tables are read in place
    empty_mirror.mkdir()
    done = run_workflow(workdir, empty_mirror, config_path)
    assert done.returncode == 0, done.stderr[-4000:]
    assert (workdir / "reports" / "report.html").exists()
    pattern = re.compile(r"\b(" + "|".join(sorted(ids)) + r")\b|\b21[0-9]{2}-[01][0-9]-[0-3][0-9]\b")
    leaks = []
    for folder in ("results", "reports", "logs"):
        for path in (workdir / folder).rglob("*"):
            if path.is_file() and path.suffix not in {".npz", ".png"}:
                text = path.read_text(errors="replace")
                leaks += [f"{path.relative_to(workdir)}: {m.group(0)}" for m in pattern.finditer(text)]
    assert leaks == []
    # The cohort itself carries a sequential index, not the real stay ids.
    import numpy as np

    with np.load(workdir / "results" / "data" / "mimic3" / "cohort.npz") as cohort:
        assert cohort["stay_id"].tolist() == list(range(len(cohort["stay_id"])))
        assert not set(map(str, cohort["stay_id"].tolist())) & ids
