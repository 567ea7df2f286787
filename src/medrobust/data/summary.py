"""Tidy summaries of the loaded data for the report's data section.

One row per number, columns ``dataset, section, item, statistic, value``, so that the report code reads
every source alike. Aggregates only: no row describes a single stay, record or image (credentialed
cohorts pass through here too).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from medrobust.data.challenge2017 import LABELS, EcgSet
from medrobust.data.cohort import Cohort
from medrobust.data.medmnist_npz import SPLITS, medmnist_info

COLUMNS = ["dataset", "section", "item", "statistic", "value"]
QUANTILES = {"min": 0.0, "q25": 0.25, "median": 0.5, "q75": 0.75, "max": 1.0}


def summarize_cohort(cohort: Cohort) -> pd.DataFrame:
    """Size, mortality (overall and per group), missingness per variable, static descriptors."""
    rows = [("cohort", "all", "n_stays", cohort.n_stays),
            ("cohort", "all", "n_hours", cohort.values.shape[1]),
            ("cohort", "all", "n_variables", cohort.values.shape[2])]
    deaths, rate = _deaths(cohort.label)
    rows += [("label", "death", "count", deaths), ("label", "death", "rate", rate)]
    for group in np.unique(cohort.group):
        in_group = cohort.group == group
        deaths, rate = _deaths(cohort.label[in_group])
        rows += [("group", str(group), "n_stays", int(in_group.sum())),
                 ("group", str(group), "deaths", deaths), ("group", str(group), "death_rate", rate)]
    observed = cohort.mask.astype(bool)
    for j, name in enumerate(cohort.variables):
        seen = observed[..., j]
        rows.append(("missingness", str(name), "missing_rate", 1.0 - seen.mean() if seen.size else np.nan))
        rows.append(("missingness", str(name), "stays_never_observed", int((~seen.any(axis=1)).sum())))
    for j, name in enumerate(cohort.static_names):
        column = cohort.static[:, j].astype(np.float64)
        known = column[~np.isnan(column)]
        rows.append(("static", str(name), "missing_rate", float(np.isnan(column).mean()) if len(column) else np.nan))
        rows.append(("static", str(name), "median", float(np.median(known)) if len(known) else np.nan))
    return _frame(cohort.dataset, rows)


def summarize_ecgset(ecgset: EcgSet, dataset: str = "challenge2017") -> pd.DataFrame:
    """Record count, label counts and shares, and record duration quantiles (seconds)."""
    n = ecgset.n_records
    rows = [("records", "all", "n_records", n), ("records", "all", "fs", ecgset.fs)]
    for label in LABELS:
        count = int((ecgset.label == label).sum())
        rows += [("label", label, "count", count), ("label", label, "share", count / n if n else np.nan)]
    seconds = ecgset.lengths / ecgset.fs
    for stat, q in QUANTILES.items():
        rows.append(("duration_s", "all", stat, float(np.quantile(seconds, q)) if n else np.nan))
    return _frame(dataset, rows)


def summarize_medmnist(data: dict[str, np.ndarray], flag: str) -> pd.DataFrame:
    """Image size, images per split, and class counts per split (positives per label if multi-label)."""
    info = medmnist_info(flag)
    names = info["label"]
    shape = data["train_images"].shape
    rows = [("images", "all", "height", shape[1]), ("images", "all", "width", shape[2]),
            ("images", "all", "channels", info["n_channels"])]
    for split in SPLITS:
        labels = data[f"{split}_labels"]
        rows.append((split, "all", "n_images", len(labels)))
        if labels.shape[1] > 1:  # multi-label: one 0/1 column per finding
            counts = labels.sum(axis=0)
        else:
            counts = np.bincount(labels[:, 0].astype(np.int64), minlength=len(names))
            if len(counts) > len(names):  # medmnist_npz.load refuses these; arrays from elsewhere may not
                raise ValueError(f"{flag}: {split}_labels holds class {len(counts) - 1}, but {flag} has "
                                 f"{len(names)} classes (0-{len(names) - 1})")
        rows += [(split, names[str(k)], "count", int(c)) for k, c in enumerate(counts)]
    return _frame(flag, rows)


def _deaths(label: np.ndarray) -> tuple[int, float]:
    deaths = int(label.sum())
    return deaths, deaths / len(label) if len(label) else np.nan


def _frame(dataset: str, rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS[1:])
    frame.insert(0, "dataset", dataset)
    frame["value"] = frame["value"].astype(np.float64)
    return frame
