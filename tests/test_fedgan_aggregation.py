"""Aggregation rules of the fedgan study on hand-computed tensors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from medrobust.fedgan.robust_aggregation import aggregate, coordinate_median, krum, krum_scores, trimmed_mean


def _states(*rows):
    return [{"w": torch.tensor(r, dtype=torch.float32), "n": torch.tensor(i, dtype=torch.int64)}
            for i, r in enumerate(rows)]


def test_coordinate_median_odd_and_even():
    odd = torch.tensor([[1.0, 9.0], [3.0, -1.0], [2.0, 4.0]])
    assert coordinate_median(odd).tolist() == [2.0, 4.0]
    even = torch.tensor([[1.0, 10.0], [4.0, 0.0], [2.0, 2.0], [100.0, 3.0]])
    assert coordinate_median(even).tolist() == [3.0, 2.5]  # mean of the two middle values


def test_trimmed_mean_drops_extremes_per_coordinate():
    values = torch.tensor([[0.0, 5.0], [1.0, -50.0], [2.0, 6.0], [3.0, 7.0], [100.0, 8.0]])
    # trim 1 of 5 each side: coordinate 0 keeps 1,2,3 -> 2; coordinate 1 keeps 5,6,7 -> 6
    assert trimmed_mean(values, 0.2).tolist() == [2.0, 6.0]
    assert trimmed_mean(values, 0.0).tolist() == pytest.approx([21.2, -4.8])
    four = torch.tensor([[1.0], [2.0], [3.0], [50.0]])
    assert trimmed_mean(four, 0.25).tolist() == coordinate_median(four).tolist() == [2.5]
    with pytest.raises(ValueError):
        trimmed_mean(four, 0.5)


def test_krum_scores_and_choice_by_hand():
    points = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [10.0, 10.0]])
    # n=4, f=1 -> n-f-2 = 1 nearest neighbour; squared distances:
    # 0: to 1 -> 1, to 2 -> 4; 1: to 0 -> 1; 2: to 0 -> 4, to 1 -> 5; 3: to 2 -> 164, to 1 -> 181
    assert krum_scores(points, 1).tolist() == pytest.approx([1.0, 1.0, 4.0, 164.0])
    # f=0 -> 2 neighbours: 0: 1+4=5; 1: 1+5=6; 2: 4+5=9; 3: 164+181=345
    assert krum_scores(points, 0).tolist() == pytest.approx([5.0, 6.0, 9.0, 345.0])
    state, weights = krum(_states(*points.tolist()), n_byzantine=0)
    assert state["w"].tolist() == [0.0, 0.0] and weights.tolist() == [1, 0, 0, 0]
    state, weights = krum(_states(*points.tolist()), n_byzantine=0, multi=2)
    assert state["w"].tolist() == [0.5, 0.0] and weights.tolist() == [0.5, 0.5, 0, 0]


def test_fedavg_weights_and_integer_buffers():
    states = _states([0.0, 4.0], [2.0, 0.0], [100.0, 100.0])
    state, weights = aggregate("fedavg", states, weights=[1, 3, 0])
    assert state["w"].tolist() == [1.5, 1.0]
    assert weights.tolist() == [0.25, 0.75, 0.0]
    assert state["n"].item() == 0 and state["n"].dtype == torch.int64  # copied from the first client
    state, weights = aggregate("median", states)
    assert state["w"].tolist() == [2.0, 4.0] and np.isnan(weights).all()
    with pytest.raises(ValueError):
        aggregate("fedavg", states, weights=[0, 0, 0])
    with pytest.raises(ValueError):
        aggregate("bulyan", states)


def test_robust_rules_resist_one_outlier_that_fedavg_follows():
    honest = [[1.0, 1.0], [1.1, 0.9], [0.9, 1.1]]
    states = _states(*honest, [1000.0, -1000.0])
    for rule in ("median", "trimmed_mean", "krum"):
        state, _ = aggregate(rule, states, trim_ratio=0.25, n_byzantine=1)
        assert torch.allclose(state["w"], torch.tensor([1.0, 1.0]), atol=0.1), rule
    assert aggregate("fedavg", states)[0]["w"][0].item() > 200
