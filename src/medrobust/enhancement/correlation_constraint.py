"""The similarity constraint of enhancement attacks: each enhanced subject keeps a Pearson r with its
original feature vector of at least a target (Rosenblatt et al., arXiv 2301.01885, Sec. 2).

The attacks accumulate a displacement ``d`` per subject and call :func:`project`, which keeps the
largest part ``t * d`` (``0 <= t <= 1``) of the displacement that satisfies ``r(x, x + t d) >= target``.
This is a shrink along the displacement's own ray, not a Euclidean projection onto the constraint
set: r is invariant to each subject's affine rescaling (``a * x + b`` has r = 1), and a Euclidean
projection would move subjects along those free directions, an exploit of the metric rather than the
paper's small feature changes.

Along the ray, r(t) is the cosine of the angle between the centred ``x`` (``a``) and ``a + t b``
(``b`` the centred ``d``); the point ``a + t b`` runs along a straight line, so that angle only grows
with ``t`` and r only falls. With ``A = a.a``, ``B = b.b``, ``C = a.b`` and target ``p``,
``r(t) >= p`` is ``(A + tC)^2 >= p^2 A (A + 2tC + t^2 B)``, a quadratic ``alpha t^2 + beta t + gamma >= 0``
with ``alpha = C^2 - p^2 A B``, ``beta = 2 A C (1 - p^2)``, ``gamma = A^2 (1 - p^2)``, whose first
positive root ``2 gamma / (sqrt(beta^2 - 4 alpha gamma) - beta)`` is where r falls to ``p``. Rows where
rounding leaves r a hair short are finished by bisection, so the constraint holds for every row.

r is computed across the features of one subject (the paper's per-subject "feature similarity"), in
whatever units the caller passes; the study passes standardised features so that every feature weighs
alike.
"""
from __future__ import annotations

import numpy as np

# Stay a hair inside the constraint so that an independent r computation agrees.
MARGIN = 1e-9


def pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between row i of ``a`` and row i of ``b`` (NaN where a row is constant)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ac = a - a.mean(axis=1, keepdims=True)
    bc = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt((ac * ac).sum(axis=1) * (bc * bc).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ac * bc).sum(axis=1) / denom


def centred_norm(x: np.ndarray) -> np.ndarray:
    """Norm of each row after removing its mean: the scale of a subject's step sizes."""
    return np.linalg.norm(x - x.mean(axis=1, keepdims=True), axis=1)


def unit_rows(g: np.ndarray) -> np.ndarray:
    """Each row scaled to unit norm (a zero row stays zero)."""
    norm = np.linalg.norm(g, axis=1, keepdims=True)
    return np.divide(g, norm, out=np.zeros_like(g), where=norm > 0)


def feasible_fraction(x: np.ndarray, d: np.ndarray, target: float) -> np.ndarray:
    """Per row, the largest ``t`` in [0, 1] with ``r(x, x + t d) >= target``."""
    x = np.asarray(x, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    goal = min(1.0, target + MARGIN)
    a = x - x.mean(axis=1, keepdims=True)
    b = d - d.mean(axis=1, keepdims=True)
    big_a, big_b, c = (a * a).sum(axis=1), (b * b).sum(axis=1), (a * b).sum(axis=1)
    alpha = c * c - goal**2 * big_a * big_b
    beta = 2 * big_a * c * (1 - goal**2)
    gamma = big_a**2 * (1 - goal**2)
    denom = np.sqrt(np.maximum(beta * beta - 4 * alpha * gamma, 0)) - beta
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(denom > 0, 2 * gamma / denom, 1.0)
    t = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0)
    t = np.where(big_a > 0, t, 0.0)  # a constant row has no r: leave it alone
    short = (big_a > 0) & (_r_at(x, d, t) < target + MARGIN / 2)
    if short.any():
        t[short] = _bisect(x[short], d[short], goal, t[short])
    return t


def project(x: np.ndarray, x_new: np.ndarray, target: float) -> np.ndarray:
    """``x_new`` pulled back towards ``x`` row by row until each row's r with ``x`` is >= ``target``."""
    x = np.asarray(x, dtype=np.float64)
    d = np.asarray(x_new, dtype=np.float64) - x
    t = feasible_fraction(x, d, target)
    return x + t[:, None] * d


def _bisect(x: np.ndarray, d: np.ndarray, goal: float, upper: np.ndarray, iterations: int = 60) -> np.ndarray:
    lo, hi = np.zeros(len(x)), np.asarray(upper, dtype=np.float64).copy()
    for _ in range(iterations):
        mid = (lo + hi) / 2
        ok = _r_at(x, d, mid) >= goal
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return lo


def _r_at(x: np.ndarray, d: np.ndarray, t: np.ndarray) -> np.ndarray:
    r = pearson_rows(x, x + t[:, None] * d)
    return np.where(np.isnan(r), -np.inf, r)
