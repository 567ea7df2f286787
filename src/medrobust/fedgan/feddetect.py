"""FedDetect as medrobust reads it: outliers in the clients' mean losses over a window of rounds.

Jin & Li (Medical Image Analysis 2023;90:102965; SASHIMI 2022 as "global malicious detection"):
the malicious client's discriminator overfits its poisoned data, which shows in the losses it
reports, so the server runs an outlier detector on the clients' losses each round after a
warm-up and suppresses the clients it flags. The authors' own rule, from their public code, is
:mod:`medrobust.fedgan.feddetect_authors` (defense ``feddetect_authors``); this module is the
variant medrobust designed before that code was read (defense ``feddetect``). It sees more than
the authors' rule (the discriminator loss too, averaged over rounds), so it is the easier test.

* :meth:`FedDetect.points`: each client's point is its mean generator and discriminator loss of
  each of the last ``window`` rounds, flattened.
* :meth:`FedDetect.score` fits an IsolationForest (Liu, Ting & Zhou, ICDM 2008; scikit-learn) on
  the K client points of the round and returns each client's anomaly score ``-score_samples``
  (about 0.5 for a typical point, towards 1 for a point isolated at once).
* :meth:`FedDetect.flag` flags a client when its score exceeds ``threshold`` (0.5 is
  scikit-learn's ``contamination="auto"`` cut) **and** its window-mean loss differs from the
  median of the other clients by more than ``tolerance`` (relative) in at least one loss. The
  second condition is ours: an IsolationForest is invariant to the scale of the data, so on four
  points it isolates whichever client noise happens to put at the edge; the tolerance says how
  far apart losses must be before their difference counts. With all clients alike nobody is
  flagged.
* :meth:`FedDetect.reweight` (:func:`update_multipliers`): a flagged client's aggregation
  multiplier is multiplied by ``decay`` each round it is flagged (``downweight``, geometric), or
  set to 0 for good (``block``). The server's FedAvg weight of a client is its sample count times
  its multiplier.

Both FedDetect variants answer the same verbs, which :func:`medrobust.fedgan.federation.run_federation`
calls after each round's local training: ``active(round)``, ``points(losses, round)``,
``flag(points, rng)`` and ``reweight(multipliers, flags, counts)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from sklearn.ensemble import IsolationForest

MODES = ("downweight", "block")
FEATURES = ("generator_loss", "discriminator_loss")


@dataclass(frozen=True)
class FedDetect:
    warmup: int = 3
    window: int = 3
    threshold: float = 0.5
    tolerance: float = 0.1
    mode: str = "downweight"
    decay: float = 0.5
    n_estimators: int = 100

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"FedDetect mode must be one of {MODES}, got {self.mode!r}")

    def active(self, round_index: int) -> bool:
        """Whether the detector runs after round ``round_index`` (0-based): past the warm-up with a full window."""
        return round_index + 1 > max(self.warmup, self.window - 1)

    def points(self, losses: Mapping[str, np.ndarray], round_index: int) -> np.ndarray:
        """``(K, window, 2)``: each client's mean generator and discriminator loss of the last rounds."""
        lo = round_index - self.window + 1
        return np.stack([losses[f][lo:round_index + 1].T for f in FEATURES], axis=-1)

    def score(self, reports: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Anomaly score per client from ``reports`` of shape ``(K, window, F)``; higher = more suspicious."""
        points = np.asarray(reports, dtype=float).reshape(len(reports), -1)
        forest = IsolationForest(n_estimators=self.n_estimators, max_samples=len(points),
                                 random_state=int(rng.integers(2**31 - 1))).fit(points)
        return -forest.score_samples(points)

    def relative_deviation(self, reports: np.ndarray) -> np.ndarray:
        """Per client, the largest relative gap between its window-mean loss and the other clients' median."""
        means = np.asarray(reports, dtype=float).mean(axis=1)  # (K, F)
        dev = np.zeros(len(means))
        for k in range(len(means)):
            others = np.median(np.delete(means, k, axis=0), axis=0)
            dev[k] = np.max(np.abs(means[k] - others) / np.maximum(np.abs(others), 1e-8))
        return dev

    def flag(self, reports: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(flags, scores)`` for the clients of one round."""
        scores = self.score(reports, rng)
        return (scores > self.threshold) & (self.relative_deviation(reports) > self.tolerance), scores

    def reweight(self, multipliers: np.ndarray, flags: np.ndarray, counts: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """``(multipliers, counts)`` after one round's flags."""
        return update_multipliers(multipliers, flags, self.mode, self.decay), counts + flags


def update_multipliers(multipliers: np.ndarray, flags: np.ndarray, mode: str, decay: float) -> np.ndarray:
    if mode not in MODES:
        raise ValueError(f"FedDetect mode must be one of {MODES}, got {mode!r}")
    out = np.asarray(multipliers, dtype=float).copy()
    out[flags] = 0.0 if mode == "block" else out[flags] * decay
    return out
