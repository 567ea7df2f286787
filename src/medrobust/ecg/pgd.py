"""Projected gradient descent in the L-infinity ball (Madry et al., ICLR 2018), as Han et al.
(Nat Med 2020;26:360-363) ran it on ECGs.

``delta <- clip(delta + step * sign(grad_delta loss), -eps, eps)`` for ``steps`` iterations, from
``delta = 0`` (Han et al. start from the clean ECG; ``random_start`` draws a uniform start in the
ball instead). Untargeted attacks ascend the cross-entropy of the true label; targeted ones descend
that of the target. eps and step are in raw ADC units (1000 per mV). The perturbation is zero on a
record's zero padding (``mask``), and no clipping to a signal range is applied (int16 ADC values
are far from their limits at these eps). The model is in eval mode throughout. Batched.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class PGD:
    model: torch.nn.Module
    eps: float = 10.0
    step: float = 1.0
    steps: int = 20
    random_start: bool = False
    targeted: bool = False
    batch_size: int = 256

    def apply(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """Adversarial ECGs ``x + delta`` (same shape as ``x``). ``y`` is the true label, or the
        target when ``targeted``."""
        return x + self.perturbation(x, y, mask, generator)

    def perturbation(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        mask = torch.ones_like(x) if mask is None else mask
        parts = []
        for xb, yb, mb in zip(x.split(self.batch_size), y.split(self.batch_size), mask.split(self.batch_size)):
            delta = torch.zeros_like(xb)
            if self.random_start:
                u = torch.rand(xb.shape, generator=generator, device=generator.device if generator else "cpu")
                delta = (2 * u.to(xb.device) - 1) * self.eps
            parts.append(self._run(xb, yb, mb, delta * mb))
        return torch.cat(parts) if parts else torch.zeros_like(x)

    def _run(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        sign = -1.0 if self.targeted else 1.0
        for _ in range(self.steps):
            delta.requires_grad_(True)
            loss = F.cross_entropy(self.model(x + delta), y, reduction="sum")
            (grad,) = torch.autograd.grad(loss, delta)
            with torch.no_grad():
                delta = (delta + sign * self.step * grad.sign()).clamp(-self.eps, self.eps) * mask
        return delta.detach()
