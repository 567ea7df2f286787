"""ehr study: the detectors score suspicious inputs higher, the sanitisers find planted poison,
fine-pruning prunes, and the bootstrap metrics equal scikit-learn's."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from medrobust.core.metrics import tpr_at_fpr
from medrobust.ehr import activation_clustering, spectral_signatures
from medrobust.ehr.evaluation import (resample_counts, seed_bootstrap, weighted_auprc, weighted_auroc,
                                      weighted_detection, weighted_share, weighted_tpr_at_fpr,
                                      with_full_sample)
from medrobust.ehr.fine_pruning import FinePruning, FineTuning
from medrobust.ehr.mask_plausibility import MaskIsolationForest, MaskVAECheck
from medrobust.ehr.models import TrainConfig, predict_proba, train_victim
from medrobust.ehr.preprocess import Stays
from medrobust.ehr.value_outliers import RangeCheck, ZScoreCheck


def structured_stays(n: int, seed: int, t: int = 12, v: int = 5) -> Stays:
    """Variable j is measured every (j+1) hours from a random start, as vitals and labs are."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((n, t, v), np.uint8)
    for j in range(v):
        start = rng.integers(0, j + 1, n)
        hours = np.arange(t)[None, :]
        mask[:, :, j] = ((hours - start[:, None]) % (j + 1) == 0) & (hours >= start[:, None])
    values = np.where(mask == 1, rng.normal(0, 1, (n, t, v)), np.nan).astype(np.float32)
    return Stays(values, mask, np.zeros((n, 1), np.float32))


def _auroc(clean_scores, odd_scores) -> float:
    return roc_auc_score(np.r_[np.zeros(len(clean_scores)), np.ones(len(odd_scores))],
                         np.r_[clean_scores, odd_scores])


def _with_mask(stays: Stays, mask: np.ndarray) -> Stays:
    return Stays(np.where(mask == 1, 0.0, np.nan).astype(np.float32), mask.astype(np.uint8), stays.static)


def test_mask_likelihood_scores_unstructured_masks_higher():
    train, test = structured_stays(600, 0), structured_stays(200, 1)
    rng = np.random.default_rng(2)
    odd = _with_mask(test, rng.random(test.mask.shape) < test.mask.mean())  # i.i.d. cells, same density
    check = MaskVAECheck(seed=0, epochs=60, hidden=32, latent=4).fit(train)
    assert _auroc(check.score(test), check.score(odd)) > 0.9


def rate_stays(n: int, seed: int, rates=(0.9, 0.5, 0.3, 0.1, 0.05), t: int = 48) -> Stays:
    """Each stay measures variable j hourly with its own rate around ``rates[j]``."""
    rng = np.random.default_rng(seed)
    p = np.clip(np.asarray(rates)[None, :] * rng.lognormal(0, 0.3, (n, len(rates))), 0, 1)
    return _with_mask(Stays(np.zeros((n, t, len(rates)), np.float32), np.zeros((n, t, len(rates)), np.uint8),
                            np.zeros((n, 1), np.float32)), rng.random((n, t, len(rates))) < p[:, None, :])


def test_mask_isolation_forest_scores_atypical_observation_rates_higher():
    train, test = rate_stays(600, 0), rate_stays(200, 1)
    odd = rate_stays(200, 2, rates=(0.05, 0.5, 0.3, 0.6, 0.6))  # vitals dropped, rare labs hourly
    check = MaskIsolationForest(seed=0).fit(train)
    assert _auroc(check.score(test), check.score(odd)) > 0.9


def test_value_checks_score_perturbed_values_higher():
    train, test = structured_stays(600, 0), structured_stays(200, 1)
    shifted = Stays(np.where(test.mask == 1, test.values + 3.0 * np.random.default_rng(4).standard_normal(
        test.values.shape), np.nan).astype(np.float32), test.mask, test.static)
    for check in (ZScoreCheck(), RangeCheck(quantile=0.01)):
        check.fit(train)
        assert _auroc(check.score(test), check.score(shifted)) > 0.9, type(check).__name__
        assert np.all(check.score(test) >= 0)


