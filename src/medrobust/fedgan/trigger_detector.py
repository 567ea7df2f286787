"""Backdoor visibility: a detector of the trigger, and the share of synthetic images that carry it.

The issue's measure of how far the malicious client's trigger spreads into the federation's
generator. The detector is :class:`medrobust.fedgan.downstream.SmallCNN` with two classes,
trained on real training images (any label) of which a random half carries the trigger.
A generator copies a patch imperfectly, so the stamped half is blended at a strength drawn
uniformly from ``[min_strength, 1]`` (:meth:`Trigger.apply`); ``min_strength`` is 0.5 by default.

* :meth:`TriggerDetector.fit` takes clean images (the verb of a detector: ``fit(clean)``).
* :meth:`TriggerDetector.score` is the probability that an image carries the trigger.
* :meth:`TriggerDetector.share` is the share of images scored above 0.5, the study's
  ``trigger_share``. On the clean federation it measures the detector's false-positive rate on
  synthetic images, the floor every other variant is read against.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from medrobust.fedgan.downstream import SmallCNN, predict_proba, train_classifier
from medrobust.fedgan.trigger import Trigger


@dataclass
class TriggerDetector:
    trigger: Trigger
    min_strength: float = 0.5
    epochs: int = 3
    batch_size: int = 128
    model: SmallCNN | None = field(default=None, repr=False)

    def stamped_half(self, clean: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, carries_trigger)``: a random half of ``clean`` stamped at random strengths."""
        carries = torch.randperm(len(clean), generator=gen) < len(clean) // 2
        strength = self.min_strength + (1 - self.min_strength) * torch.rand(int(carries.sum()), generator=gen)
        x = clean.clone()
        x[carries] = self.trigger.apply(clean[carries], strength=strength)[0]
        return x, carries.long()

    def fit(self, clean: torch.Tensor, gen: torch.Generator, device: str = "cpu") -> "TriggerDetector":
        x, carries = self.stamped_half(clean, gen)
        self.model = train_classifier(x, carries, 2, gen, epochs=self.epochs, batch_size=self.batch_size,
                                      device=device)
        return self

    def score(self, x: torch.Tensor) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("TriggerDetector.score before fit")
        return predict_proba(self.model, x)[:, 1]

    def share(self, x: torch.Tensor) -> float:
        return float(np.mean(self.score(x) > 0.5))
