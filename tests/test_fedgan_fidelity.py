"""FID and KID (torchmetrics on given features) against closed forms, and early stopping of the classifiers."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg

from medrobust.fedgan.downstream import train_classifier
from medrobust.fedgan.fidelity import fid, kid, label_agreement, precision_recall


def test_fid_equals_the_frechet_formula():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(300, 5, generator=gen).double()
    b = (torch.randn(300, 5, generator=gen) * 1.5 + 0.7).double()
    mu_a, mu_b = a.mean(0).numpy(), b.mean(0).numpy()
    cov_a, cov_b = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    expected = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * linalg.sqrtm(cov_a @ cov_b).real)
    assert fid(a, b) == pytest.approx(expected, rel=1e-6)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-6)


def test_kid_is_the_unbiased_mmd_with_the_cubic_kernel_by_hand():
    # 1-d features, k(a, b) = (a * b / 1 + 1) ** 3. X = {0, 1}, Y = {0, 2}:
    # within X off-diagonal k(0, 1) = 1 (twice) / (2 * 1) = 1; within Y k(0, 2) = 1 -> 1;
    # across: k(0,0) + k(0,2) + k(1,0) + k(1,2) = 1 + 1 + 1 + 27 = 30 -> 2 * 30 / 4 = 15; MMD^2 = 1 + 1 - 15
    x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    y = torch.tensor([[0.0], [2.0]], dtype=torch.float64)
    assert kid(x, y, seed=0, subsets=1) == pytest.approx(-13.0)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(400, 8, generator=gen).double(), torch.randn(400, 8, generator=gen).double()
    shifted = b + 1.0
    same, apart = kid(a, b, seed=2), kid(a, shifted, seed=2)
    assert abs(same) < 0.02 < apart
    assert kid(a, shifted, seed=2) == apart  # the subsets come from the seed


def test_precision_recall_and_label_agreement():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 4))
    assert precision_recall(real, real + 100)[0] == 0.0  # synthetic far off the real manifold
    assert precision_recall(real, real.copy())[0] == 1.0
    assert label_agreement(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), np.array([0, 1, 1])) == pytest.approx(2 / 3)


def _separable(n: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 1, 28, 28, generator=gen) * 0.4 - 0.2
    x[y == 1, :, 8:20, 8:20] += 0.8  # a bright square marks class 1
    return x, y


def test_classifier_trains_to_convergence_and_says_when_it_did_not():
    x, y = _separable(400, 0)
    val = _separable(100, 1)
    fit = train_classifier(x, y, 2, torch.Generator().manual_seed(2), val=val, max_epochs=40, patience=2)
    assert fit.converged and fit.epochs < 40 and fit.best_epoch <= fit.epochs - 2
    pred = fit.model(val[0]).argmax(1)
    assert (pred == val[1]).float().mean() > 0.95
    short = train_classifier(x, y, 2, torch.Generator().manual_seed(2), val=val, max_epochs=1, patience=2)
    assert not short.converged and short.epochs == 1
