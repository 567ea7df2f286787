"""The four victim mortality models of Joe et al. 2022 (LR, MLP, LSTM, GRU), in torch.

All four are torch modules so that every defense (penultimate activations, fine-tuning,
fine-pruning) has one code path. Training: Adam, a fixed number of epochs with no early stopping
(the victim trains on its own, possibly poisoned, data for as long as the config says; how long
it trains is one of the things a backdoor depends on), class weighting through BCE ``pos_weight``
= negatives/positives of the victim's training labels, decision threshold 0.5.

* ``lr``: one linear layer on the summary features (:mod:`medrobust.ehr.preprocess`); it has no
  hidden layer, so its "penultimate activations" are its input features.
* ``mlp``: summary features -> 128 -> ``hidden`` (penultimate) -> 1, ReLU, dropout 0.2.
* ``lstm`` / ``gru``: one recurrent layer of ``hidden`` units over the hourly imputed values and
  mask; its last state joined with the statics -> 32 (penultimate) -> 1.

Each module applies ``unit_mask`` to its penultimate units (all ones unless fine-pruning cut some).
"""
from __future__ import annotations

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
    def __init__(self, cell: str, n_in: int, n_static: int, hidden: int, head: int = 32):
        super().__init__()
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(n_in, hidden, batch_first=True)
        self.hidden = hidden
        self.head = nn.Sequential(nn.Linear(hidden + n_static, head), nn.ReLU())
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
    epochs: int
    lr: float
    batch_size: int = 256
    weight_decay: float = 1e-4
    hidden: int = 64


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
        net = Recurrent(kind, channels, stays.static.shape[1], cfg.hidden)
    else:
        raise ValueError(f"unknown model {kind!r}; use one of lr, mlp, lstm, gru")
    victim.net = net.to(device)
    return victim, x


def train_victim(kind: str, stays: Stays, y: np.ndarray, cfg: TrainConfig, imputation: str,
                 clip_z: float, seed: int, use_mask: bool = True, device: str = "cpu",
                 raw: np.ndarray | None = None) -> Victim:
    """Train a fresh victim on ``stays`` with labels ``y`` (class-weighted, fixed epochs).

    ``raw``: the stays' :meth:`Victim.raw_inputs`, when the caller has them already.
    """
    torch.manual_seed(seed)
    victim, x = build_victim(kind, stays, cfg, imputation, clip_z, use_mask, device, raw)
    fit_epochs(victim, x, y, cfg.epochs, cfg.lr, cfg.batch_size, cfg.weight_decay, seed)
    return victim


def fit_epochs(victim: Victim, x: np.ndarray, y: np.ndarray, epochs: int, lr: float,
               batch_size: int, weight_decay: float, seed: int) -> None:
    """Class-weighted BCE training of ``victim.net`` for ``epochs`` passes (in place)."""
    y = np.asarray(y, dtype=np.float32)
    n_pos = float(y.sum())
    pos_weight = torch.tensor((len(y) - n_pos) / max(n_pos, 1.0), device=victim.device)
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(victim.net.parameters(), lr=lr, weight_decay=weight_decay, foreach=True)
    victim.net.train()
    for _ in range(epochs):
        order = torch.randperm(len(yt), generator=gen)
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            logits = victim.net(xt[idx].to(victim.device))
            loss = nn.functional.binary_cross_entropy_with_logits(
                logits, yt[idx].to(victim.device), pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        victim.history.append(total / len(yt))
    victim.net.eval()


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
