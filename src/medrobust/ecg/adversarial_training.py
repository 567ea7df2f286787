"""Adversarial training (Madry et al., "Towards deep learning models resistant to adversarial
attacks", ICLR 2018), with PGD and optionally SAP examples.

``apply(model, data)`` fine-tunes a copy of the victim for ``epochs`` on random crops of the
training records, replacing a share ``adversarial_share`` of every batch by adversarial versions
crafted on the fly against the current weights (PGD with ``steps`` steps of ``2.5 * eps / steps``,
Madry's ratio; with ``attack='sap'`` the SAP refinement is added with the same step count). The
rest of the batch stays clean, so the model keeps its clean accuracy where it can. Fine-tuning
from the victim rather than training from scratch is what a CPU allows; it is stated in the report.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from medrobust.data.challenge2017 import EcgSet
from medrobust.ecg.pgd import PGD
from medrobust.ecg.sap import SAP
from medrobust.ecg.train import TrainConfig, train_classifier


@dataclass
class AdversarialTraining:
    eps: float = 10.0
    steps: int = 3
    attack: str = "pgd"
    adversarial_share: float = 0.5
    config: TrainConfig = TrainConfig(epochs=1, lr=1e-3)

    def augment(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n_adv = int(round(self.adversarial_share * len(x)))
        if n_adv == 0:
            return x
        step = 2.5 * self.eps / self.steps
        was_training = model.training
        if self.attack == "sap":
            attack = SAP(model, self.eps, step, pgd_steps=self.steps, steps=self.steps)
        else:
            attack = PGD(model, self.eps, step, self.steps)
        adv = attack.apply(x[:n_adv], y[:n_adv], mask[:n_adv])
        model.train(was_training)
        return torch.cat([adv, x[n_adv:]])

    def apply(self, model: torch.nn.Module, data: tuple[EcgSet, int], rng: np.random.Generator,
              generator: torch.Generator, device: str = "cpu") -> torch.nn.Module:
        """``data`` = (training records, crop length). Returns the fine-tuned copy."""
        train, crop = data
        return train_classifier(train, crop, model.config, self.config, rng, generator, device,
                                augment=self.augment, init=model)
