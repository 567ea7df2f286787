"""The attacker's surrogate models: a logistic regression and a one-hidden-layer ReLU MLP, in numpy.

The enhancement attacks of Rosenblatt et al. (arXiv 2301.01885) need the gradient of a model's loss
with respect to each subject's features. The attacker trains these surrogates on the data it is
altering (it holds all of it), full batch with Adam (Kingma & Ba, ICLR 2015) and L2 weight decay,
and re-trains them warm after each enhancement step so that the gradient follows the current data.
They mirror the victims' model families (:mod:`medrobust.enhancement.evaluation`) but are not the
victims' fitted models: the attacker never sees the victims' folds.

Written out in numpy (forward pass, backward pass and Adam in a few lines each) rather than torch:
at a few hundred subjects by ~200 features every step takes microseconds, and the study's jobs skip
torch's multi-second import, which would otherwise be most of their run time on a 2-core machine.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS = ("lr", "mlp")


@dataclass
class Surrogate:
    """``kind`` 'lr' (linear logit) or 'mlp' (``hidden`` ReLU units), trained on mean BCE + L2."""

    kind: str
    n_features: int
    hidden: int = 64
    lr: float = 0.01
    weight_decay: float = 1e-3
    seed: int = 0
    params: dict[str, np.ndarray] = field(init=False)
    _adam: dict[str, list[np.ndarray]] = field(init=False)
    _t: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown surrogate {self.kind!r}; use one of {KINDS}")
        rng = np.random.default_rng(self.seed)
        f = self.n_features
        if self.kind == "lr":
            self.params = {"w": np.zeros(f), "b": np.zeros(1)}
        else:  # uniform(+-1/sqrt(fan_in)) weights, torch's default for nn.Linear
            bound1, bound2 = 1 / np.sqrt(f), 1 / np.sqrt(self.hidden)
            self.params = {"w1": rng.uniform(-bound1, bound1, (f, self.hidden)), "b1": np.zeros(self.hidden),
                           "w2": rng.uniform(-bound2, bound2, self.hidden), "b2": np.zeros(1)}
        self._adam = {k: [np.zeros_like(v), np.zeros_like(v)] for k, v in self.params.items()}

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int) -> "Surrogate":
        """``epochs`` full-batch Adam steps, continuing from the current weights."""
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        for _ in range(epochs):
            grads = self._param_gradients(x, y)
            self._adam_step(grads)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(self._forward(np.asarray(x, np.float64))[0])

    def loss_gradient(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-subject BCE (N,) and its gradient with respect to that subject's features (N, F)."""
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        logit, hidden_pre = self._forward(x)
        dlogit = _sigmoid(logit) - y                                   # d BCE_i / d logit_i
        if self.kind == "lr":
            grad = dlogit[:, None] * self.params["w"][None, :]
        else:
            dpre = (dlogit[:, None] * self.params["w2"][None, :]) * (hidden_pre > 0)
            grad = dpre @ self.params["w1"].T
        return _bce(logit, y), grad

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        p = self.params
        if self.kind == "lr":
            return x @ p["w"] + p["b"][0], None
        pre = x @ p["w1"] + p["b1"]
        return np.maximum(pre, 0) @ p["w2"] + p["b2"][0], pre

    def _param_gradients(self, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        logit, pre = self._forward(x)
        dlogit = (_sigmoid(logit) - y) / len(y)                        # mean BCE
        p = self.params
        if self.kind == "lr":
            grads = {"w": x.T @ dlogit, "b": np.array([dlogit.sum()])}
        else:
            h = np.maximum(pre, 0)
            dpre = np.outer(dlogit, p["w2"]) * (pre > 0)
            grads = {"w1": x.T @ dpre, "b1": dpre.sum(axis=0), "w2": h.T @ dlogit, "b2": np.array([dlogit.sum()])}
        for k in grads:  # L2 on the weights, not the biases
            if k.startswith("w"):
                grads[k] = grads[k] + self.weight_decay * p[k]
        return grads

    def _adam_step(self, grads: dict[str, np.ndarray], b1: float = 0.9, b2: float = 0.999,
                   eps: float = 1e-8) -> None:
        self._t += 1
        for k, g in grads.items():
            m, v = self._adam[k]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            m_hat, v_hat = m / (1 - b1**self._t), v / (1 - b2**self._t)
            self.params[k] = self.params[k] - self.lr * m_hat / (np.sqrt(v_hat) + eps)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * z))  # overflow-free


def _bce(logit: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, logit) - y * logit
