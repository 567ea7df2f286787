"""The 48-hour ICU stay tensor shared by every EHR source (PhysioNet 2012, MIMIC demos, full MIMIC).

A cohort is stored as one ``.npz`` (no pickle) that later rules load in well under a second.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields

import numpy as np

from medrobust.core.io import read_npz, write_npz


@dataclass
class Cohort:
    """Stays x hours x variables, with the observation mask kept beside the values.

    values:   float32 (N, T, V); NaN where nothing was observed in that hour.
    mask:     uint8 (N, T, V); 1 where at least one value was observed in that hour.
    variables: (V,) names, e.g. 'HR', 'Creatinine'.
    static:   float32 (N, S); descriptors at admission (Age, Gender, Height, ICUType, Weight); NaN if unknown.
    static_names: (S,) names.
    label:    int8 (N,); 1 = in-hospital death.
    stay_id:  int64 (N,); the open datasets' record ids; for credentialed data a sequential index, never the real id.
    group:    (N,) source partition, e.g. 'a', 'b', 'c' for the 2012 sets.
    dataset:  registry name of the source.
    """

    values: np.ndarray
    mask: np.ndarray
    variables: np.ndarray
    static: np.ndarray
    static_names: np.ndarray
    label: np.ndarray
    stay_id: np.ndarray
    group: np.ndarray
    dataset: str

    def __post_init__(self) -> None:
        n, t, v = self.values.shape
        checks = {
            "mask": (self.mask.shape, (n, t, v)),
            "variables": (self.variables.shape, (v,)),
            "static": (self.static.shape[:1], (n,)),
            "static_names": (self.static_names.shape, (self.static.shape[1],)),
            "label": (self.label.shape, (n,)),
            "stay_id": (self.stay_id.shape, (n,)),
            "group": (self.group.shape, (n,)),
        }
        for name, (got, want) in checks.items():
            if tuple(got) != tuple(want):
                raise ValueError(f"cohort {self.dataset}: {name} has shape {got}, expected {want}")

    @property
    def n_stays(self) -> int:
        return self.values.shape[0]

    def subset(self, index: np.ndarray) -> "Cohort":
        per_stay = {"values", "mask", "static", "label", "stay_id", "group"}
        return Cohort(**{f.name: (getattr(self, f.name)[index] if f.name in per_stay else getattr(self, f.name))
                         for f in fields(self)})


def write_cohort(path: str | os.PathLike, cohort: Cohort) -> None:
    write_npz(path, compressed=True,
              values=cohort.values.astype(np.float32), mask=cohort.mask.astype(np.uint8),
              variables=cohort.variables.astype(str), static=cohort.static.astype(np.float32),
              static_names=cohort.static_names.astype(str), label=cohort.label.astype(np.int8),
              stay_id=cohort.stay_id.astype(np.int64), group=cohort.group.astype(str),
              dataset=np.array(cohort.dataset))


def read_cohort(path: str | os.PathLike) -> Cohort:
    data = read_npz(path)
    missing = {f.name for f in fields(Cohort)} - set(data)
    if missing:
        raise ValueError(f"{path}: not a medrobust cohort file, missing arrays {sorted(missing)}")
    data["dataset"] = str(data["dataset"])
    return Cohort(**data)
