"""The cross-check: the Adversarial Robustness Toolbox's PGD on the same model and inputs.

Nicolae et al., "Adversarial Robustness Toolbox v1.0.0", arXiv:1807.01069. The victim is wrapped
in ``art.estimators.classification.PyTorchClassifier`` (cross-entropy loss, no clip values, no
preprocessing) and attacked with ``art.attacks.evasion.ProjectedGradientDescent`` (L-infinity,
the same eps, step and iteration count as :mod:`medrobust.ecg.pgd`, no random start); the padding
mask is passed as ART's ``mask`` so the perturbation is zero there too. Our ASR and ART's should
then agree; the study reports both per eps, and the throughput of each.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class ArtPGD:
    model: torch.nn.Module
    eps: float = 10.0
    step: float = 1.0
    steps: int = 20
    batch_size: int = 256
    device: str = "cpu"

    def apply(self, x: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        from art.attacks.evasion import ProjectedGradientDescent
        from art.estimators.classification import PyTorchClassifier

        self.model.eval()
        n_classes = self.model.config.n_classes
        classifier = PyTorchClassifier(model=self.model, loss=torch.nn.CrossEntropyLoss(),
                                       input_shape=tuple(x.shape[1:]), nb_classes=n_classes,
                                       device_type="gpu" if self.device == "cuda" else "cpu")
        attack = ProjectedGradientDescent(classifier, norm=np.inf, eps=self.eps, eps_step=self.step,
                                          max_iter=self.steps, targeted=False, num_random_init=0,
                                          batch_size=self.batch_size, verbose=False)
        x = np.asarray(x, dtype=np.float32)
        onehot = np.eye(n_classes, dtype=np.float32)[np.asarray(y)]
        kwargs = {} if mask is None else {"mask": np.asarray(mask, dtype=np.float32)}
        return attack.generate(x, onehot, **kwargs)
