"""From a 48 h stay cohort to the victim models' inputs: split, normalisation, imputation, features.

Choices (each one a documented, configurable step of the victim's own pipeline):

* **Split.** Stratified by label, ``train``/``val``/``test`` fractions from the config, one fixed
  seed (``derive_seed(seed, "ehr", "split")``), the same for every model and every model seed.
* **Normalisation.** Per variable, mean and standard deviation of the *observed training* values
  only; a variable observed fewer than twice in train gets mean 0, sd 1. Values are stored
  normalised but unclipped, with NaN where unobserved, so that attacks and input checks act on the
  record itself; the models clip their inputs to ``±clip_z`` (outliers such as pH 735 exist).
* **Static descriptors.** Kept apart from the time series. A descriptor with 3-6 distinct integer
  values (ICUType) is one-hot encoded; the others are normalised with train statistics; a missing
  one becomes 0 (the train mean) with a 0/1 missing indicator beside it.
* **Imputation** (``forward_fill`` or ``mean``): forward fill within a stay, then the train mean
  (0 in normalised units) before the first observation; or the train mean everywhere. It is
  re-applied after every trigger, so a deleted value is imputed exactly as a never-observed one.
* **Summary features** (LR and MLP), after Harutyunyan et al. 2019 (MIMIC-III benchmark): for
  each variable and each of six windows (whole stay, first 25 % and 50 %, last 50 %, 25 % and
  10 %), the min, max, mean and sd of the *observed* values, and the share of observed hours. A
  statistic with no observation is imputed with its training mean; features are then
  standardised on train. The mask-blind variant computes the four value statistics on the imputed
  sequence and drops the observed shares.
* **Sequence inputs** (LSTM and GRU): imputed values and the mask as 2V channels per hour
  (V channels when mask-blind), statics joined after the recurrent layer.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from medrobust.core.seeding import make_rng
from medrobust.data.cohort import Cohort

TRAIN, VAL, TEST = 0, 1, 2
WINDOWS = (("all", 0.0, 1.0), ("first25", 0.0, 0.25), ("first50", 0.0, 0.5),
           ("last50", 0.5, 1.0), ("last25", 0.75, 1.0), ("last10", 0.9, 1.0))
STATS = ("min", "max", "mean", "sd")


@dataclass
class Stays:
    """ICU stays as the attacks and models see them.

    values: float32 (N, T, V), normalised, NaN where unobserved.
    mask:   uint8 (N, T, V), 1 where observed.
    static: float32 (N, S), encoded descriptors without NaN.
    """

    values: np.ndarray
    mask: np.ndarray
    static: np.ndarray

    def __post_init__(self) -> None:
        if self.values.shape != self.mask.shape or len(self.static) != len(self.values):
            raise ValueError(f"stays: values {self.values.shape}, mask {self.mask.shape} and static "
                             f"{self.static.shape} disagree")

    def __len__(self) -> int:
        return len(self.values)

    def subset(self, index: np.ndarray) -> "Stays":
        return Stays(self.values[index], self.mask[index], self.static[index])

    def copy(self) -> "Stays":
        return Stays(self.values.copy(), self.mask.copy(), self.static.copy())


@dataclass
class Prepared:
    """A cohort split and normalised; ``split`` holds TRAIN/VAL/TEST per stay."""

    stays: Stays
    label: np.ndarray
    split: np.ndarray
    variables: np.ndarray
    static_names: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    dataset: str

    def part(self, which: int) -> tuple[Stays, np.ndarray]:
        index = np.flatnonzero(self.split == which)
        return self.stays.subset(index), self.label[index].astype(np.int64)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"values": self.stays.values, "mask": self.stays.mask, "static": self.stays.static,
                "label": self.label.astype(np.int8), "split": self.split.astype(np.int8),
                "variables": self.variables.astype(str), "static_names": self.static_names.astype(str),
                "mean": self.mean, "sd": self.sd, "dataset": np.array(self.dataset)}

    @classmethod
    def from_arrays(cls, data: dict[str, np.ndarray]) -> "Prepared":
        stays = Stays(data["values"], data["mask"], data["static"])
        names = {f.name for f in fields(cls)} - {"stays"}
        kwargs = {k: data[k] for k in names}
        kwargs["dataset"] = str(data["dataset"])
        return cls(stays=stays, **kwargs)


def stratified_split(label: np.ndarray, fractions: tuple[float, float], seed: int) -> np.ndarray:
    """TRAIN/VAL/TEST per item; each class is shuffled and cut at the same fractions."""
    rng = make_rng(seed, "ehr", "split")
    split = np.full(len(label), TEST, dtype=np.int8)
    for cls in np.unique(label):
        index = rng.permutation(np.flatnonzero(label == cls))
        n_train = int(round(fractions[0] * len(index)))
        n_val = int(round(fractions[1] * len(index)))
        split[index[:n_train]] = TRAIN
        split[index[n_train:n_train + n_val]] = VAL
    return split


def fit_normaliser(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-variable mean and sd over observed values (of the training stays passed in)."""
    v = values.shape[-1]
    flat, obs = values.reshape(-1, v), mask.reshape(-1, v).astype(bool)
    mean, sd = np.zeros(v, np.float32), np.ones(v, np.float32)
    for j in range(v):
        x = flat[obs[:, j], j].astype(np.float64)
        if len(x) >= 2:
            mean[j] = x.mean()
            sd[j] = x.std() if x.std() > 0 else 1.0
    return mean, sd


