"""New adversarial ECGs from known ones (Han et al., Nat Med 2020;26:360-363, "creating new
adversarial examples from existing ones").

Given a clean ECG ``x`` and known smoothed perturbations of it, each technique draws ``k`` new
candidate perturbations; a candidate counts when the model's prediction on ``x + candidate`` is
not the true label. Our concrete choices (the paper describes the ideas, not these constants):

* ``noise_resmooth``: add Gaussian noise (sd ``noise_ratio * eps``) to a known perturbation,
  smooth the sum again with the SAP kernel and clip to eps.
* ``band``: from two known perturbations ``a`` and ``b`` of the same ECG (SAP started from PGD
  and SAP started from a random point), sample inside the band between them:
  ``a + w * (b - a)`` with a smooth weight curve ``w(t)`` in [0, 1] (i.i.d. uniform noise, smoothed
  by the SAP kernel, then stretched to span [0, 1]), so every sample lies between ``a`` and ``b``.
* ``splice``: ``a`` before a uniformly drawn cut point among the record's samples, ``b`` after it.

Every candidate is zero on the record's padding and within eps of the clean ECG. Because SAP's
signed steps travel 4 eps in 40 iterations, the random start is largely forgotten and the two known
examples tend to be close; the study reports their correlation and each technique's mean distance
from the known example, so a high yield can be read against how new the examples are.
"""
from __future__ import annotations

import torch

from medrobust.ecg.sap import smooth

TECHNIQUES = ("noise_resmooth", "band", "splice")


def noise_resmooth(a: torch.Tensor, k: int, eps: float, kernel: torch.Tensor, mask: torch.Tensor,
                   generator: torch.Generator, noise_ratio: float = 0.5) -> torch.Tensor:
    """(n, L) -> (n, k, L) candidates."""
    n, length = a.shape
    noise = torch.randn((n, k, length), generator=generator) * noise_ratio * eps
    rough = (a[:, None, :] + noise.to(a.device)).reshape(n * k, length)
    out = smooth(rough, kernel).clamp(-eps, eps).reshape(n, k, length)
    return out * mask[:, None, :]


def band(a: torch.Tensor, b: torch.Tensor, k: int, kernel: torch.Tensor, mask: torch.Tensor,
         generator: torch.Generator) -> torch.Tensor:
    n, length = a.shape
    u = torch.rand((n * k, length), generator=generator).to(a.device)
    w = smooth(u, kernel)[:, kernel.numel():-kernel.numel()]  # drop the zero-padded edges
    w = torch.nn.functional.pad(w, (kernel.numel(), kernel.numel()), mode="replicate")
    lo, hi = w.min(dim=1, keepdim=True).values, w.max(dim=1, keepdim=True).values
    w = ((w - lo) / (hi - lo).clamp_min(1e-12)).reshape(n, k, length)
    return (a[:, None, :] + w * (b - a)[:, None, :]) * mask[:, None, :]


def splice(a: torch.Tensor, b: torch.Tensor, k: int, length: torch.Tensor,
           generator: torch.Generator, start: torch.Tensor | None = None) -> torch.Tensor:
    """``k`` cut points per ECG, uniform over its ``length`` samples from ``start`` (default 0)."""
    n, crop = a.shape
    start = torch.zeros(n, dtype=torch.long) if start is None else start.cpu().long()
    cut = start[:, None] + (torch.rand((n, k), generator=generator) * length[:, None].float().cpu()).long()
    cut = cut.to(a.device)
    after = torch.arange(crop, device=a.device)[None, None, :] >= cut[:, :, None]
    return torch.where(after, b[:, None, :], a[:, None, :])


def correlation(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(n,) Pearson correlation of two perturbations of each ECG over its recorded samples: how
    different the two known examples that ``band`` and ``splice`` start from are."""
    n = mask.sum(dim=1).clamp_min(2)
    am = a - (a * mask).sum(1, keepdim=True) / n[:, None]
    bm = b - (b * mask).sum(1, keepdim=True) / n[:, None]
    cov = (am * bm * mask).sum(1)
    return cov / ((am**2 * mask).sum(1).sqrt() * (bm**2 * mask).sum(1).sqrt()).clamp_min(1e-12)


@torch.no_grad()
def count_adversarial(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, candidates: torch.Tensor,
                      batch_size: int = 512) -> torch.Tensor:
    """(n,) how many of each ECG's k candidates the model misclassifies."""
    model.eval()
    n, k, length = candidates.shape
    flat = (x[:, None, :] + candidates).reshape(n * k, length)
    preds = torch.cat([model(b).argmax(-1) for b in flat.split(batch_size)]).reshape(n, k)
    return (preds != y[:, None]).sum(dim=1)
