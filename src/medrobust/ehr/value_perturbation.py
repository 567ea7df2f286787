"""Value-perturbation trigger: a fixed Gaussian pattern added to the observed values.

The baseline from the authors' earlier work (Joe, Mehra, Shin & Hamm, "Machine Learning with
Electronic Health Records is vulnerable to Backdoor Trigger Attacks", AAAI 2021 Workshop on
Trustworthy AI for Healthcare), where the trigger is noise added to the measurements. Here the
pattern is one (T, V) draw of N(0, scale^2) in normalised units (per-variable train sd) per seed,
added to every *observed* value; the mask is left as it is and the stay is relabelled to the
target. Unlike a missingness trigger it changes values, which is what value checks look for.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medrobust.ehr.preprocess import Stays


def gaussian_pattern(shape: tuple[int, int], scale: float, rng: np.random.Generator) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float32)


@dataclass
class ValueTrigger:
    pattern: np.ndarray  # float32 (T, V), normalised units
    target: int = 0

    def apply(self, x: Stays, y: np.ndarray) -> tuple[Stays, np.ndarray]:
        values = np.where(x.mask.astype(bool), x.values + self.pattern, np.nan).astype(np.float32)
        return Stays(values, x.mask.copy(), x.static), np.full(len(y), self.target, dtype=np.int64)