def encode_static(static: np.ndarray, names: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encode descriptors with statistics of the ``train`` rows only (see module docstring)."""
    columns, out_names = [], []
    for j, name in enumerate(np.asarray(names).astype(str)):
        col = static[:, j].astype(np.float64)
        seen = col[train & ~np.isnan(col)]
        levels = np.unique(seen)
        if 3 <= len(levels) <= 6 and np.all(levels == np.round(levels)):
            for level in levels:
                columns.append((col == level).astype(np.float32))
                out_names.append(f"{name}={level:g}")
        else:
            mu = seen.mean() if len(seen) else 0.0
            sd = seen.std() if len(seen) > 1 and seen.std() > 0 else 1.0
            columns.append(np.nan_to_num((col - mu) / sd, nan=0.0).astype(np.float32))
            out_names.append(name)
        if np.isnan(col).any():
            columns.append(np.isnan(col).astype(np.float32))
            out_names.append(f"{name}_missing")
    if not columns:
        return np.zeros((len(static), 0), np.float32), np.array([], dtype=str)
    return np.stack(columns, axis=1), np.array(out_names)


def prepare(cohort: Cohort, fractions: tuple[float, float], seed: int) -> Prepared:
    """Split ``cohort`` and normalise it with statistics of its training part."""
    label = cohort.label.astype(np.int8)
    split = stratified_split(label, fractions, seed)
    train = split == TRAIN
    mask = cohort.mask.astype(np.uint8)
    mean, sd = fit_normaliser(cohort.values[train], mask[train])
    values = ((cohort.values - mean) / sd).astype(np.float32)
    values[mask == 0] = np.nan
    static, static_names = encode_static(cohort.static, cohort.static_names, train)
    return Prepared(Stays(values, mask, static), label, split, np.asarray(cohort.variables),
                    static_names, mean, sd, cohort.dataset)


def impute(values: np.ndarray, mask: np.ndarray, method: str) -> np.ndarray:
    """Forward fill along time then the train mean (0), or the train mean everywhere."""
    if method == "mean":
        return np.where(mask.astype(bool), np.nan_to_num(values, nan=0.0), 0.0).astype(np.float32)
    if method != "forward_fill":
        raise ValueError(f"unknown imputation {method!r}; use 'forward_fill' or 'mean'")
    observed = mask.astype(bool)
    n, t, v = values.shape
    hours = np.where(observed, np.arange(t)[None, :, None], -1)
    last = np.maximum.accumulate(hours, axis=1)  # index of the last observed hour, -1 if none yet
    gathered = np.take_along_axis(np.nan_to_num(values, nan=0.0), np.maximum(last, 0), axis=1)
    return np.where(last >= 0, gathered, 0.0).astype(np.float32)


def sequence_inputs(stays: Stays, imputation: str, clip_z: float, use_mask: bool = True) -> np.ndarray:
    """(N, T, 2V) imputed values and mask, or (N, T, V) values only when mask-blind."""
    filled = np.clip(impute(stays.values, stays.mask, imputation), -clip_z, clip_z)
    if not use_mask:
        return filled
    return np.concatenate([filled, stays.mask.astype(np.float32)], axis=2)


def summary_features(stays: Stays, imputation: str, clip_z: float, use_mask: bool = True) -> np.ndarray:
    """Per-variable window statistics (module docstring); NaN where a window has no observation."""
    n, t, v = stays.values.shape
    if use_mask:
        observed = stays.mask.astype(bool)
        source = np.where(observed, np.clip(np.nan_to_num(stays.values), -clip_z, clip_z), 0.0)
    else:
        observed = np.ones(stays.mask.shape, dtype=bool)
        source = np.clip(impute(stays.values, stays.mask, imputation), -clip_z, clip_z)
    windows = [_window_bounds(start, stop, t) for _, start, stop in WINDOWS]
    edges = sorted({e for w in windows for e in w} - {t})
    # Windows are unions of the segments between consecutive edges: reduce each segment once.
    seg = {
        "count": np.add.reduceat(observed, edges, axis=1, dtype=np.float64),
        "sum": np.add.reduceat(source, edges, axis=1, dtype=np.float64),
        "sumsq": np.add.reduceat(source * source, edges, axis=1, dtype=np.float64),
        "min": np.minimum.reduceat(np.where(observed, source, np.inf), edges, axis=1),
        "max": np.maximum.reduceat(np.where(observed, source, -np.inf), edges, axis=1),
    }
    blocks = []
    for lo, hi in windows:
        a, b = edges.index(lo), (edges.index(hi) if hi in edges else len(edges))
        count = seg["count"][:, a:b].sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = seg["sum"][:, a:b].sum(1) / count
            sd = np.sqrt(np.maximum(seg["sumsq"][:, a:b].sum(1) / count - mean**2, 0.0))
        empty = count == 0
        blocks += [np.where(empty, np.nan, seg["min"][:, a:b].min(1)), np.where(empty, np.nan, seg["max"][:, a:b].max(1)),
                   np.where(empty, np.nan, mean), np.where(empty, np.nan, sd)]
        if use_mask:
            blocks.append(count / (hi - lo))
    return np.concatenate(blocks, axis=1).astype(np.float32)


def _window_bounds(start: float, stop: float, t: int) -> tuple[int, int]:
    lo = int(np.floor(start * t))
    return lo, max(int(np.ceil(stop * t)), lo + 1)


def summary_feature_names(variables: np.ndarray, use_mask: bool = True) -> list[str]:
    names = []
    for window, _, _ in WINDOWS:
        for stat in STATS + (("observed",) if use_mask else ()):
            names.extend(f"{var}:{window}:{stat}" for var in np.asarray(variables).astype(str))
    return names


@dataclass
class FeatureScaler:
    """Mean imputation and standardisation of summary features, fitted on a training matrix."""

    mean: np.ndarray
    sd: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray) -> "FeatureScaler":
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(np.where(np.isnan(features).all(axis=0), 0.0, features), axis=0)
        filled = np.where(np.isnan(features), mean, features)
        sd = filled.std(axis=0)
        return cls(mean.astype(np.float32), np.where(sd > 0, sd, 1.0).astype(np.float32))

    def transform(self, features: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(features), self.mean, features)
        return ((filled - self.mean) / self.sd).astype(np.float32)
