"""The four victim mortality models of Joe et al. 2022 (LR, MLP, LSTM, GRU), in torch.

All four are torch modules so that every defense (penultimate activations, fine-tuning,
fine-pruning) has one code path. Training: Adam, class weighting through BCE ``pos_weight``
= negatives/positives of the victim's training labels, decision threshold 0.5. How long a victim
trains is decided by its caller (:mod:`medrobust.ehr.experiment`): a :class:`Trainer` runs one
epoch at a time, so a job can train until a stated criterion holds and can take the clean
victim to exactly the same epoch (same initial weights, same batch order).

* ``lr``: one linear layer on the summary features (:mod:`medrobust.ehr.preprocess`); it has no
  hidden layer, so its "penultimate activations" are its input features.
* ``mlp``: summary features -> 128 -> ``hidden`` (penultimate) -> 1, ReLU, dropout 0.2.
* ``lstm`` / ``gru``: ``layers`` recurrent layers of ``hidden`` units (optionally bidirectional,
  with ``dropout`` between layers) over the hourly imputed values and mask; the output at the last
  hour joined with the statics -> 32 (penultimate) -> 1. ``layers: 2, bidirectional: true,
  hidden: 16, dropout: 0.3`` is the LSTM of the authors' earlier code (``mimic3_td_backdoor``,
  ``model_torch.py``: ``LSTMRegressor``, which also reads ``on[:, -1, :]``, the last hour's output
  of both directions).

Each module applies ``unit_mask`` to its penultimate units (all ones unless fine-pruning cut some).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from medrobust.ehr.preprocess import FeatureScaler, Stays, sequence_inputs, summary_features

SEQUENCE_MODELS = ("lstm", "gru")
FEATURE_MODELS = ("lr", "mlp")


class LinearModel(nn.Module):
    def __init__(self, n_in: int):
        super().__init__()
        self.out = nn.Linear(n_in, 1)
        self.register_buffer("unit_mask", torch.ones(n_in))

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.unit_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.penultimate(x)).squeeze(-1)


class MLP(nn.Module):
    def __init__(self, n_in: int, hidden: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, 128), nn.ReLU(), nn.Dropout(0.2),
                                  nn.Linear(128, hidden), nn.ReLU())
        self.out = nn.Linear(hidden, 1)
        self.register_buffer("unit_mask", torch.ones(hidden))

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) * self.unit_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.penultimate(x)).squeeze(-1)


class Recurrent(nn.Module):
    def __init__(self, cell: str, n_in: int, n_static: int, hidden: int, head: int = 32, layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0):
        super().__init__()
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(n_in, hidden, num_layers=layers, batch_first=True,
                                                           bidirectional=bidirectional,
                                                           dropout=dropout if layers > 1 else 0.0)
        self.hidden = hidden * (2 if bidirectional else 1)
        self.head = nn.Sequential(nn.Linear(self.hidden + n_static, head), nn.ReLU())
        self.out = nn.Linear(head, 1)
        self.register_buffer("unit_mask", torch.ones(head))

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        # Sequence inputs arrive flattened with the statics appended: (N, T*C + S).
        seq, static = self._unflatten(x)
        out, _ = self.rnn(seq)
        return self.head(torch.cat([out[:, -1], static], dim=1)) * self.unit_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.penultimate(x)).squeeze(-1)

    def _unflatten(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n_seq = x.shape[1] - self.n_static
        return x[:, :n_seq].reshape(len(x), -1, self.rnn.input_size), x[:, n_seq:]

    @property
    def n_static(self) -> int:
        return self.head[0].in_features - self.hidden


@dataclass
class TrainConfig:
    """One model's training recipe (``ehr.training.<model>`` of the config).

    ``epochs``: the epochs every victim trains at least; ``max_epochs``: the cap up to which a
    poisoned victim keeps training until it fits its poison (0: no continuation, ``epochs`` only).
    """

    epochs: int
    lr: float
    batch_size: int = 256
    weight_decay: float = 1e-4
    hidden: int = 64
    max_epochs: int = 0
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0

    @property
    def cap(self) -> int:
        return max(self.epochs, self.max_epochs)


@dataclass
class Victim:
    """A trained model with the input pipeline it was trained with."""

    kind: str
    net: nn.Module
    imputation: str
    clip_z: float
    use_mask: bool = True
    scaler: FeatureScaler | None = None
    device: str = "cpu"
    history: list[float] = field(default_factory=list)

    def raw_inputs(self, stays: Stays) -> np.ndarray:
        """Per-stay inputs before scaling and statics: summary features, or the flattened sequence.

        Row i depends on stay i only, so a job can reuse the rows of untouched stays.
        """
        return raw_inputs(self.kind, stays, self.imputation, self.clip_z, self.use_mask)

    def inputs(self, stays: Stays, raw: np.ndarray | None = None) -> np.ndarray:
        """Flat float32 model inputs (``raw`` may hold :meth:`raw_inputs` of ``stays`` already)."""
        raw = self.raw_inputs(stays) if raw is None else raw
        if self.kind in FEATURE_MODELS:
            if self.scaler is None:
                self.scaler = FeatureScaler.fit(raw)
            raw = self.scaler.transform(raw)
        return np.concatenate([raw, stays.static], axis=1).astype(np.float32)


def raw_inputs(kind: str, stays: Stays, imputation: str, clip_z: float, use_mask: bool) -> np.ndarray:
    if kind in FEATURE_MODELS:
        return summary_features(stays, imputation, clip_z, use_mask)
    seq = sequence_inputs(stays, imputation, clip_z, use_mask)
    return seq.reshape(len(seq), -1)


def build_victim(kind: str, stays: Stays, cfg: TrainConfig, imputation: str, clip_z: float,
                 use_mask: bool, device: str, raw: np.ndarray | None = None) -> tuple[Victim, np.ndarray]:
    """An untrained victim for ``kind`` and its (scaler-fitting) inputs for ``stays``."""
    victim = Victim(kind, nn.Identity(), imputation, clip_z, use_mask, device=device)
    x = victim.inputs(stays, raw)
    if kind == "lr":
        net = LinearModel(x.shape[1])
    elif kind == "mlp":
        net = MLP(x.shape[1], cfg.hidden)
    elif kind in SEQUENCE_MODELS:
        channels = stays.values.shape[2] * (2 if use_mask else 1)
        net = Recurrent(kind, channels, stays.static.shape[1], cfg.hidden, layers=cfg.layers,
                        bidirectional=cfg.bidirectional, dropout=cfg.dropout)
    else:
        raise ValueError(f"unknown model {kind!r}; use one of lr, mlp, lstm, gru")
    victim.net = net.to(device)
    return victim, x


def train_victim(kind: str, stays: Stays, y: np.ndarray, cfg: TrainConfig, imputation: str,
                 clip_z: float, seed: int, use_mask: bool = True, device: str = "cpu",
                 raw: np.ndarray | None = None, epochs: int | None = None) -> Victim:
    """Train a fresh victim on ``stays`` with labels ``y`` for ``epochs`` (default ``cfg.epochs``).

    ``raw``: the stays' :meth:`Victim.raw_inputs`, when the caller has them already.
    """
    trainer = Trainer.start(kind, stays, y, cfg, imputation, clip_z, seed, use_mask, device, raw)
    trainer.run_to(cfg.epochs if epochs is None else epochs)
    return trainer.victim


@dataclass
class Trainer:
    """Class-weighted BCE training of one victim, one epoch at a time (resumable).

    Training ``a`` epochs and then ``b`` more gives exactly the weights of ``a + b`` epochs in one
    go: the optimiser and the batch-order generator carry on.
    """

    victim: Victim
    x: torch.Tensor
    y: torch.Tensor
    opt: torch.optim.Optimizer
    gen: torch.Generator
    pos_weight: torch.Tensor
    batch_size: int

    @classmethod
    def start(cls, kind: str, stays: Stays, y: np.ndarray, cfg: TrainConfig, imputation: str, clip_z: float,
              seed: int, use_mask: bool = True, device: str = "cpu", raw: np.ndarray | None = None) -> "Trainer":
        torch.manual_seed(seed)
        victim, x = build_victim(kind, stays, cfg, imputation, clip_z, use_mask, device, raw)
        return cls.on(victim, x, y, cfg.lr, cfg.batch_size, cfg.weight_decay, seed)

    @classmethod
    def on(cls, victim: Victim, x: np.ndarray, y: np.ndarray, lr: float, batch_size: int, weight_decay: float,
           seed: int) -> "Trainer":
        y = np.asarray(y, dtype=np.float32)
        n_pos = float(y.sum())
        pos_weight = torch.tensor((len(y) - n_pos) / max(n_pos, 1.0), device=victim.device)
        opt = torch.optim.Adam(victim.net.parameters(), lr=lr, weight_decay=weight_decay, foreach=True)
        return cls(victim, torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y), opt,
                   torch.Generator().manual_seed(seed), pos_weight, batch_size)

    @property
    def epochs(self) -> int:
        return len(self.victim.history)

    def epoch(self) -> None:
        net, dev = self.victim.net, self.victim.device
        net.train()
        order = torch.randperm(len(self.y), generator=self.gen)
        total = 0.0
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            logits = net(self.x[idx].to(dev))
            loss = nn.functional.binary_cross_entropy_with_logits(logits, self.y[idx].to(dev),
                                                                  pos_weight=self.pos_weight)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            total += float(loss.detach()) * len(idx)
        self.victim.history.append(total / len(self.y))
        net.eval()

    def run_to(self, epochs: int) -> None:
        while self.epochs < epochs:
            self.epoch()

    def snapshot(self) -> Victim:
        """A frozen copy of the victim as it is now."""
        return copy.deepcopy(self.victim)


def fit_epochs(victim: Victim, x: np.ndarray, y: np.ndarray, epochs: int, lr: float,
               batch_size: int, weight_decay: float, seed: int) -> None:
    """Class-weighted BCE training of ``victim.net`` for ``epochs`` passes (in place, a fresh optimiser)."""
    history = victim.history
    victim.history = []
    Trainer.on(victim, x, y, lr, batch_size, weight_decay, seed).run_to(epochs)
    victim.history = history + victim.history


@torch.no_grad()
def predict_logits(victim: Victim, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Logits of ``victim`` on already-built model inputs ``x`` (:meth:`Victim.inputs`)."""
    return _batched(victim, x, victim.net, batch_size)


@torch.no_grad()
def predict_proba(victim: Victim, stays: Stays, batch_size: int = 1024, raw: np.ndarray | None = None) -> np.ndarray:
    """P(death) for each stay (``raw``: the stays' :meth:`Victim.raw_inputs`, if at hand)."""
    return _batched(victim, victim.inputs(stays, raw), lambda xb: torch.sigmoid(victim.net(xb)), batch_size)


@torch.no_grad()
def penultimate(victim: Victim, stays: Stays, batch_size: int = 1024, raw: np.ndarray | None = None) -> np.ndarray:
    """Activations of the layer before the output (the input features for LR)."""
    return _batched(victim, victim.inputs(stays, raw), victim.net.penultimate, batch_size)


def _batched(victim: Victim, x: np.ndarray, fn, batch_size: int) -> np.ndarray:
    victim.net.eval()
    xt = torch.from_numpy(np.ascontiguousarray(x))
    parts = [fn(xt[i:i + batch_size].to(victim.device)).cpu().numpy() for i in range(0, len(xt), batch_size)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0,), np.float32)
