"""Local regularisation defense: every client trains its GAN with the WGAN-GP objective.

Gulrajani et al., "Improved Training of Wasserstein GANs" (NeurIPS 2017): the discriminator
becomes a critic without a sigmoid, and a gradient penalty ``lambda * (||grad D(x_hat)|| - 1)**2``
on random interpolates ``x_hat`` between real and fake images keeps it 1-Lipschitz. Jin & Li
(SASHIMI 2022) propose local training regularisation as their second defense: a critic that
cannot sharpen without bound should overfit the malicious client's trigger less.

Choices here: the conditional critic is :class:`medrobust.fedgan.cgan.Discriminator` (it has no
batch norm, which the per-sample penalty needs); ``n_critic`` critic updates per generator update
(default 1, not the paper's 5, to fit the CPU budget; the generator then sees the data
``n_critic`` times fewer in a local epoch); Adam with ``betas=(0.5, 0.9)`` as set by the
federation. The reported losses are the critic loss with its penalty and ``-D(G(z))``, so they
are on another scale than the DCGAN losses of the other variants.
"""
from __future__ import annotations

import torch

from medrobust.fedgan.cgan import Discriminator, Generator


def gradient_penalty(critic: Discriminator, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor,
                     noise: torch.Generator) -> torch.Tensor:
    eps = torch.rand(len(real), 1, 1, 1, generator=noise).to(real)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(mixed, y).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def critic_step(generator: Generator, critic: Discriminator, opt_d: torch.optim.Optimizer, x: torch.Tensor,
                y: torch.Tensor, noise: torch.Generator, gp_weight: float) -> float:
    z = torch.randn(len(x), generator.shape.z_dim, generator=noise).to(x.device)
    with torch.no_grad():
        fake = generator(z, y)
    loss = critic(fake, y).mean() - critic(x, y).mean() + gp_weight * gradient_penalty(critic, x, fake, y, noise)
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    return float(loss.detach())


def generator_step(generator: Generator, critic: Discriminator, opt_g: torch.optim.Optimizer,
                   y: torch.Tensor, noise: torch.Generator) -> float:
    z = torch.randn(len(y), generator.shape.z_dim, generator=noise).to(y.device)
    loss = -critic(generator(z, y), y).mean()
    opt_g.zero_grad(set_to_none=True)
    loss.backward()
    opt_g.step()
    return float(loss.detach())
