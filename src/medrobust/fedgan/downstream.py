"""Downstream use of synthetic images: a diagnostic classifier trained on real, or real plus synthetic, data.

Jin & Li (Medical Image Analysis 2023;90:102965) judge a federation's synthetic images by whether
they help a diagnostic classifier as augmentation. Here one small CNN recipe serves throughout:

* :class:`SmallCNN`: two strided 4x4 convolutions (16 and 32 channels, stride 2, batch norm,
  ReLU; four times cheaper on CPU than 3x3 convolutions with max pooling), an adaptive average
  pool to 4x4 (so any image size works), a 64-unit penultimate layer and a linear head. Its penultimate activations are the features of
  :mod:`medrobust.fedgan.fidelity`, and the same recipe with two classes is the trigger detector.
* :func:`train_classifier`: Adam (lr 1e-3), cross-entropy, trained to convergence: after each
  epoch the cross-entropy on a validation set is measured, the best epoch's weights are kept, and
  training stops once ``patience`` epochs in a row have not lowered it by more than ``min_delta``
  (early stopping, Prechelt 1998; the ``min_delta`` of Keras' EarlyStopping, so that a nearly
  separable task, whose loss creeps towards 0, also counts as converged), or at ``max_epochs``. :class:`Trained` says which (``converged``), the gate of
  every claim that reads a classifier. The data order comes from the caller's generator. The
  real-only and the real-plus-synthetic classifiers stop on the same real validation split.
* :func:`evaluate`: AUC (binary; macro one-vs-rest for more classes; by ranks, equal to
  scikit-learn's ``roc_auc_score`` and a hundred times faster in a bootstrap) and accuracy of the argmax
  on the real test split, each with a percentile bootstrap CI over test images
  (:func:`medrobust.core.metrics.bootstrap_ci`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata
from torch import nn

from medrobust.core.metrics import Estimate, bootstrap_ci


class SmallCNN(nn.Module):
    def __init__(self, channels: int, n_classes: int, width: int = 16, n_features: int = 64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(2 * width * 16, n_features), nn.ReLU())
        self.head = nn.Linear(n_features, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass
class Trained:
    """A trained classifier and how its training ended."""

    model: SmallCNN
    epochs: int  # epochs run
    best_epoch: int  # 1-based epoch whose weights were kept
    converged: bool  # stopped by early stopping, not by max_epochs
    val_loss: float


def train_classifier(x: torch.Tensor, y: torch.Tensor, n_classes: int, gen: torch.Generator,
                     val: tuple[torch.Tensor, torch.Tensor], max_epochs: int = 30, patience: int = 3,
                     min_delta: float = 1e-3, batch_size: int = 128, lr: float = 1e-3,
                     device: str = "cpu") -> Trained:
    """A :class:`SmallCNN` trained on ``(x, y)`` until the loss on ``val`` has not fallen by more than
    ``min_delta`` for ``patience`` epochs (or ``max_epochs``); the best epoch's weights. Initial
    weights from ``gen``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**31 - 1, (1,), generator=gen)))
        model = SmallCNN(x.shape[1], n_classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    best, best_epoch, best_state, epoch = float("inf"), 0, copy.deepcopy(model.state_dict()), 0
    for epoch in range(1, max_epochs + 1):
        model.train()
        order = torch.randperm(len(y), generator=gen)
        for start in range(0, len(y), batch_size):
            idx = order[start:start + batch_size]
            if len(idx) < 2:  # batch norm needs two samples
                continue
            loss = F.cross_entropy(model(x[idx].to(device)), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        val_loss = validation_loss(model, *val)
        if val_loss < best - min_delta:
            best, best_epoch, best_state = val_loss, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    return Trained(model.eval(), epoch, best_epoch, epoch - best_epoch >= patience, best)


@torch.no_grad()
def validation_loss(model: SmallCNN, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    model.eval()
    device = next(model.parameters()).device
    total = sum(float(F.cross_entropy(model(x[i:i + batch_size].to(device)), y[i:i + batch_size].to(device),
                                      reduction="sum")) for i in range(0, len(y), batch_size))
    return total / len(y)


@torch.no_grad()
def predict_proba(model: SmallCNN, x: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    model.eval()
    device = next(model.parameters()).device
    out = [F.softmax(model(x[i:i + batch_size].to(device)), dim=1).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy().astype(np.float64)


@torch.no_grad()
def features(model: SmallCNN, x: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    model.eval()
    device = next(model.parameters()).device
    out = [model.features(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy().astype(np.float64)


def binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """AUC as the Mann-Whitney U statistic on average ranks (ties count one half), as
    ``sklearn.metrics.roc_auc_score`` but without its input checks, which dominate a bootstrap."""
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both classes")
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Binary AUC of the positive class, or the macro one-vs-rest AUC over every class
    (sklearn's ``multi_class="ovr", average="macro"``)."""
    y_true = np.asarray(y_true)
    if proba.shape[1] == 2:
        return binary_auc(y_true == 1, proba[:, 1])
    return float(np.mean([binary_auc(y_true == k, proba[:, k]) for k in range(proba.shape[1])]))


def accuracy(y_true: np.ndarray, proba: np.ndarray) -> float:
    return float(np.mean(np.asarray(proba).argmax(axis=1) == np.asarray(y_true)))


def evaluate(y_true: np.ndarray, proba: np.ndarray, rng: np.random.Generator, n_boot: int) -> dict[str, Estimate]:
    return {"auc": bootstrap_ci(auc, y_true, proba, rng=rng, n_boot=n_boot),
            "acc": bootstrap_ci(accuracy, y_true, proba, rng=rng, n_boot=n_boot)}


def paired_difference(y_true: np.ndarray, proba_a: np.ndarray, proba_b: np.ndarray, metric,
                      rng: np.random.Generator, n_boot: int) -> Estimate:
    """``metric(a) - metric(b)`` on the same test images, with a paired bootstrap CI."""
    n_classes = proba_a.shape[1]

    def diff(y, both):
        return metric(y, both[:, :n_classes]) - metric(y, both[:, n_classes:])

    return bootstrap_ci(diff, y_true, np.hstack([proba_a, proba_b]), rng=rng, n_boot=n_boot)
