"""Fidelity of synthetic images: a classifier Fréchet distance and precision/recall coverage.

This is **not FID**. FID (Heusel et al., NeurIPS 2017) is the Fréchet distance between Gaussians
fitted to Inception-v3 pool features; Inception weights cannot be downloaded here, and ImageNet
features suit 28 px X-rays poorly anyway. We use the same distance on the 64 penultimate
features of :class:`medrobust.fedgan.downstream.SmallCNN` trained on the real training split of
the same dataset (the real-only diagnostic classifier), and call it the *classifier Fréchet
distance*. Its values are comparable between the variants of one run of this study, not with any
published FID.

* :func:`frechet_distance`: ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``, the trace of
  the root from the eigenvalues of the symmetric ``S_a^(1/2) S_b S_a^(1/2)``.
* :func:`precision_recall`: improved precision and recall (Kynkäänniemi et al., NeurIPS 2019):
  precision is the share of synthetic images inside the real manifold (the union of balls around
  each real feature vector reaching its k-th nearest real neighbour), recall the share of real
  images inside the synthetic manifold. k = 3 as in the paper.
* :func:`label_agreement`: the share of synthetic images that the real-data classifier assigns
  to the class they were generated for, a check that the conditioning works.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg


def frechet_distance(feat_a: np.ndarray, feat_b: np.ndarray) -> float:
    mu_a, mu_b = feat_a.mean(axis=0), feat_b.mean(axis=0)
    cov_a, cov_b = np.cov(feat_a, rowvar=False), np.cov(feat_b, rowvar=False)
    # tr((S_a S_b)^(1/2)) = sum of sqrt(eigenvalues of S_a^(1/2) S_b S_a^(1/2)), a symmetric PSD matrix,
    # which stays exact where dead ReLU units make the covariances singular (scipy.linalg.sqrtm warns).
    vals, vecs = linalg.eigh(cov_a)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    cross = np.sqrt(np.clip(linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def _kth_neighbour_radius(feat: np.ndarray, k: int) -> np.ndarray:
    d = _distances(feat, feat)
    return np.sort(d, axis=1)[:, k]  # column 0 is the point itself


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


def manifold_coverage(reference: np.ndarray, query: np.ndarray, k: int = 3) -> float:
    """Share of ``query`` points within the k-NN ball of at least one ``reference`` point."""
    radii = _kth_neighbour_radius(reference, k)
    return float(np.mean((_distances(query, reference) <= radii[None, :]).any(axis=1)))


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    return manifold_coverage(real, fake, k), manifold_coverage(fake, real, k)


def label_agreement(proba: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(proba).argmax(axis=1) == np.asarray(labels)))
