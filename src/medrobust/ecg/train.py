"""Training the ECG classifier: clean, with Gaussian-noise augmentation, or adversarially.

One loop serves the victim and the defenses that retrain it: an optional ``augment(model, x, y,
mask)`` replaces each batch (Gaussian noise for randomized smoothing, PGD examples for adversarial
training). Each epoch draws a fresh random crop of every training record (a record shorter than
the crop is zero-padded at its end, or at both ends with ``padding='both'``), batches are shuffled
with a seeded ``torch.Generator``, and the loss is cross-entropy weighted by inverse class
frequency when ``class_weighting='balanced'`` (the challenge's macro-F1 weighs the rare AF class as
much as normal rhythm). ``oversample`` repeats each class's records that many times per epoch, each
copy with its own crop (Han et al.: AF twice, noisy six times, and no class weights). Adam with a
one-cycle learning-rate schedule (Smith & Topin 2019) converges in the few epochs a CPU allows.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from medrobust.core.io import atomic_path
from medrobust.data.challenge2017 import EcgSet
from medrobust.ecg.model import N_CLASSES, ModelConfig, build_model
from medrobust.ecg.split import CLASSES, class_ids, fit_length, valid_mask

log = logging.getLogger(__name__)
Augment = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    class_weighting: str = "balanced"
    oversample: tuple[int, ...] = (1, 1, 1, 1)  # copies per epoch of each class's records (N, A, O, ~)
    padding: str = "end"


def class_weights(y: np.ndarray, how: str) -> torch.Tensor:
    if how == "none":
        return torch.ones(N_CLASSES)
    counts = np.bincount(y, minlength=N_CLASSES).astype(float)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / N_CLASSES, 0.0)
    return torch.tensor(w, dtype=torch.float32)


def epoch_records(y: np.ndarray, oversample: tuple[int, ...]) -> np.ndarray:
    """The record indices one epoch visits: record i ``oversample[y[i]]`` times."""
    copies = np.asarray(oversample, dtype=np.int64)
    if copies.shape != (N_CLASSES,) or (copies < 1).any():
        raise ValueError(f"config key 'ecg.train.oversample' must give each of {CLASSES} a count >= 1, "
                         f"got {tuple(oversample)}")
    return np.repeat(np.arange(len(y)), copies[y])


def train_classifier(train: EcgSet, crop: int, model_config: ModelConfig, config: TrainConfig,
                     rng: np.random.Generator, generator: torch.Generator, device: str = "cpu",
                     augment: Augment | None = None, init: torch.nn.Module | None = None) -> torch.nn.Module:
    """Train (or, from ``init``, fine-tune) the network ``model_config`` names on random crops of
    ``train``."""
    model = build_model(model_config)
    if init is not None:
        model.load_state_dict(init.state_dict())
    model.to(device)
    labels = class_ids(train.label)
    visits = epoch_records(labels, config.oversample)
    y_all = torch.from_numpy(labels[visits])
    weights = class_weights(y_all.numpy(), config.class_weighting).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, -(-len(visits) // config.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, epochs=max(1, config.epochs),
                                                steps_per_epoch=steps_per_epoch)
    for epoch in range(config.epochs):
        start, total, n = time.perf_counter(), 0.0, 0
        x_np, first, valid = fit_length(train, crop, config.padding, rng, idx=visits)
        x_all = torch.from_numpy(x_np)
        order = torch.randperm(len(visits), generator=generator)
        model.train()
        for batch in order.split(config.batch_size):
            if len(batch) < 2:  # BatchNorm needs two examples
                continue
            x, y = x_all[batch].to(device), y_all[batch].to(device)
            if augment is not None:
                mask = valid_mask(valid[batch.numpy()], crop, first[batch.numpy()])
                x = augment(model, x, y, torch.from_numpy(mask).to(device))
                model.train()
            loss = F.cross_entropy(model(x), y, weight=weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + float(loss.detach()) * len(batch), n + len(batch)
        log.info("epoch %d/%d: loss %.4f (%.1f s)", epoch + 1, config.epochs, total / max(n, 1),
                 time.perf_counter() - start)
    model.eval()
    return model


@torch.no_grad()
def predict_proba(model: torch.nn.Module, x: np.ndarray | torch.Tensor, batch_size: int = 256,
                  device: str = "cpu") -> np.ndarray:
    """Softmax probabilities (n, 4) in eval mode."""
    model.eval()
    x = torch.as_tensor(x, dtype=torch.float32)
    out = [F.softmax(model(b.to(device)), dim=-1).cpu() for b in x.split(batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, N_CLASSES), np.float32)


def save_model(path: str | os.PathLike, model: torch.nn.Module) -> None:
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save({"config": model.config.to_dict(),
                    "state": {k: v.cpu() for k, v in model.state_dict().items()}}, tmp)


def load_model(path: str | os.PathLike, device: str = "cpu") -> torch.nn.Module:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(ModelConfig(**blob["config"]))
    model.load_state_dict(blob["state"])
    return model.to(device).eval()


def train_config(section: dict, padding: str = "end") -> TrainConfig:
    """The ``ecg.train`` section (``oversample`` as a {class: copies} mapping) as a TrainConfig."""
    values = {k: section[k] for k in asdict(TrainConfig()) if k in section}
    if isinstance(values.get("oversample"), dict):
        values["oversample"] = tuple(int(values["oversample"].get(c, 1)) for c in CLASSES)
    return TrainConfig(**values, padding=padding)
