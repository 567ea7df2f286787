"""Which cells of a release an enhancement attack may alter without changing the table's value domain.

Connectomes, the paper's data (Rosenblatt et al., arXiv 2301.01885), are continuous: every value is
distinct and a small change leaves no trace in the value set. Per-stay EHR features are not: binary
and one-hot columns, hour counts, integer vitals, the training-median fill of unobserved variables
and values clipped at +-clip_z are each shared by many stays. Moving any of those by a fraction of a
standard deviation breaks the ties, something a Kolmogorov-Smirnov test or a glance at the value
counts catches at once (the first run of this study flagged >100 of 193 features even at r = 0.999),
which would measure the attacker's carelessness rather than the checks.

So the attacker here alters only the cells whose value is held by at most ``max_shared`` stays of
its column; every other cell keeps its exact value. The similarity constraint is still measured
over all features (:mod:`.correlation_constraint`), so frozen cells count as unchanged.

With ``keep_range`` (on by default) the attacker also keeps every value inside the range [min, max]
its variable has in the original release (:func:`keep_in_range`): a value no stay held would be a
trace of its own (the study's first measurement found ~0.5% of cells moved outside at r = 0.99).
A cell whose change would carry it out of the range keeps its original value instead of being
clipped to the bound, since clipping would create new ties at the column's extremes.
"""
from __future__ import annotations

import numpy as np


def mutable_cells(x: np.ndarray, max_shared: int = 1) -> np.ndarray:
    """Boolean (N, F): True where the cell's value occurs in at most ``max_shared`` rows of its column."""
    x = np.asarray(x)
    mask = np.zeros(x.shape, dtype=bool)
    for j in range(x.shape[1]):
        _, inverse, counts = np.unique(x[:, j], return_inverse=True, return_counts=True)
        mask[:, j] = counts[inverse] <= max_shared
    return mask


def keep_in_range(original: np.ndarray, x_new: np.ndarray) -> np.ndarray:
    """``x_new`` with every cell outside its column's [min, max] in ``original`` put back to its original value.

    The result lies in the box of the original's column ranges, so the r constraint's shrink towards
    the original (:func:`medrobust.enhancement.correlation_constraint.project`) keeps it there.
    """
    x0 = np.asarray(original, dtype=np.float64)
    x_new = np.asarray(x_new, dtype=np.float64)
    outside = (x_new < x0.min(axis=0)) | (x_new > x0.max(axis=0))
    return np.where(outside, x0, x_new)
