"""Label-feature screening: is any feature more (or less) associated with the label than in the
reference data? A check aimed at what enhancement attacks change, the features' relation to the
label, rather than the features' marginal distributions (Rosenblatt et al., arXiv 2301.01885, note that
enhanced data keep their distributions while the label association is what moves).

For every feature, the point-biserial (Pearson) correlation with the label is computed in the received
table and in the reference table (the original release, or an independent reference release with its
own labels), and the two are compared with Fisher's z test for independent correlations,
``z = (atanh r1 - atanh r2) / sqrt(1/(n1-3) + 1/(n2-3))``. The score is the number of features whose
two-sided p-value is below ``alpha / F`` (Bonferroni); flagged if >= 1. Against the original release
the two samples are the same subjects, which makes the test conservative.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats as scipy_stats


@dataclass
class ScreeningResult:
    score: int
    flagged: bool
    max_abs_r: float          # strongest label association in the received data
    max_abs_r_reference: float


@dataclass
class LabelScreening:
    alpha: float = 0.05
    r_reference: np.ndarray | None = field(default=None, repr=False)
    n_reference: int = 0

    def fit(self, clean: np.ndarray, y: np.ndarray) -> "LabelScreening":
        self.r_reference = label_correlations(clean, y)
        self.n_reference = len(y)
        return self

    def score(self, x: np.ndarray, y: np.ndarray) -> ScreeningResult:
        r = label_correlations(x, y)
        se = np.sqrt(1 / (len(y) - 3) + 1 / (self.n_reference - 3))
        z = (np.arctanh(np.clip(r, -0.999999, 0.999999)) -
             np.arctanh(np.clip(self.r_reference, -0.999999, 0.999999))) / se
        p = 2 * scipy_stats.norm.sf(np.abs(z))
        n_flagged = int(np.sum(p < self.alpha / len(r)))
        return ScreeningResult(n_flagged, n_flagged >= 1, float(np.max(np.abs(r))),
                               float(np.max(np.abs(self.r_reference))))


def label_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of every column of ``x`` with ``y`` (0 for a constant column)."""
    x = np.asarray(x, dtype=np.float64)
    yc = np.asarray(y, dtype=np.float64) - np.mean(y)
    xc = x - x.mean(axis=0)
    denom = np.sqrt((xc**2).sum(axis=0) * (yc**2).sum())
    return np.divide(xc.T @ yc, denom, out=np.zeros(x.shape[1]), where=denom > 0)
