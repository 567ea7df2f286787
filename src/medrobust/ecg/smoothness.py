"""How smooth a perturbation is: the number behind "PGD leaves square waves, SAP does not".

Two measures per perturbation, over its recorded samples only (the zero padding is left out):

* ``total_variation``: mean absolute first difference, ``mean |delta[t+1] - delta[t]|``, in ADC
  units per sample. A PGD perturbation jumps by up to 2 eps between samples; a smoothed one moves
  by a small fraction of eps.
* ``hf_energy_fraction``: the share of the perturbation's energy above ``cutoff_hz`` (default
  40 Hz, the upper edge of the monitoring ECG band), from its FFT. Scale-free, in [0, 1]; white
  noise at 300 Hz has (150 - 40) / 150 = 0.73 of its energy there.

Both are per example; the study reports their means with CIs. (Total variation as a roughness
measure: Rudin, Osher & Fatemi 1992.)
"""
from __future__ import annotations

import numpy as np


def total_variation(delta: np.ndarray, length: np.ndarray | None = None) -> np.ndarray:
    """Mean |first difference| per example over the first ``length`` samples; (n, L) -> (n,)."""
    delta = np.atleast_2d(np.asarray(delta, dtype=np.float64))
    length = _lengths(delta, length)
    diffs = np.abs(np.diff(delta, axis=1))
    valid = np.arange(delta.shape[1] - 1)[None, :] < (length - 1)[:, None]
    return (diffs * valid).sum(axis=1) / np.maximum(length - 1, 1)


def hf_energy_fraction(x: np.ndarray, fs: float, cutoff_hz: float = 40.0,
                       length: np.ndarray | None = None) -> np.ndarray:
    """Share of each row's energy above ``cutoff_hz`` (DC excluded); a zero row gives 0."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    length = _lengths(x, length)
    out = np.zeros(len(x))
    for i, (row, n) in enumerate(zip(x, length)):
        spectrum = np.abs(np.fft.rfft(row[:n])) ** 2
        freqs = np.fft.rfftfreq(int(n), d=1.0 / fs)
        total = spectrum[1:].sum()
        out[i] = spectrum[freqs > cutoff_hz].sum() / total if total > 0 else 0.0
    return out


def _lengths(x: np.ndarray, length: np.ndarray | None) -> np.ndarray:
    if length is None:
        return np.full(len(x), x.shape[1], dtype=np.int64)
    return np.minimum(np.asarray(length, dtype=np.int64), x.shape[1])
