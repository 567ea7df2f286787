"""Non-VAE baseline trigger: a random missingness mask (the stealth control for Joe et al. 2022).

One mask per seed with every cell observed independently with probability equal to the observed
share of that seed's VAE trigger, so both triggers delete about as much; only the VAE's learned
structure (which variables are measured together, and how often) differs. It is applied exactly
like the VAE trigger (:func:`medrobust.ehr.missingness_vae.apply_mask_trigger`).
"""
from __future__ import annotations

import numpy as np


def random_mask(shape: tuple[int, int], observed_share: float, rng: np.random.Generator) -> np.ndarray:
    """uint8 (T, V) mask with i.i.d. Bernoulli(``observed_share``) cells."""
    return (rng.random(shape) < observed_share).astype(np.uint8)
