"""Config validation against the JSON Schema in workflow/schemas, with defaults filled in.

Errors name the key (``data.retries``) and the problem, all of them at once. Values given on the
command line (``--config 'data={retries: 5}'``) are typed as YAML first, as in a config file; the
dataset flags are checked against medmnist's table before anything is downloaded, and (in the main
Snakemake process) a mirror folder that does not exist is reported once, up front.
"""
from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
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


def validate(config: dict, schema: dict, environ: dict | None = None,
             command_line: Mapping | None = None, check_paths: bool = False) -> dict:
    """Return a validated copy of ``config`` with defaults filled and the environment applied.

    ``command_line``: Snakemake's ``--config`` values (``workflow.config_settings.config``), laid
    over ``config`` once typed by :func:`typed_command_line`. ``check_paths``: also refuse a mirror
    folder that does not exist (the main process only: a cluster job may not see the mirror).
    """
    config = copy.deepcopy(config)
    if command_line:
        config = _merge(config, typed_command_line(command_line, schema))
    environ = os.environ if environ is None else environ
    mirror_from_env = bool(environ.get("MEDROBUST_MIRROR"))
    if mirror_from_env:
        config.setdefault("data", {})
        if isinstance(config["data"], dict):
            config["data"]["mirror"] = environ["MEDROBUST_MIRROR"]
    _fill_defaults(config, schema)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config),
                    key=lambda e: list(map(str, e.absolute_path)))
    messages = [_describe(e) for e in errors]
    if not messages:  # the checks below read values the schema has vouched for
        messages = _cross_checks(config) + _dataset_flag_checks(config)
        if check_paths:
            messages += _mirror_check(config, mirror_from_env)
    if messages:
        raise ConfigError("invalid config:\n  " + "\n  ".join(messages))
    return config


def typed_command_line(values: Mapping, schema: dict) -> dict:
    """Snakemake's ``--config`` values with nested strings read as YAML, as a config file would be.

    Snakemake types a top-level value (``seed=5``) but reads a nested one (``data={retries: 5}``)
    with YAML's BaseLoader, which leaves every leaf a string ('5'). Each such leaf is read again with
    YAML's safe loader, unless the schema takes a string there (``report.title``, string enums), so
    that a title of ``2024`` stays text.
    """
    return {key: _typed(value, _child(schema, key)) for key, value in _nest_dotted(values).items()}


def _nest_dotted(values: Mapping) -> dict:
    """``data.mirror=DIR`` as ``data={mirror: DIR}``: a dotted key is read as the path of a nested one,
    as the README and every error message spell keys. Later keys win, as Snakemake's own do."""
    out: dict = {}
    for key, value in values.items():
        *parents, leaf = str(key).split(".") if isinstance(key, str) else [key]
        node = out
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        if isinstance(value, Mapping) and isinstance(node.get(leaf), dict):
            node[leaf] = _merge(node[leaf], value)
        else:
            node[leaf] = value
    return out


def _typed(value: Any, node: dict | None) -> Any:
    node = node or {}
    if isinstance(value, Mapping):
        return {key: _typed(item, _child(node, key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_typed(item, node.get("items")) for item in value]
    if not isinstance(value, str):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    if isinstance(parsed, str) or (_takes_string(node) and parsed is not None):
        return value
    if parsed is None and not _takes(node, "null"):
        return value
    return parsed


def _child(node: dict, key: str) -> dict | None:
    props = node.get("properties", {})
    if key in props:
        return props[key]
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _takes(node: dict, kind: str) -> bool:
    kinds = node.get("type", [])
    return kind in ([kinds] if isinstance(kinds, str) else kinds)


def _takes_string(node: dict) -> bool:
    enum = node.get("enum")
    return _takes(node, "string") or bool(enum) and all(isinstance(e, str) for e in enum)


def _merge(base: dict, patch: Mapping) -> dict:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            out[key] = _merge(base[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


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


def _dataset_flag_checks(config: dict) -> list[str]:
    """MedMNIST flags against medmnist.INFO, before any download: known, 2D, and for a study's
    ``flag`` also single-label (its classifier and conditional GAN need one class per image)."""
    from medrobust.data.registry import medmnist_flags, medmnist_info_table

    try:
        info = medmnist_info_table()
    except ImportError:  # checked again where the file is fetched and loaded
        return []
    wanted = [(f"data.medmnist.flags.{i}", flag, False)
              for i, flag in enumerate(config["data"]["medmnist"]["flags"])]
    wanted += [(f"{study}.flag", section["flag"], True) for study, section in config.items()
               if isinstance(section, dict) and isinstance(section.get("flag"), str)
               and section.get("enabled", True)]
    problems = []
    two_d = medmnist_flags()
    for key, flag, single_label in wanted:
        if flag not in info:
            problems.append(f"config key '{key}': unknown MedMNIST flag {flag!r} (2D flags: {', '.join(two_d)})")
        elif flag.endswith("3d"):
            problems.append(f"config key '{key}': {flag!r} is a 3D MedMNIST flag; only 2D flags are used "
                            f"({', '.join(two_d)})")
        elif single_label and info[flag]["task"].startswith("multi-label"):
            single = [f for f in two_d if not info[f]["task"].startswith("multi-label")]
            problems.append(f"config key '{key}': {flag!r} is multi-label ({info[flag]['task']}); the study "
                            f"needs one class per image ({', '.join(single)})")
    return problems


def _mirror_check(config: dict, from_env: bool) -> list[str]:
    mirror = config["data"]["mirror"]
    if mirror is None or Path(mirror).is_dir():
        return []
    where = "the MEDROBUST_MIRROR environment variable (or make's MIRROR=)" if from_env else "the config"
    what = "is not a folder" if Path(mirror).exists() else "does not exist"
    return [f"config key 'data.mirror': the mirror folder {mirror} {what} (set by {where}); "
            f"point it at a folder in the publishers' layout (physionet/<slug>/<version>/..., zenodo/...)"]


def export_library_path(src: str) -> None:
    """Put the workflow's ``src`` first on PYTHONPATH, which every job inherits (also in a --sdm conda
    env, so those envs need not install medrobust). A function here rather than in the Snakefile,
    whose linter reads any use of an environment variable as an undeclared input."""
    import os

    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)


def dotted_config_hint(args: list[str]) -> str | None:
    """For Snakemake options (``--config data.mirror=DIR``): the nested spelling of the first dotted key.

    Snakemake's option parser refuses a dotted ``--config`` key before the workflow is read, with a
    message that does not say what to write instead; the Makefile asks this first and says it.
    """
    in_config = False
    for arg in args:
        if arg.startswith("-"):
            in_config = arg == "--config"
            continue
        match = re.fullmatch(r"([A-Za-z_]\w*(?:\.\w+)+)=(.*)", arg) if in_config else None
        if match:
            *parents, leaf = match.group(1).split(".")
            value = f"{leaf}: {match.group(2)}"
            for part in reversed(parents[1:]):
                value = f"{part}: {{{value}}}"
            return (f"SMK_ARGS: Snakemake refuses the dotted --config key {arg!r}; write it nested: "
                    f"--config '{parents[0]}={{{value}}}'")
    return None


if __name__ == "__main__":  # python -m medrobust.config <snakemake options>: the Makefile's check
    import sys

    hint = dotted_config_hint(sys.argv[1:])
    if hint:
        print(hint)
