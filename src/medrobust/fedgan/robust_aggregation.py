"""Server-side aggregation rules: FedAvg and three Byzantine-robust alternatives.

* ``fedavg``: the weighted mean of the clients' parameters (McMahan et al., AISTATS 2017), weights
  proportional to local sample counts (times FedDetect's multipliers, when that defense runs).
* ``median``: the coordinate-wise median (Yin et al., ICML 2018); with an even number of clients
  the mean of the two middle values, as ``numpy.median`` (``torch.median`` would return the lower).
* ``trimmed_mean``: per coordinate, drop the ``floor(trim_ratio * n)`` largest and smallest values
  and average the rest (Yin et al. 2018). With 4 clients and ``trim_ratio`` 0.25 this equals the
  median; below 0.25 it is the plain mean.
* ``krum``: the client whose parameters have the smallest sum of squared distances to their
  ``n - f - 2`` nearest other clients, ``f`` the assumed number of Byzantine clients (Blanchard et
  al., NeurIPS 2017); ``multi > 1`` averages the ``multi`` best-scored clients (Multi-Krum).
  Krum's guarantee needs ``n > 2f + 2``; with 4 clients and ``f = 1`` it still runs (one
  neighbour each) without that guarantee.

Every rule takes the clients' ``state_dict``s (all keys, batch-norm statistics included, since
the clients start each round from the same global model a distance between models is a distance
between updates) and returns the aggregated state and each client's influence: its weight for
``fedavg`` and ``krum``, NaN for the coordinate-wise rules, where no client has a single weight.
Integer buffers (batch-norm counters) are copied from the first client.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import torch

RULES = ("fedavg", "median", "trimmed_mean", "krum")
State = Mapping[str, torch.Tensor]


def aggregate(rule: str, states: Sequence[State], weights: Sequence[float] | None = None,
              trim_ratio: float = 0.25, n_byzantine: int = 1, multi: int = 1) -> tuple[dict, np.ndarray]:
    if rule == "fedavg":
        return fedavg(states, weights)
    if rule == "median":
        return _per_coordinate(states, coordinate_median), np.full(len(states), np.nan)
    if rule == "trimmed_mean":
        return _per_coordinate(states, lambda s: trimmed_mean(s, trim_ratio)), np.full(len(states), np.nan)
    if rule == "krum":
        return krum(states, n_byzantine, multi)
    raise ValueError(f"unknown aggregation rule {rule!r}; known: {RULES}")


def fedavg(states: Sequence[State], weights: Sequence[float] | None = None) -> tuple[dict, np.ndarray]:
    w = np.ones(len(states)) if weights is None else np.asarray(weights, dtype=float)
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"FedAvg weights must be non-negative with a positive sum, got {w.tolist()}")
    w = w / w.sum()
    tw = torch.as_tensor(w, dtype=torch.float32)
    return _per_coordinate(states, lambda s: torch.tensordot(tw.to(s), s, dims=1)), w


def coordinate_median(stacked: torch.Tensor) -> torch.Tensor:
    """Median over dim 0 of ``(n_clients, ...)``; the mean of the two middle values when n is even."""
    ordered = stacked.sort(dim=0).values
    n = ordered.shape[0]
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def trimmed_mean(stacked: torch.Tensor, trim_ratio: float) -> torch.Tensor:
    """Mean over dim 0 after dropping the ``floor(trim_ratio * n)`` smallest and largest values."""
    n = stacked.shape[0]
    k = math.floor(trim_ratio * n)
    if not 0 <= trim_ratio < 0.5 or n - 2 * k < 1:
        raise ValueError(f"trim_ratio {trim_ratio} leaves no value of {n} clients")
    return stacked.sort(dim=0).values[k:n - k].mean(dim=0)


def krum_scores(flat: torch.Tensor, n_byzantine: int) -> torch.Tensor:
    """Krum score of each row of ``(n_clients, n_params)``: the sum of squared distances to its
    ``n - f - 2`` nearest other rows (at least one)."""
    n = flat.shape[0]
    dist = torch.cdist(flat.double(), flat.double()).pow(2)
    k = max(n - n_byzantine - 2, 1)
    if k > n - 1:
        raise ValueError(f"Krum needs more than {k} clients, got {n}")
    others = dist + torch.diag(torch.full((n,), float("inf"), dtype=dist.dtype, device=dist.device))
    return others.sort(dim=1).values[:, :k].sum(dim=1)


def krum(states: Sequence[State], n_byzantine: int = 1, multi: int = 1) -> tuple[dict, np.ndarray]:
    flat = torch.stack([_flatten(s) for s in states])
    chosen = krum_scores(flat, n_byzantine).argsort()[:multi].tolist()
    weights = np.zeros(len(states))
    weights[chosen] = 1.0 / len(chosen)
    return fedavg(states, weights)[0], weights


def _flatten(state: State) -> torch.Tensor:
    return torch.cat([v.detach().double().flatten() for v in state.values() if v.is_floating_point()])


def _per_coordinate(states: Sequence[State], reduce) -> dict:
    if not states:
        raise ValueError("no client states to aggregate")
    out = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            out[key] = reduce(torch.stack([s[key].detach() for s in states])).to(first.dtype)
        else:
            out[key] = first.clone()
    return out
