"""Config validation: defaults filled in, and every error names its key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from medrobust.config import ConfigError, load_schema, validate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(ROOT / "workflow" / "schemas")


def _default() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_default_config_is_valid_and_defaults_are_filled():
    config = validate(_default(), SCHEMA, environ={})
    assert config["data"]["retries"] == 3
    assert config["data"]["mirror"] is None
    assert config["data"]["mimic3_demo"]["event_tables"] == ["OUTPUTEVENTS"]


def test_environment_sets_the_mirror():
    config = validate(_default(), SCHEMA, environ={"MEDROBUST_MIRROR": "/data/mirror"})
    assert config["data"]["mirror"] == "/data/mirror"


def test_paper_config_is_valid():
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    validate(paper, SCHEMA, environ={})


@pytest.mark.parametrize("patch, key, problem", [
    ({"seed": "one"}, "seed", "is not of type 'integer'"),
    ({"seed": -1}, "seed", "less than the minimum"),
    ({"sed": 1}, "sed", "unknown key"),
    ({"data": {"retries": "3"}}, "data.retries", "is not of type 'integer'"),
    ({"data": {"retries": 0}}, "data.retries", "less than the minimum"),
    ({"data": {"mirrors": "/x"}}, "data.mirrors", "unknown key"),
    ({"data": {"challenge2012": {"sets": ["d"]}}}, "data.challenge2012.sets.0", "is not one of"),
    ({"data": {"challenge2012": {"sets": []}}}, "data.challenge2012.sets", "should be non-empty"),
    ({"data": {"medmnist": {"size": 32}}}, "data.medmnist.size", "is not one of"),
    ({"data": {"mimic3_demo": {"event_tables": ["NOTEEVENTS"]}}}, "data.mimic3_demo.event_tables.0",
     "is not one of"),
    ({"data": {"summaries": ["challenge2012", "challenge2012"]}}, "data.summaries", "non-unique"),
    ({"report": {"titel": "x"}}, "report.titel", "unknown key"),
    ({"data": {"summaries": ["mimic3"]}}, "data.summaries", "needs data.mimic3_path"),
    ({"data": {"open_datasets": ["mimic4"]}}, "data.open_datasets", "credentialed data"),
    ({"data": {"timeout": 0}}, "data.timeout", "less than or equal to the minimum"),
    ({"bootstrap": 1.5}, "bootstrap", "is not of type 'integer'"),
    ({"deterministic": "yes"}, "deterministic", "is not of type 'boolean'"),
    # the studies' own sections (workflow/schemas/studies/)
    ({"ehr": {"headline_setting": {"poison_rate": 1.5}}}, "ehr.headline_setting.poison_rate", "maximum"),
    ({"ehr": {"models": ["svm"]}}, "ehr.models.0", "is not one of"),
    ({"ecg": {"attacks": {"eps": [-10]}}}, "ecg.attacks.eps.0", "less than or equal to the minimum"),
    ({"ecg": {"crop_seconds": 0}}, "ecg.crop_seconds", "less than or equal to the minimum"),
    ({"clm": {"rates": [1.2]}}, "clm.rates.0", "maximum"),
    ({"fedgan": {"clients": 1}}, "fedgan.clients", "less than the minimum"),
    ({"enhancement": {"n_subjects": 2}}, "enhancement.n_subjects", "less than the minimum"),
])
def test_bad_config_names_the_key(patch, key, problem):
    config = _merge(_default(), patch)
    with pytest.raises(ConfigError) as err:
        validate(config, SCHEMA, environ={})
    message = str(err.value)
    assert f"config key '{key}'" in message, message
    assert problem in message, message


def _merge(base: dict, patch: dict) -> dict:
    out = dict(base)
    for key, value in patch.items():
        out[key] = _merge(base.get(key, {}), value) if isinstance(value, dict) else value
    return out
