"""Every dataset medrobust reads: publisher, version, URL, license, and how each file is verified.

Local paths mirror the publishers' layout (``physionet/<slug>/<version>/<file>``,
``zenodo/<record>/<file>``), both under ``resources/`` and in an offline mirror folder.
"""
from __future__ import annotations

import functools
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

PHYSIONET_URL = "https://physionet.org/files"
ZENODO_URL = "https://zenodo.org/records"
MEDMNIST_RECORD = "10519652"


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    publisher: str
    version: str
    license: str
    prefix: str          # local and mirror folder, in the publisher's layout
    checksum: str        # "sha256sums" (the version's SHA256SUMS.txt) or "md5" (medmnist.INFO)
    open: bool           # open data may appear in example plots; credentialed data never does
    files: tuple[str, ...] = field(default_factory=tuple)
    homepage: str = ""


PHYSIONET = {
    "challenge2012": Dataset(
        "challenge2012", "PhysioNet/CinC Challenge 2012: Predicting Mortality of ICU Patients",
        "PhysioNet", "1.0.0", "ODC-By 1.0", "physionet/challenge-2012/1.0.0", "sha256sums", True,
        homepage="https://physionet.org/content/challenge-2012/1.0.0/"),
    "challenge2017": Dataset(
        "challenge2017", "PhysioNet/CinC Challenge 2017: AF Classification from a Short Single Lead ECG",
        "PhysioNet", "1.0.0", "ODC-By 1.0", "physionet/challenge-2017/1.0.0", "sha256sums", True,
        files=("training2017.zip", "REFERENCE-v3.csv"),
        homepage="https://physionet.org/content/challenge-2017/1.0.0/"),
    "mimic3_demo": Dataset(
        "mimic3_demo", "MIMIC-III Clinical Database Demo", "PhysioNet", "1.4", "ODbL 1.0",
        "physionet/mimiciii-demo/1.4", "sha256sums", True,
        homepage="https://physionet.org/content/mimiciii-demo/1.4/"),
    "mimic4_demo": Dataset(
        "mimic4_demo", "MIMIC-IV Clinical Database Demo", "PhysioNet", "2.2", "ODbL 1.0",
        "physionet/mimic-iv-demo/2.2", "sha256sums", True,
        homepage="https://physionet.org/content/mimic-iv-demo/2.2/"),
}
# Credentialed: read only from a local path the user gives (config data.mimic3_path / mimic4_path).
CREDENTIALED = {
    "mimic3": Dataset("mimic3", "MIMIC-III Clinical Database (credentialed)", "PhysioNet", "1.4",
                      "PhysioNet Credentialed Health Data License 1.5.0", "", "local", False),
    "mimic4": Dataset("mimic4", "MIMIC-IV Clinical Database (credentialed)", "PhysioNet", "2.2",
                      "PhysioNet Credentialed Health Data License 1.5.0", "", "local", False),
}
MEDMNIST = Dataset("medmnist", "MedMNIST v2/v3 (2D)", "Zenodo", MEDMNIST_RECORD, "CC BY 4.0",
                   f"zenodo/{MEDMNIST_RECORD}", "md5", True,
                   homepage="https://zenodo.org/records/10519652")


def challenge2012_files(sets: list[str]) -> list[str]:
    return [f"set-{s}.tar.gz" for s in sets] + [f"Outcomes-{s}.txt" for s in sets]


def medmnist_file(flag: str, size: int = 28) -> str:
    return f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"


def medmnist_md5(flag: str, size: int = 28) -> str:
    info = medmnist_info_table()
    if flag not in info:
        raise KeyError(f"unknown MedMNIST flag {flag!r}; known: {sorted(info)}")
    key = "MD5" if size == 28 else f"MD5_{size}"
    if key not in info[flag]:
        raise KeyError(f"MedMNIST flag {flag!r} has no size {size}")
    return info[flag][key]


def medmnist_flags() -> list[str]:
    # 2D flags only; the 3D ones (organmnist3d, ...) are different tasks.
    return sorted(f for f in medmnist_info_table() if not f.endswith("3d"))


def dataset_of_path(relpath: str) -> Dataset:
    """The registry entry whose folder holds ``relpath`` (e.g. 'physionet/challenge-2012/1.0.0/set-a.tar.gz')."""
    for ds in [*PHYSIONET.values(), MEDMNIST]:
        if relpath.startswith(ds.prefix + "/"):
            return ds
    raise KeyError(f"{relpath}: not under any registered dataset folder")


def medmnist_info_table() -> dict:
    """``medmnist.INFO`` (flag -> sample counts, task, labels, MD5s), read without importing torch.

    ``import medmnist`` runs the package __init__, which imports its torch datasets (seconds); config
    validation runs in every job, so the table is read from the package's ``info.py`` on its own.
    """
    if "medmnist.info" in sys.modules:
        return sys.modules["medmnist.info"].INFO
    return _info_module().INFO


@functools.lru_cache(maxsize=1)
def _info_module():
    spec = importlib.util.find_spec("medmnist")  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the medmnist package is not installed (envs/requirements-nodeps.txt)")
    path = Path(spec.submodule_search_locations[0]) / "info.py"
    module_spec = importlib.util.spec_from_file_location("medrobust._medmnist_info", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module
