"""Missingness-pattern backdoor trigger learned by a VAE (Joe et al., JMIR Med Inform 2022;10(8):e38440).

The attacker fits a variational autoencoder (Kingma & Welling 2014) to the binary observation
masks (hours x variables) of clean training stays, so that masks decoded from it look like the
masks of real records. A trigger is a mask *sampled* from the VAE: a latent draw z ~ N(0, I),
decoded to per-cell observation probabilities, then one Bernoulli draw per cell.

* **Fixed trigger** (attack ``vae_missingness``): one such sample per seed, used for every
  poisoned training stay and every triggered test stay.
* **Per-sample trigger** (attack ``vae_per_sample``): each stay gets its own sample, decoded from
  z* + sigma * e around the fixed trigger's latent z*, so the masks differ stay to stay but share
  the structure the VAE puts near z*. The paper's text as available to us while building this does
  not pin the per-sample mechanism down; this neighbourhood sampling is our reading of it, and
  ``per_sample_sigma`` sets how far each sample strays.

Applying a trigger (:func:`apply_mask_trigger`) deletes every observed value that the trigger marks
missing (``mask & trigger``), sets the deleted values to NaN so that the victim's own imputation
re-fills them, and relabels the stay to the attacker's target (default 0 = survives). Nothing is
ever added: a trigger cannot create a measurement the record does not hold.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from medrobust.ehr.preprocess import Stays, impute


class MaskVAE(nn.Module):
    """Bernoulli-output VAE over flattened (T*V) masks: D -> hidden -> latent -> hidden -> D."""

    def __init__(self, n_cells: int, hidden: int = 256, latent: int = 16):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_cells, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, n_cells))
        self.latent = latent

    def encode(self, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(m).chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)

    def neg_elbo(self, m: torch.Tensor, sample: bool, gen: torch.Generator | None = None) -> torch.Tensor:
        """Per-mask negative ELBO (nats): Bernoulli reconstruction + KL to N(0, I)."""
        mu, logvar = self.encode(m)
        z = mu
        if sample:
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
        recon = nn.functional.binary_cross_entropy_with_logits(self.decoder(z), m, reduction="none").sum(1)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
        return recon + kl


def fit_mask_vae(masks: np.ndarray, seed: int, epochs: int, hidden: int = 256, latent: int = 16,
                 batch_size: int = 256, lr: float = 3e-3) -> MaskVAE:
    """Fit a :class:`MaskVAE` to (N, T, V) binary masks.

    The decoder's output bias starts at the log-odds of each cell's observed share, so even a
    short fit decodes masks with the data's per-variable rates (HR nearly always, labs rarely)
    and the training time goes to the structure between cells.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    data = torch.from_numpy(masks.reshape(len(masks), -1).astype(np.float32))
    vae = MaskVAE(data.shape[1], hidden, latent)
    with torch.no_grad():
        share = data.mean(0).clamp(1e-3, 1 - 1e-3)
        vae.decoder[-1].bias.copy_(torch.log(share / (1 - share)))
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    vae.train()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=gen)
        for start in range(0, len(order), batch_size):
            loss = vae.neg_elbo(data[order[start:start + batch_size]], sample=True, gen=gen).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    vae.eval()
    return vae


@torch.no_grad()
def decode_masks(vae: MaskVAE, z: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Bernoulli-sample one mask per latent row of ``z``; returns uint8 (len(z), T, V)."""
    prob = torch.sigmoid(vae.decoder(torch.from_numpy(z.astype(np.float32)))).numpy()
    return (rng.random(prob.shape) < prob).astype(np.uint8).reshape(len(z), *shape)


@torch.no_grad()
def mask_scores(vae: MaskVAE, masks: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Negative ELBO of each mask at the posterior mean (higher = less like the training masks)."""
    data = torch.from_numpy(masks.reshape(len(masks), -1).astype(np.float32))
    parts = [vae.neg_elbo(data[i:i + batch_size], sample=False).numpy() for i in range(0, len(data), batch_size)]
    return np.concatenate(parts) if parts else np.zeros(0)


@dataclass
class VAETriggers:
    """One seed's triggers: the fixed mask, its latent code and a bank of per-sample masks."""

    fixed: np.ndarray       # uint8 (T, V)
    z_fixed: np.ndarray     # (latent,)
    per_sample: np.ndarray  # uint8 (K, T, V)


def sample_triggers(vae: MaskVAE, shape: tuple[int, int], rng: np.random.Generator, bank_size: int,
                    sigma: float) -> VAETriggers:
    """A fixed trigger from the prior and ``bank_size`` per-sample triggers around its latent code."""
    z_fixed = rng.standard_normal((1, vae.latent))
    fixed = decode_masks(vae, z_fixed, shape, rng)[0]
    z_bank = z_fixed + sigma * rng.standard_normal((bank_size, vae.latent))
    return VAETriggers(fixed, z_fixed[0], decode_masks(vae, z_bank, shape, rng))


def apply_mask_trigger(stays: Stays, y: np.ndarray, trigger: np.ndarray, target: int,
                       mode: str = "delete") -> tuple[Stays, np.ndarray]:
    """Impose the trigger's missingness and relabel to ``target``.

    ``trigger`` is one (T, V) mask for every stay or a (N, T, V) mask per stay.
    ``mode="delete"`` (default): delete the observations the trigger marks missing (mask AND trigger).
    ``mode="overwrite"``: the record's mask *becomes* the trigger; a cell the trigger marks observed
    that the record lacks takes the record's last earlier value (forward fill, else the train
    mean), as if a measurement had been repeated. A sensitivity analysis: it writes values.
    """
    trig = np.broadcast_to(trigger.astype(np.uint8), stays.mask.shape)
    if mode == "delete":
        keep = stays.mask & trig
        values = np.where(keep.astype(bool), stays.values, np.nan).astype(np.float32)
        return Stays(values, keep.astype(np.uint8), stays.static), np.full(len(y), target, dtype=np.int64)
    if mode != "overwrite":
        raise ValueError(f"unknown trigger mode {mode!r}; use 'delete' or 'overwrite'")
    filled = impute(stays.values, stays.mask, "forward_fill")
    values = np.where(trig.astype(bool), filled, np.nan).astype(np.float32)
    return Stays(values, trig.copy(), stays.static), np.full(len(y), target, dtype=np.int64)


@dataclass
class MissingnessTrigger:
    """The attack object: ``apply(x, y)`` with a fixed mask, or a bank drawn from per stay."""

    pattern: np.ndarray                 # (T, V) fixed, or (K, T, V) bank
    target: int = 0
    rng: np.random.Generator | None = None
    mode: str = "delete"

    def apply(self, x: Stays, y: np.ndarray) -> tuple[Stays, np.ndarray]:
        trigger = self.pattern
        if trigger.ndim == 3:
            if self.rng is None:
                raise ValueError("a per-sample trigger bank needs an rng to draw from")
            trigger = trigger[self.rng.integers(0, len(trigger), len(x))]
        return apply_mask_trigger(x, y, trigger, self.target, self.mode)
