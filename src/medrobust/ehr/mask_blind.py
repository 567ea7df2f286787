"""Mask-blind victim: impute and drop every missingness input, then see whether the backdoor survives.

A missingness trigger is visible to a model through its mask channels (LSTM/GRU) and its
observed-share features (LR/MLP). The mask-blind victim sees only imputed values
(:func:`medrobust.ehr.preprocess.sequence_inputs` / ``summary_features`` with ``use_mask=False``):
a deleted value is forward-filled or set to the train mean and nothing records that it was
deleted. The trigger can still act through the imputed values, so this tests whether a backdoor
needs the mask at all. ``apply`` retrains from scratch on the same (poisoned) data, for as many
epochs as the victim it replaces was trained.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medrobust.ehr.models import TrainConfig, Victim, train_victim
from medrobust.ehr.preprocess import Stays


@dataclass
class MaskBlind:
    cfg: TrainConfig
    seed: int

    def apply(self, model: Victim, data: tuple[Stays, np.ndarray], raw: np.ndarray | None = None) -> Victim:
        """``raw``: optional mask-blind raw inputs of ``data`` (see :meth:`Victim.raw_inputs`)."""
        stays, y = data
        return train_victim(model.kind, stays, y, self.cfg, model.imputation, model.clip_z, self.seed,
                            use_mask=False, device=model.device, raw=raw, epochs=len(model.history) or None)
