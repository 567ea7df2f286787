"""A high-frequency-energy input check: flag ECGs with more power above ``cutoff_hz`` than clean
ones have.

A signal-quality check of the kind ECG pipelines already run (e.g. the spectral SQIs of Li,
Mark & Clifford, Physiol Meas 2008) and the obvious detector for PGD's square waves. The
PhysioNet 2017 (AliveCor) recordings are band-limited to about 0.5-40 Hz, so clean records carry
little power above 40 Hz while a sign-pattern perturbation puts about 3/4 of its power there.

``score(x)`` is the log mean power above the cutoff (FFT of the recorded samples), as a robust
z-score against the clean ECGs given to ``fit`` (median and MAD); higher is more suspicious.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class HighFrequencyEnergy:
    fs: float = 300.0
    cutoff_hz: float = 40.0
    center: float = 0.0
    scale: float = 1.0

    def log_power(self, x: np.ndarray, length: np.ndarray | None = None) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        length = np.full(len(x), x.shape[1]) if length is None else np.minimum(length, x.shape[1])
        out = np.zeros(len(x))
        for n in np.unique(length):
            rows = np.flatnonzero(length == n)
            spectrum = np.abs(np.fft.rfft(x[rows, :n], axis=1)) ** 2 / max(int(n), 1) ** 2
            freqs = np.fft.rfftfreq(int(n), d=1.0 / self.fs)
            out[rows] = np.log(spectrum[:, freqs > self.cutoff_hz].sum(axis=1) + 1e-12)
        return out

    def fit(self, clean: np.ndarray, length: np.ndarray | None = None) -> "HighFrequencyEnergy":
        p = self.log_power(clean, length)
        self.center = float(np.median(p))
        self.scale = float(np.median(np.abs(p - self.center)) * 1.4826) or 1.0
        return self

    def score(self, x: np.ndarray, length: np.ndarray | None = None) -> np.ndarray:
        return (self.log_power(x, length) - self.center) / self.scale
