"""The fixed, seeded 90/10 split of PhysioNet/CinC 2017 and the fixed-length test matrix.

Han et al. (Nat Med 2020) split the 8,528 training records 90/10 and zero-pad every record to 60 s
(18,000 samples) of raw ADC units. Here the split is stratified by label and drawn once from a
generator derived from the config seed; the crop length is a config key (the default is shorter
than 60 s so the study runs on a CPU). Test records are cropped from their start and zero-padded
at their end; ``test_length`` keeps each one's valid length, because the attacks leave the padding
at zero (Han et al. zero the padding after every attack).

The attack subset is a fixed, seeded draw of test records (stratified like the split); only the
ones the victim classifies correctly are attacked (ASR is defined on those).
"""
from __future__ import annotations

from dataclasses import dataclass

import logging

import numpy as np

from medrobust.core.seeding import make_rng
from medrobust.data.challenge2017 import LABELS, EcgSet, crop_or_pad

log = logging.getLogger(__name__)

CLASSES = LABELS  # N, A, O, ~ ; index = class id
SCORED = (0, 1, 2)  # the challenge's F1 is the mean over N, A and O


@dataclass
class Prepared:
    """Indices into the parsed set, and the test matrix every later job shares."""

    train_idx: np.ndarray   # (n_train,) int64
    test_idx: np.ndarray    # (n_test,) int64
    x_test: np.ndarray      # (n_test, crop) float32, raw ADC units
    y_test: np.ndarray      # (n_test,) int64 class ids
    test_length: np.ndarray  # (n_test,) int64 valid samples (<= crop)
    attack_pos: np.ndarray  # positions in the test arrays of the attack subset
    crop: int

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"train_idx": self.train_idx, "test_idx": self.test_idx, "x_test": self.x_test,
                "y_test": self.y_test, "test_length": self.test_length, "attack_pos": self.attack_pos,
                "crop": np.array(self.crop, dtype=np.int64)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "Prepared":
        return cls(**{k: arrays[k] for k in ("train_idx", "test_idx", "x_test", "y_test",
                                             "test_length", "attack_pos")}, crop=int(arrays["crop"]))


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


def subset(ecgset: EcgSet, idx: np.ndarray) -> EcgSet:
    """The records ``idx`` of an ECG set, as a new set."""
    pieces = [ecgset.record_signal(int(i)) for i in idx]
    lengths = np.array([len(p) for p in pieces], dtype=np.int64)
    signal = np.concatenate(pieces) if pieces else np.zeros(0, np.int16)
    return EcgSet(signal=signal, offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                  label=ecgset.label[idx], record=ecgset.record[idx], fs=ecgset.fs)


def prepare(ecgset: EcgSet, crop: int, test_fraction: float, n_attack: int,
            rng: np.random.Generator) -> Prepared:
    """Split, crop the test records, and draw the attack subset (at most ``n_attack`` test records)."""
    y = class_ids(ecgset.label)
    train_idx, test_idx = stratified_split(y, test_fraction, rng)
    test = subset(ecgset, test_idx)
    x_test = crop_or_pad(test, crop)
    y_test = y[test_idx]
    fraction = min(1.0, n_attack / max(1, len(test_idx)))
    _, attack_pos = stratified_split(y_test, fraction, rng)
    return Prepared(train_idx=train_idx.astype(np.int64), test_idx=test_idx.astype(np.int64),
                    x_test=x_test, y_test=y_test, test_length=np.minimum(test.lengths, crop).astype(np.int64),
                    attack_pos=attack_pos[:n_attack].astype(np.int64), crop=int(crop))


def run_prepare(ecgset: EcgSet, cfg: dict, seed: int) -> dict[str, np.ndarray]:
    """The ``ecg_prepare`` job (numpy only, so it runs in the data environment)."""
    crop = int(round(cfg["crop_seconds"] * ecgset.fs))
    prepared = prepare(ecgset, crop, cfg["test_fraction"], cfg["n_attack"], make_rng(seed, "ecg", "split"))
    log.info("split: %d train, %d test, crop %d samples, attack subset %d", len(prepared.train_idx),
             len(prepared.test_idx), prepared.crop, len(prepared.attack_pos))
    return prepared.to_arrays()


def valid_mask(length: np.ndarray, crop: int) -> np.ndarray:
    """(n, crop) float32: 1 on recorded samples, 0 on the zero padding."""
    return (np.arange(crop)[None, :] < np.asarray(length)[:, None]).astype(np.float32)
