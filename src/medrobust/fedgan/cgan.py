"""A small conditional DCGAN, the model every client of the federation trains.

Architecture after DCGAN (Radford, Metz & Chintala, ICLR 2016), conditioned on the class as in
the conditional GAN of Mirza & Osindero (2014), so that every synthetic image carries a label, as
in the conditional FedGAN of Jin & Li (Medical Image Analysis 2023;90:102965):

* generator: ``[z, one_hot(y)]`` -> linear -> ``(width * 2**(n-1), b, b)`` -> ``n`` transposed
  convolutions (kernel 4, stride 2, batch norm, ReLU) -> ``tanh``; ``n`` and ``b`` are chosen so
  that ``b * 2**n`` is the image size (28 = 7 * 4, 64 = 4 * 16, 224 = 7 * 32);
* discriminator: the image with one constant map per class appended as channels -> ``n``
  strided convolutions (LeakyReLU 0.2, no batch norm, so that the same network can serve as the
  WGAN-GP critic, whose gradient penalty is per sample) -> one logit;
* initial weights as DCGAN: convolution and linear weights from N(0, 0.02), batch-norm scales
  from N(1, 0.02), biases 0 (:func:`dcgan_init`).

:func:`dcgan_step` is one step of the non-saturating GAN loss (Goodfellow et al. 2014); the
losses it returns are what a client reports to the server.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GanShape:
    channels: int
    size: int
    n_classes: int
    z_dim: int = 64
    width: int = 32


def upsampling_plan(size: int) -> tuple[int, int]:
    """``(n, b)``: the most stride-2 stages ``n`` with an integer base ``b = size / 2**n >= 4``."""
    n = 0
    while size % 2 ** (n + 1) == 0 and size // 2 ** (n + 1) >= 4:
        n += 1
    if n == 0:
        raise ValueError(f"image size {size} cannot be reached by stride-2 stages from a base of at least 4")
    return n, size // 2**n


def dcgan_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self, shape: GanShape):
        super().__init__()
        self.shape = shape
        n, base = upsampling_plan(shape.size)
        channels = [shape.width * 2 ** (n - 1 - i) for i in range(n)] + [shape.channels]
        self.base = base
        self.project = nn.Sequential(nn.Linear(shape.z_dim + shape.n_classes, channels[0] * base * base),
                                     nn.BatchNorm1d(channels[0] * base * base), nn.ReLU())
        layers: list[nn.Module] = []
        for i in range(n):
            last = i == n - 1
            layers.append(nn.ConvTranspose2d(channels[i], channels[i + 1], 4, 2, 1, bias=last))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(channels[i + 1]), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.project(torch.cat([z, F.one_hot(y, self.shape.n_classes).float()], dim=1))
        return self.body(h.view(len(z), -1, self.base, self.base))


class Discriminator(nn.Module):
    def __init__(self, shape: GanShape):
        super().__init__()
        self.shape = shape
        n, base = upsampling_plan(shape.size)
        layers: list[nn.Module] = []
        c_in = shape.channels + shape.n_classes
        for i in range(n):
            c_out = shape.width * 2**i
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * base * base, 1)
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        maps = F.one_hot(y, self.shape.n_classes).float()[:, :, None, None].expand(-1, -1, *x.shape[-2:])
        return self.head(self.body(torch.cat([x, maps], dim=1)).flatten(1)).squeeze(1)


def sample(generator: Generator, labels: torch.Tensor, gen: torch.Generator, batch: int = 512) -> torch.Tensor:
    """Images for ``labels`` from ``generator`` in eval mode (batch-norm running statistics)."""
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    out = []
    with torch.no_grad():
        for start in range(0, len(labels), batch):
            y = labels[start:start + batch].to(device)
            z = torch.randn(len(y), generator.shape.z_dim, generator=gen).to(device)
            out.append(generator(z, y).cpu())
    generator.train(was_training)
    return torch.cat(out) if out else torch.empty(0, generator.shape.channels, generator.shape.size,
                                                   generator.shape.size)


def dcgan_step(generator: Generator, discriminator: Discriminator, opt_g: torch.optim.Optimizer,
               opt_d: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               noise: torch.Generator) -> tuple[float, float]:
    """One discriminator and one generator update; returns ``(generator_loss, discriminator_loss)``.

    The fakes are conditioned on the real batch's labels, so each client's generator learns its
    own class mix. The discriminator loss is the sum of the real and fake binary cross-entropies.
    """
    z = torch.randn(len(x), generator.shape.z_dim, generator=noise).to(x.device)
    fake = generator(z, y)
    real_logit, fake_logit = discriminator(x, y), discriminator(fake.detach(), y)
    d_loss = (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
              + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    g_logit = discriminator(fake, y)
    g_loss = F.binary_cross_entropy_with_logits(g_logit, torch.ones_like(g_logit))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return float(g_loss.detach()), float(d_loss.detach())