def _planted(n=1500, d=16, n_poison=60, seed=0):
    rng = np.random.default_rng(seed)
    acts = rng.normal(0, 1, (n, d)).astype(np.float32)
    labels = (rng.random(n) < 0.3).astype(int)
    poison = np.zeros(n, bool)
    poison[rng.choice(np.flatnonzero(labels == 0), n_poison, replace=False)] = True
    acts[poison] += 4.0  # the poisoned stays share a separate activation direction
    return acts, labels, poison


def test_spectral_signature_score_is_higher_for_poison():
    acts, labels, poison = _planted()
    score = spectral_signatures.SpectralSignatureScore().fit(acts[labels == 0]).score(acts[labels == 0])
    assert roc_auc_score(poison[labels == 0], score) > 0.95


@pytest.mark.parametrize("detect", [
    lambda a, y: activation_clustering.detect(a, y, nb_dims=5, seed=0),
    lambda a, y: spectral_signatures.detect(a, y, expected_pp_poison=0.05),
])
def test_art_sanitisers_flag_planted_poison(detect):
    acts, labels, poison = _planted()
    flagged = detect(acts, labels)
    assert flagged.shape == poison.shape and flagged.dtype == bool
    assert flagged[poison].mean() > 0.8
    assert flagged[~poison].mean() < 0.2


def test_fine_pruning_switches_off_units_and_returns_a_new_model():
    stays = structured_stays(300, 0)
    y = (np.nan_to_num(stays.values[:, :, 0]).sum(1) > 0).astype(int)
    cfg = TrainConfig(epochs=3, lr=1e-2, hidden=16)
    mlp = train_victim("mlp", stays, y, cfg, "forward_fill", 6.0, seed=0)
    pruned = FinePruning(0.5, epochs=1, lr=1e-3, seed=0).apply(mlp, (stays, y))
    assert int((pruned.net.unit_mask == 0).sum()) == 8 and int((mlp.net.unit_mask == 0).sum()) == 0
    tuned = FineTuning(epochs=1, lr=1e-3, seed=0).apply(mlp, (stays, y))
    assert not np.allclose(predict_proba(tuned, stays), predict_proba(mlp, stays))
    lr = train_victim("lr", stays, y, cfg, "forward_fill", 6.0, seed=0)
    with pytest.raises(ValueError):
        FinePruning(0.5, 1, 1e-3, 0).apply(lr, (stays, y))


def test_weighted_metrics_equal_sklearn_on_resamples():
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.2
    score = np.round(rng.random(300) + 0.4 * y, 2)  # rounded: ties included
    counts = with_full_sample(resample_counts(300, 5, rng))[1:]  # float32, as the jobs use them
    auroc, auprc = weighted_auroc(y, score, counts), weighted_auprc(y, score, counts)
    tpr = weighted_tpr_at_fpr(y, score, counts, 0.05)
    auroc_desc, tpr_desc = weighted_detection(y, score, counts, 0.05)
    assert np.allclose(auroc_desc, auroc, atol=1e-6) and np.allclose(tpr_desc, tpr)
    for b in range(5):
        idx = np.repeat(np.arange(300), counts[b].astype(int))
        assert auroc[b] == pytest.approx(roc_auc_score(y[idx], score[idx]), abs=1e-6)
        assert auprc[b] == pytest.approx(average_precision_score(y[idx], score[idx]), abs=1e-6)
        assert tpr[b] == pytest.approx(tpr_at_fpr(y[idx], score[idx], 0.05))
    share = weighted_share(score > 0.5, y, np.ones((1, 300)))
    assert share[0] == pytest.approx((score[y] > 0.5).mean())
    assert np.isnan(weighted_auroc(np.zeros(5, bool), np.arange(5.0), np.ones((1, 5))))[0]


def test_seed_bootstrap_interval_covers_the_mean():
    rng = np.random.default_rng(0)
    reps = rng.normal([[0.5], [0.6], [0.7]], 0.02, (3, 500))
    low, high, combined = seed_bootstrap(reps, np.random.default_rng(1))
    assert low < 0.6 < high and combined.shape == (500,)
    assert high - low > 0.05  # seed-to-seed spread is carried into the interval
