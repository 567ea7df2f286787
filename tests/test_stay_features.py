"""Per-stay summary features and their train-fitted imputation, checked by hand on tiny cohorts."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from medrobust.data.cohort import Cohort
from medrobust.data.stay_features import STATISTICS, fit_imputer, stay_features, summarize_values


def _toy_cohort() -> Cohort:
    """Stay 0: HR at hours 0 and 2 (80, 100), Urine never. Stay 1: HR at hour 1 (60), Urine at 0 and 2."""
    values = np.full((2, 3, 2), np.nan, np.float32)
    values[0, 0, 0], values[0, 2, 0] = 80, 100
    values[1, 1, 0] = 60
    values[1, 0, 1], values[1, 2, 1] = 30, 10
    mask = np.isfinite(values).astype(np.uint8)
    static = np.array([[70, 1, np.nan, 3, 80], [50, 0, 170, np.nan, 60]], np.float32)
    return Cohort(values=values, mask=mask, variables=np.array(["HR", "Urine"]), static=static,
                  static_names=np.array(["Age", "Gender", "Height", "ICUType", "Weight"]),
                  label=np.array([1, 0], np.int8), stay_id=np.array([11, 12]),
                  group=np.array(["a", "b"]), dataset="challenge2012")


def _column(feats, name):
    return feats.x[:, list(feats.names).index(name)]


def test_statistics_by_hand_and_never_observed_is_nan_with_zero_count():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # all-NaN slices must not warn
        feats = stay_features(_toy_cohort())
    np.testing.assert_allclose(_column(feats, "HR_mean"), [90, 60])
    np.testing.assert_allclose(_column(feats, "HR_min"), [80, 60])
    np.testing.assert_allclose(_column(feats, "HR_max"), [100, 60])
    np.testing.assert_allclose(_column(feats, "HR_last"), [100, 60])
    np.testing.assert_allclose(_column(feats, "HR_count"), [2, 1])
    for stat in ("mean", "min", "max", "last"):
        assert np.isnan(_column(feats, f"Urine_{stat}")[0])
    np.testing.assert_allclose(_column(feats, "Urine_last"), [np.nan, 10])
    np.testing.assert_allclose(_column(feats, "Urine_count"), [0, 2])
    assert feats.x.shape == (2, 2 * len(STATISTICS) + 4 + 4)  # 4 numeric static + 4 ICUType codes


def test_static_descriptors_and_icutype_one_hot():
    feats = stay_features(_toy_cohort())
    np.testing.assert_allclose(_column(feats, "Age"), [70, 50])
    np.testing.assert_allclose(_column(feats, "Height"), [np.nan, 170])
    np.testing.assert_allclose(_column(feats, "ICUType_3"), [1, 0])
    np.testing.assert_allclose(feats.x[1, [list(feats.names).index(f"ICUType_{k}") for k in (1, 2, 3, 4)]], 0)
    assert list(feats.label) == [1, 0] and list(feats.group) == ["a", "b"]


def test_unknown_statistic_is_an_error():
    with pytest.raises(ValueError, match="unknown statistics"):
        summarize_values(np.zeros((1, 2, 1)), ["HR"], ["median"])


def test_imputer_uses_training_statistics_only():
    train = np.array([[1.0, np.nan], [3.0, np.nan], [np.nan, np.nan], [5.0, np.nan]])
    test = np.array([[np.nan, np.nan], [100.0, 7.0]])
    imputer = fit_imputer(train, standardize=False)
    out = imputer.transform(test)
    np.testing.assert_allclose(out, [[3.0, 0.0], [100.0, 7.0]])  # train median 3; never seen -> 0


def test_standardised_train_columns_have_zero_mean_unit_sd_and_clip():
    rng = np.random.default_rng(0)
    train = rng.normal(50, 10, size=(200, 3))
    train[rng.random(train.shape) < 0.2] = np.nan
    train[:, 2] = 4.0  # constant column
    imputer = fit_imputer(train, standardize=True, clip=2.0)
    z = imputer.transform(train)
    assert np.isfinite(z).all() and np.abs(z).max() <= 2.0
    np.testing.assert_allclose(z[:, 2], 0.0)
    unclipped = fit_imputer(train, standardize=True).transform(train)
    np.testing.assert_allclose(unclipped[:, :2].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(unclipped[:, :2].std(axis=0), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="fitted on 3 columns"):
        imputer.transform(np.zeros((1, 2)))


def test_robust_scaling_ignores_a_unit_slip_outlier():
    rng = np.random.default_rng(1)
    ph = rng.normal(7.35, 0.08, size=(300, 1))
    ph[0, 0] = 735.0  # the 2012 sets hold such slips
    plain = fit_imputer(ph, standardize=True, clip=5.0).transform(ph)
    robust = fit_imputer(ph, standardize=True, clip=5.0, robust=True).transform(ph)
    assert plain[1:].std() < 0.1                      # one outlier squashes everyone else
    assert 0.8 < robust[1:].std() < 1.2 and robust[0, 0] == 5.0
