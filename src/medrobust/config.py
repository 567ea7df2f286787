"""Config validation against the JSON Schema in workflow/schemas, with defaults filled in.

Errors name the key (``data.retries``) and the problem, all of them at once.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    pass


def load_schema(schema_dir: str | os.PathLike) -> dict:
    """The root schema with each ``studies/<study>.schema.yaml`` merged in as property ``<study>``."""
    schema_dir = Path(schema_dir)
    schema = yaml.safe_load((schema_dir / "config.schema.yaml").read_text())
    for path in sorted((schema_dir / "studies").glob("*.schema.yaml")):
        study = path.name.removesuffix(".schema.yaml")
        study_schema = yaml.safe_load(path.read_text())
        study_schema.setdefault("default", {})
        schema["properties"][study] = study_schema
    return schema


def validate(config: dict, schema: dict, environ: dict | None = None) -> dict:
    """Return a validated copy of ``config`` with defaults filled and the environment applied."""
    config = copy.deepcopy(config)
    environ = os.environ if environ is None else environ
    if environ.get("MEDROBUST_MIRROR"):
        config.setdefault("data", {})
        if isinstance(config["data"], dict):
            config["data"]["mirror"] = environ["MEDROBUST_MIRROR"]
    _fill_defaults(config, schema)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config),
                    key=lambda e: list(map(str, e.absolute_path)))
    messages = [_describe(e) for e in errors] + _cross_checks(config)
    if messages:
        raise ConfigError("invalid config:\n  " + "\n  ".join(messages))
    return config


def _fill_defaults(instance: Any, schema: dict) -> None:
    if not isinstance(instance, dict):
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub)


def _describe(error: jsonschema.ValidationError) -> str:
    path = ".".join(map(str, error.absolute_path)) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        where = f"{path}." if error.absolute_path else ""
        return "; ".join(f"config key '{where}{k}': unknown key (allowed here: {', '.join(allowed)})"
                         for k in unknown)
    return f"config key '{path}': {error.message}"


def _cross_checks(config: dict) -> list[str]:
    """Combinations that each key allows alone but that cannot run together."""
    problems = []
    data = config.get("data", {})
    for dataset in data.get("summaries", []):
        if dataset in ("mimic3", "mimic4") and not data.get(f"{dataset}_path"):
            problems.append(f"config key 'data.summaries': {dataset!r} needs data.{dataset}_path, "
                            f"the local folder of the credentialed files")
    for dataset in data.get("open_datasets", []):
        if dataset in ("mimic3", "mimic4"):
            problems.append(f"config key 'data.open_datasets': {dataset!r} is credentialed data; its "
                            f"records must never appear in plots")
    for study, section in config.items():
        if not isinstance(section, dict) or "dataset" not in section:
            continue
        dataset = section["dataset"]
        if dataset in ("mimic3", "mimic4") and not config["data"].get(f"{dataset}_path"):
            problems.append(f"config key '{study}.dataset': {dataset!r} needs data.{dataset}_path, "
                            f"the local folder of the credentialed files")
    return problems


def export_library_path(src: str) -> None:
    """Put the workflow's ``src`` first on PYTHONPATH, which every job inherits (also in a --sdm conda
    env, so those envs need not install medrobust). A function here rather than in the Snakefile,
    whose linter reads any use of an environment variable as an undeclared input."""
    import os

    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
