"""Attention-abnormality check: a token that draws abnormal attention in some head (after Lyu et al.,
"A Study of the Attention Abnormality in Trojaned BERTs", NAACL 2022, whose AttenTD detector flags
models whose heads focus on inserted trigger words).

**Inputs** (``fit(clean)`` / ``score(x)``): for each head ``(l, h)`` and text, the *focus* is the
largest share of attention that one content token receives from the other content tokens,
``max_j mean_{i != j} A[l, h, i, j]``. Content tokens are the real word pieces other than special
tokens ([CLS], [SEP]) and pure punctuation, which act as attention sinks in every BERT (Clark et al.,
"What Does BERT Look At?", BlackboxNLP 2019). ``fit`` stores the mean and standard deviation of
each head's focus over clean texts; ``score`` is the largest z-score over heads (higher = more
suspicious).

**Models** (:func:`token_focus`): the mean attention that the other tokens pay to chosen inserted
words, per head. The maximum over heads for the true trigger against the same quantity for control
rare words (``bb``, ``tq``, ``mb``, from Kurita et al.'s list) tells whether a model's heads lock
onto the trigger, and whether BadCLM's attention loss makes that easier to see.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from medrobust.clm.badclm import trigger_attention
from medrobust.clm.finetune import Encoded, attentions


def content_mask(tokenizer, enc: Encoded) -> torch.Tensor:
    """(N, L) bool: real word pieces that are neither special tokens nor pure punctuation."""
    vocab = tokenizer.convert_ids_to_tokens(list(range(tokenizer.vocab_size)))
    excluded = torch.tensor([t in tokenizer.all_special_tokens or not any(c.isalnum() for c in t)
                             for t in vocab], dtype=torch.bool)
    ids = enc.input_ids.clamp(max=len(excluded) - 1)
    return enc.attention_mask.bool() & ~excluded[ids]


def head_focus(model, enc: Encoded, content: torch.Tensor, device: str) -> np.ndarray:
    """(N, layers, heads) focus of each text (see the module docstring)."""
    out, start = [], 0
    for batch, att in attentions(model, enc, device):
        keep = content[start:start + len(batch)][:, :batch.input_ids.shape[1]].to(device).float()
        start += len(batch)
        a = torch.stack(att, dim=1)                                   # (B, layers, H, L, L)
        pair = keep[:, :, None] * keep[:, None, :]
        pair = pair * (1 - torch.eye(pair.shape[-1], device=device))  # i != j
        received = (a * pair[:, None, None]).sum(dim=-2) / pair.sum(dim=-2).clamp(min=1)[:, None, None]
        out.append(received.max(dim=-1).values.cpu())
    return torch.cat(out).numpy()


@dataclass
class AttentionCheck:
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sd: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def fit(self, clean_focus: np.ndarray) -> "AttentionCheck":
        self.mean = clean_focus.mean(axis=0)
        self.sd = np.maximum(clean_focus.std(axis=0), 1e-6)
        return self

    def score(self, focus: np.ndarray) -> np.ndarray:
        return ((focus - self.mean) / self.sd).reshape(len(focus), -1).max(axis=1)


def token_focus(model, enc: Encoded, device: str) -> np.ndarray:
    """(layers, heads) mean attention paid to the ``trigger_mask`` tokens of ``enc``, over its texts."""
    total, n = None, 0
    for batch, att in attentions(model, enc, device):
        if not bool(batch.trigger_mask.any()):
            continue
        rows = int(batch.trigger_mask.any(dim=1).sum())
        part = trigger_attention(att, batch.trigger_mask, batch.attention_mask).cpu().numpy() * rows
        total, n = (part if total is None else total + part), n + rows
    return total / n if n else np.zeros(0)
