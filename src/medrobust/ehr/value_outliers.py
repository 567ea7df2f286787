"""Input check on values: range and z-score outlier screening, fitted on clean training stays.

* :class:`ZScoreCheck`: mean squared z-score over a record's observed values (values are already
  in units of the per-variable training sd, so this is a diagonal Mahalanobis screen);
* :class:`RangeCheck`: share of a record's observed values outside the per-variable training
  range [q, 1-q] (q = 0.5 % by default), a plausibility-range check.

``score(x)``: higher = more suspicious. A trigger that only deletes values leaves both nearly
untouched; one that adds a pattern to the values moves them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medrobust.ehr.preprocess import Stays


@dataclass
class ZScoreCheck:
    def fit(self, clean: Stays) -> "ZScoreCheck":
        return self

    def score(self, x: Stays) -> np.ndarray:
        obs = x.mask.astype(bool)
        sq = np.where(obs, np.nan_to_num(x.values, nan=0.0) ** 2, 0.0).sum(axis=(1, 2))
        return sq / np.maximum(obs.sum(axis=(1, 2)), 1)


@dataclass
class RangeCheck:
    quantile: float = 0.005
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    def fit(self, clean: Stays) -> "RangeCheck":
        v = clean.values.shape[2]
        flat = clean.values.reshape(-1, v)
        self.low, self.high = np.full(v, -np.inf), np.full(v, np.inf)
        for j in range(v):
            seen = flat[~np.isnan(flat[:, j]), j]
            if len(seen):
                self.low[j], self.high[j] = np.quantile(seen, [self.quantile, 1 - self.quantile])
        return self

    def score(self, x: Stays) -> np.ndarray:
        obs = x.mask.astype(bool)
        vals = np.nan_to_num(x.values, nan=0.0)
        outside = obs & ((vals < self.low) | (vals > self.high))
        return outside.sum(axis=(1, 2)) / np.maximum(obs.sum(axis=(1, 2)), 1)
