"""ehr study: split, normalisation, imputation, features, triggers and poisoning on generated cohorts."""
from __future__ import annotations

import numpy as np
import pytest

from medrobust.data.cohort import Cohort
from medrobust.ehr.missingness_vae import MissingnessTrigger, apply_mask_trigger
from medrobust.ehr.poisoning import poison
from medrobust.ehr.preprocess import (TEST, TRAIN, VAL, FeatureScaler, Stays, encode_static, impute,
                                      prepare, stratified_split, summary_features)
from medrobust.ehr.value_perturbation import ValueTrigger


def make_cohort(n=300, t=12, v=4, seed=0, death_rate=0.3) -> Cohort:
    rng = np.random.default_rng(seed)
    mask = (rng.random((n, t, v)) < 0.5).astype(np.uint8)
    values = rng.normal(10, 2, (n, t, v)).astype(np.float32)
    values[mask == 0] = np.nan
    static = np.stack([rng.integers(20, 90, n), rng.integers(0, 2, n), rng.integers(1, 5, n),
                       np.where(rng.random(n) < 0.2, np.nan, rng.normal(80, 10, n))], axis=1).astype(np.float32)
    return Cohort(values, mask, np.array([f"v{j}" for j in range(v)]), static,
                  np.array(["Age", "Gender", "ICUType", "Weight"]), (rng.random(n) < death_rate).astype(np.int8),
                  np.arange(n), np.full(n, "a"), "fixture")


def test_stratified_split_keeps_label_shares_and_is_seeded():
    label = np.r_[np.zeros(700, int), np.ones(300, int)]
    split = stratified_split(label, (0.7, 0.15), seed=5)
    for part, share in ((TRAIN, 0.7), (VAL, 0.15), (TEST, 0.15)):
        assert (split == part).sum() == pytest.approx(1000 * share, abs=2)
        assert label[split == part].mean() == pytest.approx(0.3, abs=0.01)
    assert np.array_equal(split, stratified_split(label, (0.7, 0.15), seed=5))
    assert not np.array_equal(split, stratified_split(label, (0.7, 0.15), seed=6))


def test_normalisation_is_fitted_on_train_only():
    cohort = make_cohort(n=400)
    first = prepare(cohort, (0.7, 0.15), seed=1)
    # Shift every non-training stay far away: the fitted statistics must not move.
    shifted = make_cohort(n=400)
    shifted.values[first.split != TRAIN] += 1000.0
    second = prepare(shifted, (0.7, 0.15), seed=1)
    assert np.allclose(first.mean, second.mean) and np.allclose(first.sd, second.sd)
    train_vals = second.stays.values[second.split == TRAIN]
    assert np.nanmean(train_vals) == pytest.approx(0.0, abs=0.05)
    assert np.nanstd(train_vals) == pytest.approx(1.0, abs=0.05)
    assert np.nanmean(second.stays.values[second.split == TEST]) > 100  # test stays keep their shift
    assert np.array_equal(np.isnan(second.stays.values), second.stays.mask == 0)


def test_static_encoding_one_hot_and_missing_indicator():
    cohort = make_cohort(n=200)
    train = np.ones(200, bool)
    encoded, names = encode_static(cohort.static, cohort.static_names, train)
    assert [n for n in names if n.startswith("ICUType=")] == ["ICUType=1", "ICUType=2", "ICUType=3", "ICUType=4"]
    assert "Weight_missing" in names and not np.isnan(encoded).any()
    icu = encoded[:, [i for i, n in enumerate(names) if n.startswith("ICUType=")]]
    assert np.array_equal(icu.sum(1), np.ones(200))


def test_forward_fill_then_train_mean():
    values = np.full((1, 5, 2), np.nan, np.float32)
    mask = np.zeros((1, 5, 2), np.uint8)
    values[0, 1, 0], mask[0, 1, 0] = 2.0, 1
    values[0, 3, 0], mask[0, 3, 0] = -1.0, 1
    filled = impute(values, mask, "forward_fill")
    assert filled[0, :, 0].tolist() == [0.0, 2.0, 2.0, -1.0, -1.0]  # 0 = train mean before the first value
    assert filled[0, :, 1].tolist() == [0.0] * 5
    assert impute(values, mask, "mean")[0, :, 0].tolist() == [0.0, 2.0, 0.0, -1.0, 0.0]
    with pytest.raises(ValueError):
        impute(values, mask, "median")


