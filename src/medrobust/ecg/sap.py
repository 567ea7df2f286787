"""Smoothed adversarial perturbation (SAP), Han et al., "Deep learning models for
electrocardiograms are susceptible to adversarial attack", Nat Med 2020;26:360-363.

The perturbation is ``delta = K * theta``: a parameter ``theta`` convolved with ``K``, the mean of
Gaussian kernels of sizes {5, 7, 11, 15, 19} x sigma {1, 3, 5, 7, 10} (each normalised to sum 1,
zero-padded to the largest size, so ``K`` is one 19-tap low-pass filter with non-negative taps
summing to 1). ``theta`` starts from a PGD perturbation (:mod:`medrobust.ecg.pgd`) and takes
``steps`` (40) more signed-gradient steps through the convolution, clipped to ``[-eps, eps]``.
Because ``K`` is a convex combination, ``|K * theta| <= eps`` holds without a further clip. The
convolution pads with zeros at the ends, and ``theta`` and ``delta`` are zero on a record's zero
padding. medrobust masks the padding at every step; the authors' code (create_adv_conv_train.py)
zeroes it only once, at the end of the attack, so the steps they take may push perturbation onto the
padding and lose it there. We keep the per-step mask (every step then spends its budget on signal);
where no record is padded the two are the same attack, which
``tests/test_ecg_victims.py::test_masking_every_step_agrees_with_the_authors_where_nothing_is_padded``
checks against a restatement of the authors' loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from medrobust.ecg.pgd import PGD

SIZES = (5, 7, 11, 15, 19)
SIGMAS = (1.0, 3.0, 5.0, 7.0, 10.0)


def gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    t = np.arange(size) - (size - 1) / 2
    g = np.exp(-t**2 / (2 * sigma**2))
    return g / g.sum()


def smoothing_kernel(sizes=SIZES, sigmas=SIGMAS) -> np.ndarray:
    """The mean of the size x sigma Gaussian kernels, centred in the largest size (odd length)."""
    width = max(sizes)
    kernels = []
    for size in sizes:
        if size % 2 == 0:
            raise ValueError(f"kernel sizes must be odd to stay centred, got {size}")
        for sigma in sigmas:
            k = np.zeros(width)
            start = (width - size) // 2
            k[start:start + size] = gaussian_kernel(size, sigma)
            kernels.append(k)
    return np.mean(kernels, axis=0)


def smooth(theta: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``K * theta`` along the last axis with zero padding, same length ((n, L) -> (n, L))."""
    k = kernel.to(theta.dtype).to(theta.device).view(1, 1, -1)
    return F.conv1d(theta.unsqueeze(1), k, padding=k.shape[-1] // 2).squeeze(1)


@dataclass
class SAP:
    model: torch.nn.Module
    eps: float = 10.0
    step: float = 1.0
    pgd_steps: int = 20
    steps: int = 40
    sizes: tuple = SIZES
    sigmas: tuple = SIGMAS
    random_start: bool = False
    targeted: bool = False
    batch_size: int = 256
    kernel: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.kernel = torch.tensor(smoothing_kernel(self.sizes, self.sigmas), dtype=torch.float32)

    def apply(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None,
              generator: torch.Generator | None = None, start: torch.Tensor | None = None) -> torch.Tensor:
        """Adversarial ECGs. ``start`` is a PGD perturbation to begin from (else PGD is run here)."""
        return x + self.perturbation(x, y, mask, generator, start)

    def perturbation(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None,
                     generator: torch.Generator | None = None, start: torch.Tensor | None = None) -> torch.Tensor:
        mask = torch.ones_like(x) if mask is None else mask
        if start is None:
            start = PGD(self.model, self.eps, self.step, self.pgd_steps, self.random_start,
                        self.targeted, self.batch_size).perturbation(x, y, mask, generator)
        parts = [self._run(xb, yb, mb, sb.clone()) for xb, yb, mb, sb in
                 zip(*(t.split(self.batch_size) for t in (x, y, mask, start)))]
        return torch.cat(parts) if parts else torch.zeros_like(x)

    def _run(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        sign = -1.0 if self.targeted else 1.0
        theta = theta.clamp(-self.eps, self.eps) * mask
        for _ in range(self.steps):
            theta.requires_grad_(True)
            delta = smooth(theta, self.kernel) * mask
            loss = F.cross_entropy(self.model(x + delta), y, reduction="sum")
            (grad,) = torch.autograd.grad(loss, theta)
            with torch.no_grad():
                theta = (theta + sign * self.step * grad.sign()).clamp(-self.eps, self.eps) * mask
        with torch.no_grad():
            return smooth(theta, self.kernel) * mask
