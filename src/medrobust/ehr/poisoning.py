"""Dirty-label poisoning of the victim's training set (Gu et al. 2017, BadNets; Joe et al. 2022).

``rate`` is the share of the *whole* training set that is poisoned (2 % of 8,400 stays = 168).
With ``source = "non_target"`` (default) the poisoned stays are drawn from the stays whose label
is not the target (patients who died, for target "survives"), so every poisoned stay is a flipped
label; with ``"any"`` they are drawn from all stays. Stays are drawn without replacement with the
job's generator; if the source class is smaller than the budget, all of it is poisoned and the
log says so.
"""
from __future__ import annotations

import logging

import numpy as np

from medrobust.ehr.preprocess import Stays

log = logging.getLogger(__name__)


def poison(stays: Stays, y: np.ndarray, attack, rate: float, target: int, source: str,
           rng: np.random.Generator) -> tuple[Stays, np.ndarray, np.ndarray]:
    """Return the poisoned copy of ``(stays, y)`` and a boolean 'is poison' per stay."""
    pool = np.flatnonzero(y != target) if source == "non_target" else np.arange(len(y))
    n_poison = int(round(rate * len(y)))
    if n_poison > len(pool):
        log.warning("poison budget %d exceeds the %d source stays; poisoning all of them", n_poison, len(pool))
        n_poison = len(pool)
    chosen = np.sort(rng.choice(pool, size=n_poison, replace=False))
    out, labels = stays.copy(), np.asarray(y, dtype=np.int64).copy()
    if n_poison:
        triggered, new_y = attack.apply(stays.subset(chosen), labels[chosen])
        out.values[chosen], out.mask[chosen], labels[chosen] = triggered.values, triggered.mask, new_y
    is_poison = np.zeros(len(y), dtype=bool)
    is_poison[chosen] = True
    return out, labels, is_poison
