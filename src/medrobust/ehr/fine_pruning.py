"""Mitigations on a small clean set: fine-tuning, and fine-pruning (Liu, Dolan-Gavitt & Garg,
"Fine-Pruning: Defending Against Backdooring Attacks on Deep Neural Networks", RAID 2018).

The defender holds a small clean labelled set (here the validation split, never used for
training). ``FineTuning.apply(model, data)`` continues training a copy of the model on it;
``FinePruning.apply(model, data)`` first switches off the ``prune_fraction`` of penultimate units
with the lowest mean activation on that set (the dormant units a backdoor tends to hide in),
then fine-tunes. LR has no hidden units, so fine-pruning is not run for it (its row is absent).
Both return a new model; the input is left untouched.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from medrobust.ehr.models import Victim, fit_epochs, penultimate
from medrobust.ehr.preprocess import Stays


@dataclass
class FineTuning:
    epochs: int
    lr: float
    seed: int
    batch_size: int = 256

    def apply(self, model: Victim, data: tuple[Stays, np.ndarray]) -> Victim:
        stays, y = data
        tuned = copy.deepcopy(model)
        fit_epochs(tuned, tuned.inputs(stays), y, self.epochs, self.lr, self.batch_size, 0.0, self.seed)
        return tuned


@dataclass
class FinePruning:
    prune_fraction: float
    epochs: int
    lr: float
    seed: int
    batch_size: int = 256

    def apply(self, model: Victim, data: tuple[Stays, np.ndarray]) -> Victim:
        if model.kind == "lr":
            raise ValueError("fine-pruning needs hidden units; LR has none")
        stays, y = data
        pruned = copy.deepcopy(model)
        activity = penultimate(pruned, stays).mean(axis=0)
        n_prune = int(round(self.prune_fraction * len(activity)))
        with torch.no_grad():
            pruned.net.unit_mask[torch.from_numpy(np.argsort(activity, kind="stable")[:n_prune])] = 0.0
        return FineTuning(self.epochs, self.lr, self.seed, self.batch_size).apply(pruned, data)
