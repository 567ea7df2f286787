"""A federated conditional GAN: K clients simulated in one process, generators averaged by the server.

After the FedGAN pipeline of Jin & Li (Medical Image Analysis 2023;90:102965), with FedAvg
(McMahan et al., AISTATS 2017) on the generators and, optionally, on the discriminators:

* **Split** (:func:`split_clients`): ``iid`` deals a random permutation of the training images
  round-robin; ``dirichlet`` draws, per class, client shares from ``Dirichlet(alpha)`` (Hsu et al.
  2019), redrawing until every client holds at least ``batch_size`` images.
* **Round**: each client loads the global generator (and the global discriminator when those are
  averaged; otherwise it keeps its own), trains ``local_epochs`` passes over its data in shuffled
  batches, and reports its mean generator and discriminator loss. The server aggregates the
  generators with the configured rule (:mod:`medrobust.fedgan.robust_aggregation`); FedAvg's
  weight of a client is its sample count times its FedDetect multiplier.
* **FedDetect** (:mod:`medrobust.fedgan.feddetect`, or the authors' rule,
  :mod:`medrobust.fedgan.feddetect_authors`), when the run has one, scores the reports of every
  round after its warm-up, and its flags change the weights before that round's aggregation.
  Each client reports its mean generator and discriminator loss of the round and its generator
  loss of the last local batch (which the authors' rule reads).
* **Optimisers**: each client keeps its own Adam states across rounds (lr 2e-4, betas (0.5, 0.999)
  for DCGAN as Radford et al.; (0.5, 0.9) for WGAN-GP).
* **Randomness**: the data order, the latent noise, the detector and the WGAN-GP interpolation
  each draw from their own generator, seeded by the caller; runs of different variants with the
  same seed therefore share the split, the initial weights and the noise (common random numbers).

The attack is data poisoning only: the caller passes the malicious clients' images already
stamped by :class:`medrobust.fedgan.trigger.Trigger`. The server never sees data.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from medrobust.fedgan import wgan_gp
from medrobust.fedgan.cgan import Discriminator, GanShape, Generator, dcgan_step
from medrobust.fedgan.feddetect import FedDetect
from medrobust.fedgan.feddetect_authors import FedDetectAuthors
from medrobust.fedgan.robust_aggregation import aggregate

log = logging.getLogger(__name__)
SPLITS = ("iid", "dirichlet")
LOSSES = ("dcgan", "wgan_gp")


@dataclass(frozen=True)
class FederationConfig:
    rounds: int = 15
    local_epochs: int = 1
    batch_size: int = 64
    lr: float = 2e-4
    z_dim: int = 64
    width: int = 32
    loss: str = "dcgan"
    n_critic: int = 1
    gp_weight: float = 10.0
    average_discriminators: bool = False
    aggregation: str = "fedavg"
    trim_ratio: float = 0.25
    n_byzantine: int = 1
    krum_multi: int = 1


@dataclass
class Client:
    x: torch.Tensor
    y: torch.Tensor
    generator: Generator
    discriminator: Discriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer


@dataclass
class FederationLog:
    """Per round and client: reported losses, FedDetect scores and flags, aggregation weights."""

    generator_loss: np.ndarray
    discriminator_loss: np.ndarray
    generator_loss_last: np.ndarray
    detector_score: np.ndarray
    flagged: np.ndarray
    weight: np.ndarray
    multiplier: np.ndarray
    generator: Generator = field(repr=False)


@dataclass
class Streams:
    order: torch.Generator
    noise: torch.Generator
    detector: np.random.Generator


def split_clients(labels: np.ndarray, n_clients: int, scheme: str, rng: np.random.Generator,
                  alpha: float = 0.5, min_size: int = 1, max_tries: int = 1000) -> list[np.ndarray]:
    """Indices of each client's training images."""
    labels = np.asarray(labels)
    if scheme not in SPLITS:
        raise ValueError(f"client split must be one of {SPLITS}, got {scheme!r}")
    if len(labels) < n_clients * min_size:
        raise ValueError(f"{len(labels)} training images cannot give {n_clients} clients {min_size} each")
    if scheme == "iid":
        order = rng.permutation(len(labels))
        return [np.sort(order[k::n_clients]) for k in range(n_clients)]
    for _ in range(max_tries):
        parts: list[list[int]] = [[] for _ in range(n_clients)]
        for cls in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == cls))
            cuts = (np.cumsum(rng.dirichlet(np.full(n_clients, alpha))) * len(idx)).astype(int)[:-1]
            for k, chunk in enumerate(np.split(idx, cuts)):
                parts[k] += chunk.tolist()
        if min(len(p) for p in parts) >= min_size:
            return [np.sort(np.asarray(p, dtype=int)) for p in parts]
    raise ValueError(f"no Dirichlet(alpha={alpha}) split gave every one of {n_clients} clients {min_size} "
                     f"images in {max_tries} draws; raise alpha or lower the number of clients")