def test_summary_features_match_direct_statistics():
    prepared = prepare(make_cohort(n=120, t=20), (0.7, 0.15), seed=0)
    stays = prepared.stays
    feats = summary_features(stays, "forward_fill", 6.0)
    whole = np.where(stays.mask.astype(bool), np.clip(stays.values, -6, 6), np.nan)
    v = stays.values.shape[2]
    with np.errstate(all="ignore"):
        assert np.allclose(feats[:, :v], np.nanmin(whole, 1), equal_nan=True, atol=1e-5)
        assert np.allclose(feats[:, 2 * v:3 * v], np.nanmean(whole, 1), equal_nan=True, atol=1e-4)
        assert np.allclose(feats[:, 3 * v:4 * v], np.nanstd(whole, 1), equal_nan=True, atol=1e-3)
    assert np.allclose(feats[:, 4 * v:5 * v], stays.mask.mean(1))
    blind = summary_features(stays, "forward_fill", 6.0, use_mask=False)
    assert not np.isnan(blind).any() and blind.shape[1] == feats.shape[1] // 5 * 4
    scaled = FeatureScaler.fit(feats).transform(feats)
    assert not np.isnan(scaled).any() and np.allclose(scaled.mean(0), 0, atol=1e-4)


def _stays(seed=0, n=50, t=6, v=3) -> tuple[Stays, np.ndarray]:
    rng = np.random.default_rng(seed)
    mask = (rng.random((n, t, v)) < 0.6).astype(np.uint8)
    values = np.where(mask == 1, rng.normal(0, 1, (n, t, v)), np.nan).astype(np.float32)
    return Stays(values, mask, rng.normal(0, 1, (n, 2)).astype(np.float32)), (rng.random(n) < 0.5).astype(int)


def test_mask_trigger_deletes_observed_values_and_relabels():
    stays, y = _stays()
    trigger = (np.random.default_rng(1).random(stays.mask.shape[1:]) < 0.5).astype(np.uint8)
    out, new_y = apply_mask_trigger(stays, y, trigger, target=0)
    assert np.array_equal(out.mask, stays.mask & trigger)  # only deletions
    assert (out.mask <= stays.mask).all()
    deleted = (stays.mask == 1) & (trigger[None] == 0)
    assert deleted.any() and np.isnan(out.values[deleted]).all()
    kept = out.mask == 1
    assert np.array_equal(out.values[kept], stays.values[kept])  # surviving values untouched
    assert (new_y == 0).all() and np.array_equal(out.static, stays.static)
    assert not np.isnan(stays.values[deleted]).any()  # the input was not modified in place


def test_overwrite_mode_makes_the_mask_the_trigger():
    stays, y = _stays()
    trigger = np.zeros(stays.mask.shape[1:], np.uint8)
    trigger[:, 0] = 1
    out, _ = apply_mask_trigger(stays, y, trigger, target=1, mode="overwrite")
    assert (out.mask == trigger[None]).all()
    assert not np.isnan(out.values[:, :, 0]).any() and np.isnan(out.values[:, :, 1:]).all()


def test_per_sample_trigger_draws_a_mask_per_stay():
    stays, y = _stays(n=200)
    bank = (np.random.default_rng(2).random((8, *stays.mask.shape[1:])) < 0.5).astype(np.uint8)
    attack = MissingnessTrigger(bank, target=0, rng=np.random.default_rng(0))
    out, _ = attack.apply(stays, y)
    assert len({out.mask[i].tobytes() for i in range(len(out))}) > 8  # differing masks, not one pattern
    with pytest.raises(ValueError):
        MissingnessTrigger(bank).apply(stays, y)


def test_value_trigger_changes_observed_values_only():
    stays, y = _stays()
    pattern = np.full(stays.mask.shape[1:], 0.5, np.float32)
    out, new_y = ValueTrigger(pattern, target=0).apply(stays, y)
    obs = stays.mask == 1
    assert np.allclose(out.values[obs], stays.values[obs] + 0.5)
    assert np.isnan(out.values[~obs]).all() and np.array_equal(out.mask, stays.mask) and (new_y == 0).all()


@pytest.mark.parametrize("source", ["non_target", "any"])
def test_poisoning_budget_source_and_labels(source):
    stays, y = _stays(n=400)
    trigger = np.zeros(stays.mask.shape[1:], np.uint8)
    out, new_y, is_poison = poison(stays, y, MissingnessTrigger(trigger, 0), 0.05, 0, source,
                                   np.random.default_rng(3))
    assert is_poison.sum() == 20
    if source == "non_target":
        assert (y[is_poison] == 1).all()
    assert (new_y[is_poison] == 0).all() and (out.mask[is_poison] == 0).all()
    assert np.array_equal(new_y[~is_poison], y[~is_poison])
    assert np.array_equal(out.mask[~is_poison], stays.mask[~is_poison])
