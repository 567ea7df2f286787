# Helpers that compute targets from the config. Study rule files register themselves here with
# register_study(); rule all and the report ask these helpers, never a hand-written list.
import os
from pathlib import Path

from medrobust.data import registry

STUDIES = {}
CORE_RULE_FILES = {"common", "data", "report"}


wildcard_constraints:
    dataset="[a-z0-9_]+",
    slug="[^/]+",
    version="[^/]+",


def study_rule_files():
    rules_dir = Path(workflow.basedir) / "workflow" / "rules"
    return [str(p) for p in sorted(rules_dir.glob("*.smk")) if p.stem not in CORE_RULE_FILES]


def register_study(name, outputs, figures=(), matrix_metric=None, datasets=(), weights=()):
    """Called at the end of each study's rule file; a disabled study registers nothing.

    ``weights``: pretrained weight files the study loads; the manifest hashes them.
    """
    if not config.get(name, {}).get("enabled", True):
        return
    STUDIES[name] = {
        "outputs": list(outputs),
        # Captions resolve against the repository, so runs with --directory elsewhere find them.
        "figures": [(png, str(Path(workflow.basedir) / cap)) for png, cap in figures],
        "matrix_metric": matrix_metric,
        "datasets": list(datasets),
        "weights": [str(w) for w in weights],
    }


def study_results(kind):
    """results/<study>/<kind>.csv for every registered study."""
    return [f"results/{name}/{kind}.csv" for name in STUDIES]


def used_datasets():
    used = list(config["data"]["summaries"])
    for study in STUDIES.values():
        used += [d for d in study["datasets"] if d not in used]
    return used


def dataset_resources(dataset):
    """The verified files under resources/ that a dataset's parser reads."""
    data = config["data"]
    if dataset == "challenge2012":
        prefix = registry.PHYSIONET[dataset].prefix
        return [f"resources/{prefix}/{f}" for f in registry.challenge2012_files(data["challenge2012"]["sets"])]
    if dataset == "challenge2017":
        prefix = registry.PHYSIONET[dataset].prefix
        return [f"resources/{prefix}/{f}" for f in registry.PHYSIONET[dataset].files]
    if dataset == "mimic3_demo":
        tables = ["ADMISSIONS", "ICUSTAYS", "PATIENTS", *data["mimic3_demo"]["event_tables"]]
        return [f"resources/{registry.PHYSIONET[dataset].prefix}/{t}.csv" for t in tables]
    if dataset == "mimic4_demo":
        tables = ["hosp/admissions", "hosp/patients", "icu/icustays", *data["mimic4_demo"]["event_tables"]]
        return [f"resources/{registry.PHYSIONET[dataset].prefix}/{t}.csv.gz" for t in tables]
    if dataset.startswith("medmnist:"):
        flag = dataset.split(":", 1)[1]
        return [f"resources/{registry.MEDMNIST.prefix}/{registry.medmnist_file(flag, data['medmnist']['size'])}"]
    if dataset == "medmnist":
        return [r for flag in data["medmnist"]["flags"] for r in dataset_resources(f"medmnist:{flag}")]
    if dataset in ("mimic3", "mimic4"):
        return credentialed_tables(dataset)
    return []


def credentialed_tables(dataset):
    """Full MIMIC, read in place from the user's folder (data.<dataset>_path), never copied.

    The event tables come from data.<dataset>_event_tables; each is read as .csv.gz (the official
    distribution) or .csv, whichever the folder has.
    """
    root = Path(config["data"][f"{dataset}_path"] or f"<data.{dataset}_path is not set>")
    events = config["data"][f"{dataset}_event_tables"]
    core = (
        ["ADMISSIONS", "ICUSTAYS", "PATIENTS"]
        if dataset == "mimic3"
        else ["hosp/admissions", "hosp/patients", "icu/icustays"]
    )
    paths = []
    for table in [*core, *events]:
        gz = root / f"{table}.csv.gz"
        paths.append(str(gz if gz.exists() or not (root / f"{table}.csv").exists() else root / f"{table}.csv"))
    return paths


def all_resources():
    """Every downloaded file (under resources/) the run reads; credentialed files are not listed."""
    return sorted({r for d in used_datasets() for r in dataset_resources(d) if r.startswith("resources/")})


def summary_files():
    return [f"results/data/{d}/summary.csv" for d in config["data"]["summaries"]]


def summary_input(wildcards):
    if wildcards.dataset == "challenge2017":
        return "results/data/challenge2017/ecg.npz"
    if wildcards.dataset == "medmnist":
        return dataset_resources("medmnist")
    return f"results/data/{wildcards.dataset}/cohort.npz"


def final_outputs():
    return ["reports/report.html", "results/manifest.json"]


def env_file(name):
    return str(Path(workflow.basedir) / "envs" / f"{name}.yaml")
