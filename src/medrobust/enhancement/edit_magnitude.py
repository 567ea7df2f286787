"""How much an enhancement attack changed the release, in clinical units.

Rosenblatt et al. (arXiv 2301.01885) state an attack's budget as each subject's Pearson r with its
original. Across different clinical variables r > 0.99 does not say that every value moved little:
r weighs a subject's whole feature vector at once. So every enhanced version is also measured cell by
cell against the original release:

* ``cells_changed``: the share of all cells whose value differs;
* the absolute change of each changed cell in **IQR units of its variable** (the feature's
  interquartile range in the original release: the true IQR, not the IQR / 1.349 that the features
  are scaled by). A feature whose IQR is 0 (a column mostly holding one value: a count, an imputed
  fill) has no IQR unit; its changes are measured in its standard deviation instead, and a constant
  column in units of 1. Pooled over every changed cell: the median, the 99th percentile and the
  maximum; per variable: the same three over that variable's changed cells;
* ``outside_range``: the share of all cells whose enhanced value lies outside the range
  [min, max] that its variable has in the original release (a value no stay of the release held);
* a histogram of the changes on log-spaced bins (:data:`BINS`), for the report's figure.

The features are standardised per column (:mod:`medrobust.enhancement.tasks`), so a change measured
in the column's own IQR is the same number in the raw clinical units.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# |change| in IQR units: log-spaced from 1e-3 to 30 IQR; smaller and larger changes fall in the end bins.
BINS = np.logspace(-3, np.log10(30.0), 43)


@dataclass(frozen=True)
class EditMagnitude:
    cells_changed: float
    median: float
    p99: float
    max: float
    outside_range: float
    variable_median: np.ndarray   # (F,), NaN where no cell of the variable changed
    variable_p99: np.ndarray
    variable_max: np.ndarray
    variable_changed: np.ndarray  # (F,) share of the variable's cells changed
    variable_outside: np.ndarray  # (F,) share of the variable's cells outside its observed range
    histogram: np.ndarray         # (len(BINS) - 1,) counts of changed cells

    def arrays(self, prefix: str = "edit_") -> dict[str, np.ndarray]:
        return {f"{prefix}{k}": np.asarray(getattr(self, k), dtype=np.float64)
                for k in self.__dataclass_fields__}


def variable_units(x: np.ndarray) -> np.ndarray:
    """Each column's IQR; its standard deviation where the IQR is 0; 1 for a constant column."""
    x = np.asarray(x, dtype=np.float64)
    q25, q75 = np.quantile(x, [0.25, 0.75], axis=0)
    iqr, sd = q75 - q25, x.std(axis=0)
    return np.where(iqr > 0, iqr, np.where(sd > 0, sd, 1.0))


def measure(original: np.ndarray, enhanced: np.ndarray) -> EditMagnitude:
    """The edit magnitude of one enhanced version against its original release."""
    x0 = np.asarray(original, dtype=np.float64)
    x1 = np.asarray(enhanced, dtype=np.float64)
    if x0.shape != x1.shape:
        raise ValueError(f"edit magnitude: enhanced shape {x1.shape} differs from the original {x0.shape}")
    changed = x1 != x0
    size = np.abs(x1 - x0) / variable_units(x0)
    outside = (x1 < x0.min(axis=0)) | (x1 > x0.max(axis=0))
    moved = size[changed]
    pooled = np.quantile(moved, [0.5, 0.99]) if moved.size else np.full(2, np.nan)
    per_var = np.full((3, x0.shape[1]), np.nan)
    for j in np.flatnonzero(changed.any(axis=0)):
        col = size[changed[:, j], j]
        per_var[:, j] = [np.median(col), np.quantile(col, 0.99), col.max()]
    histogram, _ = np.histogram(np.clip(moved, BINS[0], BINS[-1]), bins=BINS)
    return EditMagnitude(cells_changed=float(changed.mean()), median=float(pooled[0]), p99=float(pooled[1]),
                         max=float(moved.max()) if moved.size else float("nan"),
                         outside_range=float(outside.mean()), variable_median=per_var[0], variable_p99=per_var[1],
                         variable_max=per_var[2], variable_changed=changed.mean(axis=0),
                         variable_outside=outside.mean(axis=0), histogram=histogram)


def measure_sweep(original: np.ndarray, enhanced: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`measure` for every version of a sweep (``enhanced`` (T, N, F)), stacked: ``edit_<field>`` (T, ...)."""
    per_target = [measure(original, x).arrays() for x in enhanced]
    return {key: np.stack([m[key] for m in per_target]) for key in per_target[0]}
