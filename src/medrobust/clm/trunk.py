"""Cached frozen trunk: fine-tune the top blocks without re-running the frozen ones every epoch.

With ``training.trainable_layers`` set, the embeddings and the lower encoder blocks never change
while a victim (or a defender's fine-tuning) trains, so their output for a training text is the
same in every epoch. :func:`medrobust.clm.finetune.fit` then runs that trunk once per text, in
eval mode (so the frozen blocks apply no dropout: they act as a fixed feature extractor), and each
step runs only the trained blocks and the head. For MiniLM-L6 with two trained blocks a step drops
from six block forwards plus two block backwards to two plus two.

The trained blocks are called one by one with the additive padding mask that eager attention adds
to the scores, and their attention probabilities are read by forward hooks on the self-attention
modules, which return them as their second output (what transformers' own output recording reads).
``tests/test_clm_backdoor.py`` checks that the split forward gives the full model's logits and
attentions. Only the mean-pooling head (:class:`~medrobust.clm.finetune.MeanPoolClassifier`) is
split; other heads, and a BadCLM loss on a frozen block, run the whole model.
"""
from __future__ import annotations

import logging
from types import SimpleNamespace

import torch

log = logging.getLogger(__name__)
MAX_CACHE_BYTES = 4 * 2**30  # beyond this (paper-scale texts with frozen blocks) run the whole model


def encoder_layers(model) -> list:
    """The transformer blocks of a BERT-family classifier, bottom first."""
    return list(model.base_model.encoder.layer)


def cache_split(model, top_layers: int | None, badclm, enc) -> int:
    """Index of the first trained block when the trunk below it can be cached for ``enc``, else 0."""
    if top_layers is None or not hasattr(model, "head"):
        return 0
    split = max(len(encoder_layers(model)) - top_layers, 0)
    if badclm is not None and (badclm.layers is None or min(badclm.layers, default=0) < split):
        return 0  # the attention loss reads a frozen block's attention
    cache_bytes = 4 * enc.input_ids.numel() * model.base_model.config.hidden_size
    if cache_bytes > MAX_CACHE_BYTES:
        log.info("trunk cache of %.1f GiB too large: running the whole model each step", cache_bytes / 2**30)
        return 0
    return split


def additive_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, 1, 1, L): 0 on real tokens, the dtype's minimum on padding, as eager attention adds it."""
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def run_blocks(blocks, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = additive_mask(attention_mask, hidden.dtype)
    for block in blocks:
        out = block(hidden, mask)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


@torch.no_grad()
def trunk_states(model, enc, split: int, device: str, batch_size: int = 64) -> torch.Tensor:
    """(N, L, H) output of the embeddings and the blocks below ``split``, in eval mode, on ``device``."""
    was_training = model.training
    model.eval()
    parts = []
    for start in range(0, len(enc), batch_size):
        ids = enc.input_ids[start:start + batch_size].to(device)
        mask = enc.attention_mask[start:start + batch_size].to(device)
        hidden = model.base_model.embeddings(input_ids=ids)
        parts.append(run_blocks(encoder_layers(model)[:split], hidden, mask))
    model.train(was_training)
    return torch.cat(parts)


def top_forward(model, hidden: torch.Tensor, attention_mask: torch.Tensor, split: int,
                output_attentions: bool = False) -> SimpleNamespace:
    """Trained blocks and head on trunk states; ``attentions`` has 0-d placeholders for frozen blocks."""
    blocks = encoder_layers(model)[split:]
    captured: list[torch.Tensor] = []
    hooks = [b.attention.self.register_forward_hook(lambda m, i, o: captured.append(o[1]))
             for b in blocks] if output_attentions else []
    try:
        hidden = run_blocks(blocks, hidden, attention_mask)
    finally:
        for hook in hooks:
            hook.remove()
    attentions = (hidden.new_zeros(()),) * split + tuple(captured) if output_attentions else None
    return SimpleNamespace(logits=model.head(hidden, attention_mask), attentions=attentions)
