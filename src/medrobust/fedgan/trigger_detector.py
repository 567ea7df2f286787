"""Backdoor visibility: a detector of the trigger, and the share of synthetic images that carry it.

The issue's measure of how far the malicious client's trigger spreads into the federation's
generator. The detector is :class:`medrobust.fedgan.downstream.SmallCNN` with two classes,
trained on real training images (any label) of which a random half carries the trigger.
A generator copies a patch imperfectly, so the stamped half is blended at a strength drawn
uniformly from ``[min_strength, 1]`` (:meth:`Trigger.apply`); ``min_strength`` is 0.5 by default.

* :meth:`TriggerDetector.fit` takes clean images (the verb of a detector: ``fit(clean)``), and
  clean validation images, a random half of which it stamps the same way, to stop training once
  it has converged (:func:`medrobust.fedgan.downstream.train_classifier`).
* :meth:`TriggerDetector.score` is the probability that an image carries the trigger.
* :meth:`TriggerDetector.count` and :meth:`TriggerDetector.share` are the number and the share
  of images scored above 0.5, the study's ``trigger_share``. On the clean federation it measures the detector's false-positive rate on
  synthetic images, the floor every other variant is read against.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from medrobust.fedgan.downstream import SmallCNN, Trained, predict_proba, train_classifier
from medrobust.fedgan.trigger import Trigger


@dataclass
class TriggerDetector:
    trigger: Trigger
    min_strength: float = 0.5
    max_epochs: int = 30
    patience: int = 3
    min_delta: float = 1e-3
    batch_size: int = 128
    model: SmallCNN | None = field(default=None, repr=False)
    training: Trained | None = field(default=None, repr=False)

    def stamped_half(self, clean: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, carries_trigger)``: a random half of ``clean`` stamped at random strengths."""
        carries = torch.randperm(len(clean), generator=gen) < len(clean) // 2
        strength = self.min_strength + (1 - self.min_strength) * torch.rand(int(carries.sum()), generator=gen)
        x = clean.clone()
        x[carries] = self.trigger.apply(clean[carries], strength=strength)[0]
        return x, carries.long()

    def fit(self, clean: torch.Tensor, clean_val: torch.Tensor, gen: torch.Generator,
            device: str = "cpu") -> "TriggerDetector":
        x, carries = self.stamped_half(clean, gen)
        self.training = train_classifier(x, carries, 2, gen, val=self.stamped_half(clean_val, gen),
                                         max_epochs=self.max_epochs, patience=self.patience,
                                         min_delta=self.min_delta, batch_size=self.batch_size, device=device)
        self.model = self.training.model
        return self

    def score(self, x: torch.Tensor) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("TriggerDetector.score before fit")
        return predict_proba(self.model, x)[:, 1]

    def count(self, x: torch.Tensor) -> int:
        """Number of images scored above 0.5 (judged to carry the trigger)."""
        return int(np.sum(self.score(x) > 0.5))

    def share(self, x: torch.Tensor) -> float:
        return self.count(x) / len(x)
