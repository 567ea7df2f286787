"""Build :class:`~medrobust.data.fetch.Sources` from the validated ``data`` config section."""
from __future__ import annotations

from pathlib import Path

from medrobust.data.fetch import Sources


def from_config(data: dict) -> Sources:
    mirror = data.get("mirror")
    return Sources(mirror=Path(mirror).resolve() if mirror else None,
                   physionet_url=data["physionet_url"], zenodo_url=data["zenodo_url"],
                   retries=data["retries"], timeout=data["timeout"], offline=data["offline"],
                   medmnist_md5=tuple(sorted(data["medmnist"]["md5"].items())))