def run_federation(client_data: list[tuple[torch.Tensor, torch.Tensor]], shape: GanShape, cfg: FederationConfig,
                   detector: FedDetect | FedDetectAuthors | None, streams: Streams, init_seed: int,
                   device: str = "cpu", on_checkpoint: Callable[[int, Generator], None] | None = None,
                   checkpoints: tuple[int, ...] = ()) -> FederationLog:
    """Train the federation for ``cfg.rounds`` rounds; ``on_checkpoint(round, generator)`` runs after
    each aggregation whose 1-based round number is in ``checkpoints``. ``detector`` (a FedDetect
    variant, or None) reweights the clients before each aggregation after its warm-up."""
    torch.manual_seed(init_seed)  # identical initial weights for every client and every variant
    global_g = Generator(shape).to(device)
    global_d = Discriminator(shape).to(device)
    clients = [_make_client(x.to(device), y.to(device), global_g, global_d, cfg) for x, y in client_data]
    k = len(clients)
    sizes = np.array([len(c.y) for c in clients], dtype=float)
    shape_rk = (cfg.rounds, k)
    logs = {name: np.full(shape_rk, np.nan) for name in
            ("generator_loss", "discriminator_loss", "generator_loss_last", "detector_score", "weight",
             "multiplier")}
    flagged = np.zeros(shape_rk, dtype=bool)
    multipliers, counts = np.ones(k), np.zeros(k, dtype=int)
    for r in range(cfg.rounds):
        g_states, d_states = [], []
        for i, client in enumerate(clients):
            client.generator.load_state_dict(global_g.state_dict())
            if cfg.average_discriminators:
                client.discriminator.load_state_dict(global_d.state_dict())
            logs["generator_loss"][r, i], logs["discriminator_loss"][r, i], logs["generator_loss_last"][r, i] = \
                _local_training(client, cfg, streams)
            g_states.append(copy.deepcopy(client.generator.state_dict()))
            d_states.append(copy.deepcopy(client.discriminator.state_dict()))
        if detector is not None and detector.active(r):
            flagged[r], logs["detector_score"][r] = detector.flag(detector.points(logs, r), streams.detector)
            multipliers, counts = detector.reweight(multipliers, flagged[r], counts)
        logs["multiplier"][r] = multipliers
        weights = sizes * multipliers
        if weights.sum() <= 0:
            log.warning("round %d: every client is blocked; the global model is left unchanged", r + 1)
            logs["weight"][r] = 0.0
        else:
            agg = dict(rule=cfg.aggregation, trim_ratio=cfg.trim_ratio, n_byzantine=cfg.n_byzantine,
                       multi=cfg.krum_multi)
            state, logs["weight"][r] = aggregate(states=g_states, weights=weights, **agg)
            global_g.load_state_dict(state)
            if cfg.average_discriminators:
                global_d.load_state_dict(aggregate(states=d_states, weights=weights, **agg)[0])
        log.info("round %d: G loss %s, D loss %s, flagged %s", r + 1, np.round(logs["generator_loss"][r], 3),
                 np.round(logs["discriminator_loss"][r], 3), np.flatnonzero(flagged[r]).tolist())
        if on_checkpoint is not None and r + 1 in checkpoints:
            on_checkpoint(r + 1, global_g)
    return FederationLog(flagged=flagged, generator=global_g, **logs)


def _make_client(x: torch.Tensor, y: torch.Tensor, global_g: Generator, global_d: Discriminator,
                 cfg: FederationConfig) -> Client:
    if cfg.loss not in LOSSES:
        raise ValueError(f"GAN loss must be one of {LOSSES}, got {cfg.loss!r}")
    g, d = copy.deepcopy(global_g), copy.deepcopy(global_d)
    betas = (0.5, 0.9) if cfg.loss == "wgan_gp" else (0.5, 0.999)
    return Client(x, y, g, d, torch.optim.Adam(g.parameters(), cfg.lr, betas=betas),
                  torch.optim.Adam(d.parameters(), cfg.lr, betas=betas))


def _local_training(client: Client, cfg: FederationConfig, streams: Streams) -> tuple[float, float, float]:
    """One round of local training: ``(mean generator loss, mean discriminator loss, last generator loss)``."""
    g_losses, d_losses = [], []
    n = len(client.y)
    for _ in range(cfg.local_epochs):
        order = torch.randperm(n, generator=streams.order).to(client.y.device)
        batches = [order[i:i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]
        for b, idx in enumerate(batches):
            if len(idx) < 2:  # batch norm needs two samples
                continue
            x, y = client.x[idx], client.y[idx]
            if cfg.loss == "dcgan":
                g_loss, d_loss = dcgan_step(client.generator, client.discriminator, client.opt_g,
                                            client.opt_d, x, y, streams.noise)
                g_losses.append(g_loss)
                d_losses.append(d_loss)
                continue
            d_losses.append(wgan_gp.critic_step(client.generator, client.discriminator, client.opt_d, x, y,
                                                streams.noise, cfg.gp_weight))
            if (b + 1) % cfg.n_critic == 0:
                g_losses.append(wgan_gp.generator_step(client.generator, client.discriminator, client.opt_g,
                                                       y, streams.noise))
    if not g_losses:
        return float("nan"), float(np.mean(d_losses)), float("nan")
    return float(np.mean(g_losses)), float(np.mean(d_losses)), float(g_losses[-1])
