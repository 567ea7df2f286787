"""Training-set sanitisation by spectral signatures (Tran, Li & Madry, NeurIPS 2018), via ART's
``SpectralSignatureDefense``.

Per training label, each stay's score is its squared projection on the top singular vector of the
centred penultimate activations (ART 1.20.1 projects the *uncentred* activations on that vector;
we call ART as it is); ART removes the ``eps_multiplier * expected_pp_poison`` share of
each label with the highest scores. The defender does not know the poisoning rate, so
``expected_pp_poison`` is a config guess (default 0.05, an upper bound above the 2 % headline).
ART is handed an identity classifier over precomputed activations, for the reason given in
:mod:`medrobust.ehr.activation_clustering`.

:class:`SpectralSignatureScore` exposes the same score with the detector verbs (``fit``/``score``,
higher = more suspicious), which the tests use to check its direction.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medrobust.ehr.activation_clustering import identity_classifier


def detect(activations: np.ndarray, labels: np.ndarray, expected_pp_poison: float = 0.05,
           eps_multiplier: float = 1.5) -> np.ndarray:
    """Boolean 'flagged as poison' per training stay."""
    from art.defences.detector.poison import SpectralSignatureDefense

    acts = np.ascontiguousarray(activations, dtype=np.float32)
    defence = SpectralSignatureDefense(identity_classifier(acts.shape[1]), acts, np.eye(2)[labels],
                                       batch_size=1024, eps_multiplier=eps_multiplier,
                                       expected_pp_poison=expected_pp_poison)
    _, is_clean = defence.detect_poison()
    return np.asarray(is_clean) == 0


@dataclass
class SpectralSignatureScore:
    """Tran et al.'s outlier score: squared projection of the centred activations on the top
    singular direction of the (possibly poisoned) set they were fitted on."""

    centre: np.ndarray | None = None
    direction: np.ndarray | None = None

    def fit(self, activations: np.ndarray) -> "SpectralSignatureScore":
        self.centre = activations.mean(axis=0)
        _, _, vt = np.linalg.svd(activations - self.centre, full_matrices=False)
        self.direction = vt[0]
        return self

    def score(self, activations: np.ndarray) -> np.ndarray:
        return ((activations - self.centre) @ self.direction) ** 2
