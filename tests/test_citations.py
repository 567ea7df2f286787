"""Every place that names a study's paper names the same first author as the README's table."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("ehr", "ecg", "fedgan", "clm", "enhancement")


def readme_first_authors() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## What is reproduced"):]
    section = section[:section.index("\n## ", 3)]
    rows = re.findall(r"^\| `(\w+)` \| ([A-Z][A-Za-z-]+)", section, re.M)
    return {study: author for study, author in rows if study in STUDIES}


def test_the_readme_table_names_every_study():
    assert set(readme_first_authors()) == set(STUDIES)


@pytest.mark.parametrize("config", ["config.yaml", "paper.yaml"])
def test_config_comments_cite_the_readme_author(config):
    authors = readme_first_authors()
    lines = re.findall(r"^# Study (\w+) \(([^)]*)\)", (ROOT / "config" / config).read_text(), re.M)
    for study, cited in lines:
        assert cited.startswith(authors[study]), f"config/{config}: study {study} cites {cited!r}, the README {authors[study]}"


def test_citation_cff_lists_each_papers_first_author():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    refs = cff["references"]
    families = {r["authors"][0]["family-names"] for r in refs}
    assert set(readme_first_authors().values()) <= families, families
    assert all(r.get("doi") or r.get("url") or r.get("identifiers") for r in refs)
