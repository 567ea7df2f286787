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

Every model of a clm job starts from the same pre-trained encoder and trains only its top blocks,
so a text's trunk states are the same for the clean victim, every poisoned victim and every
defender's model. :class:`TrunkCache` keeps them per text (keyed by a hash of its word-piece ids),
computes only the texts it has not seen, and can be written once for the whole corpus (rule
``clm_trunk``) and read by every job: a job then runs the frozen blocks only for the texts that
are new to it (its poisoned training texts, ONION's filtered and STRIP's perturbed texts).
"""
from __future__ import annotations

import hashlib
import logging
import os
from types import SimpleNamespace

import numpy as np
import torch

from medrobust.core.io import read_npz, write_npz

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
    mask, real = additive_mask(attention_mask, hidden.dtype), attention_mask.bool()
    for block in blocks:
        if all(hasattr(block, part) for part in ("attention", "intermediate", "output")):
            hidden = packed_block(block, hidden, mask, real)
        else:
            out = block(hidden, mask)
            hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def packed_block(block, hidden: torch.Tensor, mask: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """A BERT block (``BertLayer.forward``: self-attention, then the feed-forward on its output) with
    the feed-forward run on the real tokens only. It acts token by token, so padding (about a sixth
    of the positions in a random batch of the graded texts) would cost time and change nothing;
    the feed-forward is two thirds of a block's work. Padding positions come out as zeros."""
    attended = block.attention(hidden, mask)[0]
    tokens = attended[real]
    return attended.new_zeros(attended.shape).index_put(real.nonzero(as_tuple=True),
                                                        block.output(block.intermediate(tokens), tokens))


@torch.no_grad()
def trunk_states(model, enc, split: int, device: str, batch_size: int = 64) -> torch.Tensor:
    """(N, L, H) output of the embeddings and the blocks below ``split``, in eval mode, on ``device``.

    Padding positions hold no meaning (attention masks padded keys, pooling skips padded queries)."""
    was_training = model.training
    model.eval()
    out = torch.zeros(len(enc), enc.input_ids.shape[1], model.base_model.config.hidden_size, device=device)
    order = np.argsort(enc.attention_mask.sum(dim=1).numpy(), kind="stable")  # similar lengths, little padding
    for start in range(0, len(enc), batch_size):
        index = order[start:start + batch_size]
        batch = enc.batch(index).to(device)  # cut to its longest text
        hidden = model.base_model.embeddings(input_ids=batch.input_ids)
        out[torch.as_tensor(index, device=device), :hidden.shape[1]] = run_blocks(
            encoder_layers(model)[:split], hidden, batch.attention_mask)
    model.train(was_training)
    return out


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


def frozen_blocks(model, top_layers: int | None) -> int:
    """Blocks below the trained ones (0: nothing frozen, or a head that cannot be split off)."""
    if top_layers is None or not hasattr(model, "head"):
        return 0
    return max(len(encoder_layers(model)) - top_layers, 0)


class TrunkCache:
    """Trunk states (output of the blocks below ``split``, eval mode) of texts, keyed by their ids.

    The key is a hash of a text's word-piece ids (after truncation), so a cache file holds no text.
    ``states(model, enc)`` returns (N, L, H) states for an :class:`~medrobust.clm.finetune.Encoded`
    batch (zeros on padding), running the trunk of ``model`` only on the texts not yet cached.
    The caller vouches that ``model``'s trunk is the one the cache was built from (a job's models
    all share the frozen pre-trained trunk); :func:`read_trunk` spot-checks that on one text.
    """

    def __init__(self, split: int):
        if split < 1:
            raise ValueError(f"a trunk cache needs at least one frozen block (split {split})")
        self.split = split
        self.store: dict[bytes, torch.Tensor] = {}
        self.computed = 0  # texts whose trunk this cache ran (not read from a file)

    def __len__(self) -> int:
        return len(self.store)

    @staticmethod
    def keys(enc) -> list[bytes]:
        lengths = enc.attention_mask.sum(dim=1).tolist()
        ids = enc.input_ids.numpy().astype(np.int32)
        return [hashlib.blake2b(ids[i, :n].tobytes(), digest_size=16).digest() for i, n in enumerate(lengths)]

    def states(self, model, enc, device: str) -> torch.Tensor:
        keys = self.keys(enc)
        self.add(model, enc, keys, device)
        out = torch.zeros(len(enc), enc.input_ids.shape[1], model.base_model.config.hidden_size)
        for i, key in enumerate(keys):
            state = self.store[key]
            out[i, :len(state)] = state
        return out.to(device)

    def add(self, model, enc, keys: list[bytes], device: str) -> None:
        first: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            if key not in self.store:
                first.setdefault(key, i)
        if not first:
            return
        missing = enc.batch(np.fromiter(first.values(), dtype=np.int64))
        states = trunk_states(model, missing, self.split, device).cpu()
        for j, (key, n) in enumerate(zip(first, missing.attention_mask.sum(dim=1).tolist())):
            self.store[key] = states[j, :n].clone()
        self.computed += len(first)

    def write(self, path: str | os.PathLike, model_name: str) -> None:
        keys = list(self.store)
        states = [self.store[k] for k in keys]
        write_npz(path, split=np.array(self.split), model=np.array(model_name),
                  keys=np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 16),
                  lengths=np.array([len(s) for s in states], dtype=np.int64),
                  states=(torch.cat(states).numpy() if states else np.zeros((0, 0), dtype=np.float32)))


def write_no_trunk(path: str | os.PathLike, model_name: str) -> None:
    """A trunk file that holds nothing (nothing frozen, or text that must not be stored)."""
    write_npz(path, split=np.array(0), model=np.array(model_name))


def read_trunk(path: str | os.PathLike, model, model_name: str, split: int, enc, device: str) -> TrunkCache | None:
    """The cache written to ``path`` (None if it holds nothing); ``enc``'s first text is recomputed
    with ``model`` to check that the states are its trunk's."""
    data = read_npz(path)
    if str(data["model"]) != model_name:
        raise ValueError(f"{path}: trunk states of model {str(data['model'])!r}; this job loads {model_name!r}")
    if int(data["split"]) == 0:
        return None
    if int(data["split"]) != split:
        raise ValueError(f"{path}: trunk states below block {int(data['split'])}; this job freezes the blocks "
                         f"below {split} (rerun rule clm_trunk)")
    cache = TrunkCache(split)
    states = torch.from_numpy(data["states"])
    ends = np.cumsum(data["lengths"])
    for key, start, end in zip(data["keys"], ends - data["lengths"], ends):
        cache.store[key.tobytes()] = states[start:end]
    probe = enc.batch(np.arange(1))
    key = TrunkCache.keys(probe)[0]
    if key in cache.store:
        fresh = trunk_states(model, probe, split, device)[0, :len(cache.store[key])].cpu()
        if not torch.allclose(fresh, cache.store[key], atol=1e-4, rtol=1e-3):
            raise ValueError(f"{path}: cached trunk states differ from this model's (max difference "
                             f"{float((fresh - cache.store[key]).abs().max()):.2g}); rerun rule clm_trunk")
    return cache
