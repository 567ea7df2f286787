"""Per-stay summary features of a 48-hour ICU cohort, and a train-fitted imputer for them.

Tabular models (logistic regression, SVMs, small MLPs) do not read the stay tensor; they read one row
per stay. This module is that row, shared by every study that needs it (``enhancement`` now; ``clm``
and ``ehr`` may reuse it), so that "the summary features of PhysioNet 2012" mean one thing everywhere.

Features, in this column order (names in brackets):

* per time-series variable ``v`` and per statistic, over the hours where ``v`` was observed:
  mean ``v_mean``, minimum ``v_min``, maximum ``v_max``, last observed value ``v_last`` and the
  number of hours observed ``v_count`` (an integer 0..T). The first four are NaN when ``v`` was
  never observed in the stay; ``v_count`` is never NaN and is 0 exactly then, so missingness is
  encoded by the counts and no separate indicator columns are needed.
* the static descriptors at admission as they are (``Age``, ``Gender``, ``Height``, ``Weight``; NaN
  where unknown), except the categorical ones, which are one-hot coded (``ICUType`` ->
  ``ICUType_1`` .. ``ICUType_4``; an unknown category is all zeros).

A value counts as observed where it is finite (the cohort's ``mask`` says the same for well-formed
cohorts); nothing here warns on all-NaN slices.

Imputation (:class:`Imputer`): statistics are fitted on the training rows only and then applied to
every split, so no test information leaks into the features. A NaN is replaced by the training
median of its column (the median is robust to the heavy tails of labs such as ALT or Urine); a column
never observed in training is filled with 0. Optionally the columns are then standardised with the
training mean and standard deviation (computed after imputation; a constant column keeps scale 1)
and clipped to ``+-clip`` standard deviations, so that a few extreme lab values do not dominate
distances or correlations between rows. With ``robust=True`` the centre is the training median and
the scale the interquartile range / 1.349 (the standard deviation for normal data), falling back to
the standard deviation where the IQR is 0 (columns that are mostly one value): one unit-slip value
(the 2012 sets hold pH values of 735 beside 7.35) then cannot shrink every other stay's z-score to
almost nothing, as it does with the standard deviation.

Typical use::

    feats = stay_features(read_cohort("results/data/challenge2012/cohort.npz"))
    train = feats.group == "a"
    imputer = fit_imputer(feats.x[train], standardize=True, clip=5.0)
    x_train, x_test = imputer.transform(feats.x[train]), imputer.transform(feats.x[~train])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from medrobust.data.cohort import Cohort

STATISTICS: tuple[str, ...] = ("mean", "min", "max", "last", "count")
# Static descriptors coded one-hot, with their categories (the 2012 ICUType codes 1-4).
CATEGORICAL_STATIC: Mapping[str, tuple[int, ...]] = {"ICUType": (1, 2, 3, 4)}


@dataclass
class StayFeatures:
    """One row per stay. ``x`` is float64 (N, F) with NaN where a statistic is undefined."""

    x: np.ndarray
    names: np.ndarray
    label: np.ndarray
    stay_id: np.ndarray
    group: np.ndarray

    def subset(self, index: np.ndarray) -> "StayFeatures":
        return StayFeatures(self.x[index], self.names, self.label[index], self.stay_id[index],
                            self.group[index])


def stay_features(cohort: Cohort, statistics: Sequence[str] = STATISTICS,
                  static: bool = True) -> StayFeatures:
    """Summary features of every stay of ``cohort`` (see the module docstring for the columns)."""
    x, names = summarize_values(cohort.values, cohort.variables, statistics)
    if static:
        xs, static_names = static_features(cohort.static, cohort.static_names)
        x, names = np.concatenate([x, xs], axis=1), names + static_names
    return StayFeatures(x=x, names=np.array(names), label=np.asarray(cohort.label).astype(np.int64),
                        stay_id=np.asarray(cohort.stay_id), group=np.asarray(cohort.group).astype(str))


def summarize_values(values: np.ndarray, variables: Sequence[str],
                     statistics: Sequence[str] = STATISTICS) -> tuple[np.ndarray, list[str]]:
    """NaN-safe per-variable statistics of a (N, T, V) tensor -> (N, V * len(statistics)), names.

    Columns are grouped by variable: ``v1_mean, v1_min, ..., v2_mean, ...``.
    """
    unknown = set(statistics) - set(STATISTICS)
    if unknown:
        raise ValueError(f"unknown statistics {sorted(unknown)}; known: {STATISTICS}")
    values = np.asarray(values, dtype=np.float64)
    seen = np.isfinite(values)
    count = seen.sum(axis=1).astype(np.float64)                       # (N, V)
    never = count == 0
    filled = np.where(seen, values, 0.0)
    computed = {
        "count": count,
        "mean": np.where(never, np.nan, filled.sum(axis=1) / np.maximum(count, 1)),
        "min": np.where(never, np.nan, np.where(seen, values, np.inf).min(axis=1)),
        "max": np.where(never, np.nan, np.where(seen, values, -np.inf).max(axis=1)),
        "last": _last_observed(values, seen, never),
    }
    columns = np.stack([computed[s] for s in statistics], axis=2)     # (N, V, S)
    names = [f"{v}_{s}" for v in map(str, variables) for s in statistics]
    return columns.reshape(len(values), -1), names


def static_features(static: np.ndarray, static_names: Sequence[str],
                    categorical: Mapping[str, tuple[int, ...]] = CATEGORICAL_STATIC) -> tuple[np.ndarray, list[str]]:
    """Static descriptors as numbers; the categorical ones one-hot (unknown -> all zeros)."""
    static = np.asarray(static, dtype=np.float64)
    columns, names = [], []
    for j, name in enumerate(map(str, static_names)):
        if name in categorical:
            for code in categorical[name]:
                columns.append((static[:, j] == code).astype(np.float64))
                names.append(f"{name}_{code}")
        else:
            columns.append(static[:, j])
            names.append(name)
    return np.stack(columns, axis=1) if columns else np.zeros((len(static), 0)), names


def _last_observed(values: np.ndarray, seen: np.ndarray, never: np.ndarray) -> np.ndarray:
    t = values.shape[1]
    # argmax over the time-reversed mask finds the last observed hour.
    last_hour = t - 1 - np.argmax(seen[:, ::-1, :], axis=1)           # (N, V)
    picked = np.take_along_axis(values, last_hour[:, None, :], axis=1)[:, 0, :]
    return np.where(never, np.nan, picked)


@dataclass
class Imputer:
    """Train-fitted median imputation, then optional standardisation and clipping (module docstring)."""

    median: np.ndarray
    centre: np.ndarray
    scale: np.ndarray
    standardize: bool = True
    clip: float | None = None

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[1] != len(self.median):
            raise ValueError(f"imputer was fitted on {len(self.median)} columns, got {x.shape[1]}")
        out = np.where(np.isnan(x), self.median, x)
        if self.standardize:
            out = (out - self.centre) / self.scale
            if self.clip is not None:
                out = np.clip(out, -self.clip, self.clip)
        return out


def fit_imputer(x_train: np.ndarray, standardize: bool = True, clip: float | None = None,
                robust: bool = False) -> Imputer:
    """Fit :class:`Imputer` on the training rows only (``robust``: median / IQR scaling)."""
    x_train = np.asarray(x_train, dtype=np.float64)
    if len(x_train) == 0:
        raise ValueError("cannot fit an imputer on zero rows")
    observed = ~np.isnan(x_train)
    median = np.zeros(x_train.shape[1])
    for j in np.flatnonzero(observed.any(axis=0)):
        median[j] = np.median(x_train[observed[:, j], j])
    filled = np.where(observed, x_train, median)
    centre, scale = filled.mean(axis=0), filled.std(axis=0)
    if robust:
        q25, q50, q75 = np.quantile(filled, [0.25, 0.5, 0.75], axis=0)
        iqr = (q75 - q25) / 1.349
        centre, scale = q50, np.where(iqr > 0, iqr, scale)
    scale = np.where(scale > 0, scale, 1.0)  # a constant column stays constant (0 after centring)
    return Imputer(median=median, centre=centre, scale=scale, standardize=standardize, clip=clip)
