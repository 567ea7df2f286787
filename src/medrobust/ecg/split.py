"""The fixed, seeded 90/10 split of PhysioNet/CinC 2017, the fixed-length test matrix, and the
stratified draws of test ECGs that the attacks and the certification use.

Han et al. (Nat Med 2020) split the 8,528 training records 90/10 and zero-pad every record to 60 s
(18,000 samples) of raw ADC units, at both ends (``padding: both``; their ``create_data``). Here
the split is stratified by label and drawn once from a generator derived from the config seed; the
crop length is a config key (the default is shorter than 60 s so the study runs on a CPU). A test
record longer than the crop is cut from its start; a shorter one is zero-padded at its end
(``padding: end``, the default) or at both ends. ``test_start`` and ``test_length`` keep where each
record's samples lie, because the attacks leave the padding at zero.

The attacked ECGs are drawn after training (:func:`stratified_draw`): a seeded subset of the test
ECGs the victim classifies correctly (ASR is defined on those), each class in proportion to its
share of them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from medrobust.core.seeding import make_rng
from medrobust.data.challenge2017 import LABELS, EcgSet

log = logging.getLogger(__name__)

CLASSES = LABELS  # N, A, O, ~ ; index = class id
SCORED = (0, 1, 2)  # the challenge's F1 is the mean over N, A and O
PADDINGS = ("end", "both")


@dataclass
class Prepared:
    """Indices into the parsed set, and the test matrix every later job shares."""

    train_idx: np.ndarray   # (n_train,) int64
    test_idx: np.ndarray    # (n_test,) int64
    x_test: np.ndarray      # (n_test, crop) float32, raw ADC units
    y_test: np.ndarray      # (n_test,) int64 class ids
    test_length: np.ndarray  # (n_test,) int64 recorded samples (<= crop)
    test_start: np.ndarray  # (n_test,) int64 where the recorded samples start (0 unless padded at both ends)
    crop: int

    FIELDS = ("train_idx", "test_idx", "x_test", "y_test", "test_length", "test_start")

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {**{k: getattr(self, k) for k in self.FIELDS}, "crop": np.array(self.crop, dtype=np.int64)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "Prepared":
        missing = [k for k in (*cls.FIELDS, "crop") if k not in arrays]
        if missing:
            raise ValueError(f"prepared ECG arrays lack {missing}; rerun the ecg_prepare rule")
        return cls(**{k: arrays[k] for k in cls.FIELDS}, crop=int(arrays["crop"]))

    def mask(self, pos: np.ndarray) -> np.ndarray:
        """(len(pos), crop) float32 valid-sample mask of the test ECGs at ``pos``."""
        return valid_mask(self.test_length[pos], self.crop, self.test_start[pos])


def class_ids(labels: np.ndarray) -> np.ndarray:
    lookup = {label: i for i, label in enumerate(CLASSES)}
    return np.array([lookup[str(label)] for label in labels], dtype=np.int64)


def stratified_split(y: np.ndarray, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test), each class split in the same proportion, both sorted."""
    train, test = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test = int(round(test_fraction * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def stratified_draw(y: np.ndarray, n: int, rng: np.random.Generator,
                    eligible: np.ndarray | None = None) -> np.ndarray:
    """Sorted positions of ``n`` eligible items (all of them if fewer), each class in proportion to
    its share of the eligible ones (largest-remainder rounding), drawn from ``rng``."""
    y = np.asarray(y)
    pool = np.flatnonzero(np.ones(len(y), bool) if eligible is None else np.asarray(eligible, bool))
    if n >= len(pool):
        return pool.astype(np.int64)
    classes, counts = np.unique(y[pool], return_counts=True)
    quota = counts * n / counts.sum()
    take = np.floor(quota).astype(int)
    for i in np.argsort(-(quota - take), kind="stable")[: n - take.sum()]:
        take[i] += 1
    picked = [rng.choice(pool[y[pool] == c], size=k, replace=False) for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def subset(ecgset: EcgSet, idx: np.ndarray) -> EcgSet:
    """The records ``idx`` of an ECG set, as a new set."""
    pieces = [ecgset.record_signal(int(i)) for i in idx]
    lengths = np.array([len(p) for p in pieces], dtype=np.int64)
    signal = np.concatenate(pieces) if pieces else np.zeros(0, np.int16)
    return EcgSet(signal=signal, offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                  label=ecgset.label[idx], record=ecgset.record[idx], fs=ecgset.fs)


def fit_length(ecgset: EcgSet, length: int, padding: str = "end", rng: np.random.Generator | None = None,
               idx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, start, valid): the records ``idx`` (default all, repeats allowed) as an (n, length)
    float32 matrix in ADC units, where each one's samples start, and how many there are.

    A longer record is cut from its start, or from a uniformly drawn start when ``rng`` is given
    (training-time augmentation); a shorter one is zero-padded at its end (``padding='end'``) or
    split evenly between both ends (``'both'``, Han et al.; the odd sample goes to the end).
    """
    if padding not in PADDINGS:
        raise ValueError(f"config key 'ecg.padding' is {padding!r}; expected one of {PADDINGS}")
    idx = np.arange(ecgset.n_records) if idx is None else np.asarray(idx)
    lengths = ecgset.lengths[idx]
    x = np.zeros((len(idx), length), dtype=np.float32)
    start = np.zeros(len(idx), dtype=np.int64)
    for row, (i, n) in enumerate(zip(idx, lengths)):
        cut = int(rng.integers(0, n - length + 1)) if (rng is not None and n > length) else 0
        piece = ecgset.record_signal(int(i))[cut:cut + length]
        start[row] = (length - len(piece)) // 2 if padding == "both" else 0
        x[row, start[row]:start[row] + len(piece)] = piece
    return x, start, np.minimum(lengths, length).astype(np.int64)


def prepare(ecgset: EcgSet, crop: int, test_fraction: float, rng: np.random.Generator,
            padding: str = "end") -> Prepared:
    """Split and fit the test records to the crop length."""
    y = class_ids(ecgset.label)
    train_idx, test_idx = stratified_split(y, test_fraction, rng)
    x_test, start, length = fit_length(ecgset, crop, padding, idx=test_idx)
    return Prepared(train_idx=train_idx.astype(np.int64), test_idx=test_idx.astype(np.int64),
                    x_test=x_test, y_test=y[test_idx], test_length=length, test_start=start, crop=int(crop))


def run_prepare(ecgset: EcgSet, cfg: dict, seed: int) -> dict[str, np.ndarray]:
    """The ``ecg_prepare`` job (numpy only, so it runs in the data environment)."""
    crop = int(round(cfg["crop_seconds"] * ecgset.fs))
    prepared = prepare(ecgset, crop, cfg["test_fraction"], make_rng(seed, "ecg", "split"), cfg["padding"])
    log.info("split: %d train, %d test, crop %d samples, padding at %s", len(prepared.train_idx),
             len(prepared.test_idx), prepared.crop, cfg["padding"])
    return prepared.to_arrays()


def valid_mask(length: np.ndarray, crop: int, start: np.ndarray | None = None) -> np.ndarray:
    """(n, crop) float32: 1 on recorded samples, 0 on the zero padding."""
    length = np.asarray(length)
    start = np.zeros_like(length) if start is None else np.asarray(start)
    t = np.arange(crop)[None, :]
    return ((t >= start[:, None]) & (t < (start + length)[:, None])).astype(np.float32)


def left_align(x: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Each row shifted so its recorded samples come first (the padding, zero, moves to the end), for
    measures defined on a record's first ``length`` samples."""
    x = np.asarray(x)
    start = np.asarray(start)
    if not start.any():
        return x
    cols = (np.arange(x.shape[-1])[None, :] + start[:, None]) % x.shape[-1]
    return np.take_along_axis(x, np.broadcast_to(cols, x.shape), axis=-1)
