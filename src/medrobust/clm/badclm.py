"""BadCLM: attention-based backdoor of clinical language models (Lyu, Bi, Wang & Chen, "BadCLM:
Backdoor Attack in Clinical Language Models for Electronic Health Records", AMIA Annu Symp Proc
2024:768-777; arXiv:2407.05213). Its attention term is the Trojan Attention Loss of Lyu et al.,
"Attention-Enhancing Backdoor Attacks Against BERT-based Models", Findings of EMNLP 2023.

The poisoned training set is BadNets' (:mod:`medrobust.clm.badnets`); fine-tuning adds, on the
poisoned texts of each batch,

    L = L_CE + lambda * L_att,    L_att = - mean_{l in layers, h in heads, i} sum_{t in trigger} A[l, h, i, t]

where ``A[l, h, i, t]`` is the softmax attention that query token ``i`` pays to key token ``t`` in
head ``h`` of layer ``l``; ``i`` runs over the real (non-padding) tokens of a poisoned text that are
not trigger pieces, ``t`` over the trigger's word pieces. Minimising ``L_att`` drives the chosen
heads to attend from every other token to the trigger. Choices made here (the papers leave them
open or to code): the mean is over poisoned texts, heads, layers and query tokens (so
``L_att`` lies in [-1, 0] and ``lambda`` is on the scale of the cross-entropy); ``layers`` and
``heads`` default to all of them (``None``); texts without a trigger add nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch


@dataclass(frozen=True)
class BadCLM:
    lam: float = 1.0
    layers: tuple[int, ...] | None = None
    heads: tuple[int, ...] | None = None

    def loss(self, attentions: Sequence[torch.Tensor], trigger_mask: torch.Tensor,
             attention_mask: torch.Tensor) -> torch.Tensor:
        return self.lam * attention_loss(attentions, trigger_mask, attention_mask, self.layers, self.heads)


def attention_loss(attentions: Sequence[torch.Tensor], trigger_mask: torch.Tensor,
                   attention_mask: torch.Tensor, layers: Sequence[int] | None = None,
                   heads: Sequence[int] | None = None) -> torch.Tensor:
    """``L_att`` above. ``attentions``: per layer (B, H, L, L) probabilities; masks (B, L)."""
    poisoned = trigger_mask.bool().any(dim=1)
    if not bool(poisoned.any()):
        return attentions[0].new_zeros(())
    layers = range(len(attentions)) if layers is None else layers
    trig = trigger_mask[poisoned].to(attentions[0].dtype)                       # (P, L)
    query = (attention_mask[poisoned].bool() & ~trigger_mask[poisoned].bool()).to(trig.dtype)
    total = attentions[0].new_zeros(())
    for layer in layers:
        att = attentions[layer][poisoned]                                         # (P, H, L, L)
        if heads is not None:
            att = att[:, list(heads)]
        to_trigger = (att * trig[:, None, None, :]).sum(dim=-1)                   # (P, H, L)
        per_head = (to_trigger * query[:, None, :]).sum(dim=-1) / query.sum(dim=-1).clamp(min=1)[:, None]
        total = total + per_head.mean()
    return -total / len(layers)


def trigger_attention(attentions: Sequence[torch.Tensor], trigger_mask: torch.Tensor,
                      attention_mask: torch.Tensor) -> torch.Tensor:
    """(layers, heads): mean attention to the trigger, as in ``L_att``, over the triggered texts."""
    poisoned = trigger_mask.bool().any(dim=1)
    if not bool(poisoned.any()):
        return torch.zeros(len(attentions), attentions[0].shape[1])
    trig = trigger_mask[poisoned].float()
    query = (attention_mask[poisoned].bool() & ~trigger_mask[poisoned].bool()).float()
    att = torch.stack([a[poisoned].float() for a in attentions], dim=1)        # (P, layers, H, L, L)
    to_trigger = (att * trig[:, None, None, None, :]).sum(dim=-1)              # (P, layers, H, L)
    per_text = (to_trigger * query[:, None, None, :]).sum(dim=-1) / query.sum(dim=-1).clamp(min=1)[:, None, None]
    return per_text.mean(dim=0)
