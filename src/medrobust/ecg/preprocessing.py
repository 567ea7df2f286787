"""Input preprocessing defenses: filter the ECG before the classifier sees it.

Filtering is the textbook answer to high-frequency adversarial noise (input transformations:
Guo et al., ICLR 2018; feature squeezing with median smoothing: Xu et al., NDSS 2018). Two filters,
both differentiable torch modules so an adaptive attacker can attack through them:

* ``LowpassFilter``: a linear-phase FIR low-pass (windowed sinc, Hamming window, ``numtaps`` taps,
  ``cutoff_hz``), or a band-pass when ``low_hz`` is set (``scipy.signal.firwin``). Zero padding at
  the ends, output the same length as the input.
* ``MedianFilter``: a running median over ``size`` samples (odd), edges replicated.

``apply(model, data)`` returns ``filter -> model`` as a new model; the classifier is not retrained,
so the clean-accuracy cost is what the filter alone does to a model trained on raw ECGs.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from scipy.signal import firwin
from torch import nn


class FirFilter(nn.Module):
    def __init__(self, taps) -> None:
        super().__init__()
        self.register_buffer("taps", torch.tensor(taps, dtype=torch.float32).view(1, 1, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x.unsqueeze(1), self.taps, padding=self.taps.shape[-1] // 2).squeeze(1)


class RunningMedian(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        if size % 2 == 0:
            raise ValueError(f"median filter size must be odd, got {size}")
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.size // 2
        padded = F.pad(x.unsqueeze(1), (half, half), mode="replicate").squeeze(1)
        return padded.unfold(-1, self.size, 1).median(dim=-1).values


@dataclass
class LowpassFilter:
    fs: float = 300.0
    cutoff_hz: float = 40.0
    numtaps: int = 61
    low_hz: float | None = None

    def module(self) -> nn.Module:
        if self.numtaps % 2 == 0:
            raise ValueError(f"numtaps must be odd (a type I linear-phase FIR), got {self.numtaps}")
        if self.low_hz:
            taps = firwin(self.numtaps, [self.low_hz, self.cutoff_hz], pass_zero=False, fs=self.fs)
        else:
            taps = firwin(self.numtaps, self.cutoff_hz, fs=self.fs)
        return FirFilter(taps)

    def apply(self, model: nn.Module, data=None) -> nn.Module:
        return nn.Sequential(self.module(), model).eval()


@dataclass
class MedianFilter:
    size: int = 5

    def apply(self, model: nn.Module, data=None) -> nn.Module:
        return nn.Sequential(RunningMedian(self.size), model).eval()
