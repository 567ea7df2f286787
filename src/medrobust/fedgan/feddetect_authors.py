"""FedDetect as the authors coded it (defense ``feddetect_authors``).

Jin & Li, Medical Image Analysis 2023;90:102965, public code github.com/Nanboy-Ronan/Backdoor-FedGAN,
``scripts/vanilla.py`` (and ``scripts/gp.py``, the same rule with a gradient penalty). Each
communication round, after local training:

* each client's point is ``(0, |generator loss of its last local batch|)``: one number that
  matters (:meth:`FedDetectAuthors.points`);
* an IsolationForest (``max_samples`` = number of clients, ``contamination="auto"``) is fitted on
  the K points and its ``fit_predict`` marks outliers (-1); scikit-learn's ``"auto"`` cut is an
  anomaly score ``-score_samples`` above 0.5;
* only after the warm-up (their ``epoch > warmup`` with 0-based epochs, warm-up 10) and only when
  fewer than half of the clients (``len(outliers) < K // 2``) are outliers does anything happen:
  each outlier's count rises by one and its aggregation weight is multiplied by
  ``decay ** count`` (decay 0.9), after which all weights are renormalised to sum to one.
  Otherwise the round leaves the weights alone (:meth:`FedDetectAuthors.flag` then flags nobody).

So a client flagged in c rounds keeps ``0.9 ** (1 + 2 + ... + c)`` of its weight relative to the
others. Differences from the authors' script, each without effect on the rule: the forest's
``random_state`` is drawn from the run's detector stream instead of the constant 999 (visible
randomness, :mod:`medrobust.core.seeding`); the weights multiply each client's sample count in
FedAvg, as every variant here does (the authors' clients hold equal shares, so theirs start at
1/K; the default IID split is equal to one image); the multipliers are renormalised to mean 1
rather than sum 1 (FedAvg normalises them anyway).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from sklearn.ensemble import IsolationForest


@dataclass(frozen=True)
class FedDetectAuthors:
    warmup: int = 10
    decay: float = 0.9
    n_estimators: int = 100

    def active(self, round_index: int) -> bool:
        """The authors' ``epoch > warmup`` with 0-based rounds: with warm-up 10 the 12th round is the first."""
        return round_index > self.warmup

    def points(self, losses: Mapping[str, np.ndarray], round_index: int) -> np.ndarray:
        """``(K, 2)``: zero beside each client's absolute generator loss of its last local batch."""
        last = np.abs(np.asarray(losses["generator_loss_last"][round_index], dtype=float))
        return np.column_stack([np.zeros_like(last), last])

    def flag(self, points: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(flags, scores)``: the forest's outliers, or nobody when half the clients or more are outliers."""
        forest = IsolationForest(n_estimators=self.n_estimators, max_samples=len(points), contamination="auto",
                                 random_state=int(rng.integers(2**31 - 1))).fit(points)
        outliers = forest.predict(points) == -1
        scores = -forest.score_samples(points)
        if outliers.sum() >= len(points) // 2:
            return np.zeros(len(points), dtype=bool), scores
        return outliers, scores

    def reweight(self, multipliers: np.ndarray, flags: np.ndarray, counts: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """A flagged client's count rises by one and its multiplier is multiplied by ``decay ** count``."""
        counts = np.asarray(counts, dtype=int) + np.asarray(flags, dtype=int)
        out = np.asarray(multipliers, dtype=float).copy()
        if not np.any(flags):
            return out, counts
        out[flags] *= self.decay ** counts[flags]
        return out * len(out) / out.sum(), counts
