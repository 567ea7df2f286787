"""Fine-tuning on a small clean set as a backdoor mitigation (Liu, Dolan-Gavitt & Garg,
"Fine-Pruning: Defending Against Backdooring Attacks on Deep Neural Networks", RAID 2018, where
plain fine-tuning is the first baseline; for BERT, e.g. Zhu et al., "Moderate-fitting as a natural
backdoor defender for pre-trained language models", NeurIPS 2022).

``apply(model, data)`` continues training a copy of the (possibly backdoored) model on the
defender's clean validation texts for a few epochs, with the same recipe as the victim's training
(:func:`medrobust.clm.finetune.fit`) but the defender's own epochs and learning rate. The defender
does not know the trigger, so nothing else changes. The input model is left untouched. ``trunk``:
the job's :class:`~medrobust.clm.trunk.TrunkCache` (the defender trains the same top blocks).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from medrobust.clm.finetune import Encoded, TrainConfig, fit
from medrobust.clm.trunk import TrunkCache


@dataclass(frozen=True)
class FineTuning:
    train: TrainConfig

    def apply(self, model, data: tuple[Encoded, np.ndarray], generator: torch.Generator, device: str,
              trunk: TrunkCache | None = None):
        enc, labels = data
        tuned = copy.deepcopy(model)
        fit(tuned, enc, labels, self.train, generator, device, trunk=trunk)
        return tuned
