"""Input check on missingness plausibility: does a record's observation mask look like real ones?

Two scorers, both fitted on clean training stays only (the defender never sees a trigger):

* :class:`MaskVAECheck`: likelihood under a mask model, the negative ELBO of a defender's own
  :class:`~medrobust.ehr.missingness_vae.MaskVAE` (a separate fit with the defender's seed);
* :class:`MaskIsolationForest`: an IsolationForest (Liu, Ting & Zhou, ICDM 2008; scikit-learn)
  over the share of observed hours per variable in six 8-hour windows.

``score(x)``: higher = more suspicious. Checks that Joe et al. 2022 argue a missingness trigger
evades, because the trigger was learned to look like the masks of normal records.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import IsolationForest

from medrobust.ehr.missingness_vae import MaskVAE, fit_mask_vae, mask_scores
from medrobust.ehr.preprocess import Stays


@dataclass
class MaskVAECheck:
    seed: int
    epochs: int = 30
    hidden: int = 256
    latent: int = 16
    vae: MaskVAE | None = None

    def fit(self, clean: Stays) -> "MaskVAECheck":
        self.vae = fit_mask_vae(clean.mask, self.seed, self.epochs, self.hidden, self.latent)
        return self

    def score(self, x: Stays) -> np.ndarray:
        return mask_scores(self.vae, x.mask)


def window_shares(mask: np.ndarray, n_windows: int = 6) -> np.ndarray:
    """(N, n_windows * V): share of observed hours per variable per window."""
    n, t, v = mask.shape
    edges = np.linspace(0, t, n_windows + 1).round().astype(int)
    parts = [mask[:, a:b].mean(axis=1) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    return np.concatenate(parts, axis=1).astype(np.float32)


@dataclass
class MaskIsolationForest:
    seed: int
    n_estimators: int = 100
    forest: IsolationForest | None = field(default=None, repr=False)

    def fit(self, clean: Stays) -> "MaskIsolationForest":
        self.forest = IsolationForest(n_estimators=self.n_estimators, random_state=self.seed % 2**31)
        self.forest.fit(window_shares(clean.mask))
        return self

    def score(self, x: Stays) -> np.ndarray:
        return -self.forest.score_samples(window_shares(x.mask))
