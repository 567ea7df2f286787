"""Fine-pruning (Liu, Dolan-Gavitt & Garg, "Fine-Pruning: Defending Against Backdooring Attacks on
Deep Neural Networks", RAID 2018), for a BERT encoder.

Liu et al. prune the last convolutional layer's channels that are least active on clean data
(backdoor neurons tend to lie dormant on clean inputs), then fine-tune on clean data. Here the
prunable units are the feed-forward (intermediate) neurons of the **last encoder layer**: their
mean activation (after GELU) over the content tokens of the defender's clean texts is measured,
the ``prune_fraction`` least active are cut by a fixed zero mask on the layer's output (a forward
hook, so they stay cut while the rest of the model is fine-tuned), and the pruned model is then
fine-tuned as in :mod:`medrobust.clm.fine_tuning`. ``apply(model, data)`` returns a new model;
``trunk`` (the job's :class:`~medrobust.clm.trunk.TrunkCache`) spares the frozen blocks' forwards.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from medrobust.clm.finetune import Encoded, TrainConfig, fit, logits_of
from medrobust.clm.trunk import TrunkCache


def last_ffn(model) -> torch.nn.Module:
    """The intermediate (first feed-forward) module of the encoder's last layer (BERT, RoBERTa)."""
    return model.base_model.encoder.layer[-1].intermediate


@torch.no_grad()
def mean_activation(model, enc: Encoded, device: str, batch_size: int = 64,
                    trunk: TrunkCache | None = None) -> np.ndarray:
    sums, count = None, 0
    captured = {}
    handle = last_ffn(model).register_forward_hook(lambda m, i, o: captured.__setitem__("out", o))
    model.to(device).eval()
    try:
        for start in range(0, len(enc), batch_size):
            batch = enc.batch(np.arange(start, min(start + batch_size, len(enc))))
            logits_of(model, batch, device, trunk)
            keep = batch.attention_mask.to(device).bool()
            out = captured["out"]  # (B, L, units), or (real tokens, units) from a packed block
            part = (out[keep] if out.dim() == 3 else out).float().sum(dim=0)
            sums = part if sums is None else sums + part
            count += int(keep.sum())
    finally:
        handle.remove()
    return (sums / max(count, 1)).cpu().numpy()


@dataclass(frozen=True)
class FinePruning:
    train: TrainConfig
    prune_fraction: float = 0.3

    def apply(self, model, data: tuple[Encoded, np.ndarray], generator: torch.Generator, device: str,
              trunk: TrunkCache | None = None):
        enc, labels = data
        pruned = copy.deepcopy(model)
        activation = mean_activation(pruned, enc, device, trunk=trunk)
        cut = np.argsort(activation, kind="stable")[:int(round(self.prune_fraction * len(activation)))]
        mask = torch.ones(len(activation), device=device)
        mask[torch.as_tensor(cut, device=device)] = 0.0
        last_ffn(pruned).register_forward_hook(lambda m, i, o: o * mask.to(o.dtype))
        pruned.pruned_units = len(cut)
        fit(pruned, enc, labels, self.train, generator, device, trunk=trunk)
        return pruned
