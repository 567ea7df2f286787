"""Both FedDetect variants flag clients whose reported losses are clear outliers, and nobody when all are alike."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from medrobust.fedgan.cgan import GanShape
from medrobust.fedgan.feddetect import FedDetect, update_multipliers
from medrobust.fedgan.feddetect_authors import FedDetectAuthors
from medrobust.fedgan.federation import FederationConfig, Streams, run_federation, split_clients


def _reports(rng, k=4, window=3, centre=(0.9, 1.2), spread=0.02):
    return np.asarray(centre) * (1 + spread * rng.standard_normal((k, window, 2)))


def test_flags_a_clear_outlier_only():
    rng = np.random.default_rng(0)
    for trial in range(6):
        reports = _reports(rng)
        reports[2] = reports[2] * np.array([1.3, 0.7])  # generator loss up, discriminator loss down
        flags, scores = FedDetect().flag(reports, rng)
        assert flags.tolist() == [False, False, True, False], trial
        assert scores.argmax() == 2


def test_flags_nobody_when_all_alike():
    rng = np.random.default_rng(1)
    for _ in range(6):
        flags, _ = FedDetect().flag(_reports(rng), rng)
        assert not flags.any()
    identical = np.ones((4, 3, 2))
    assert not FedDetect().flag(identical, rng)[0].any()


def test_warmup_and_multipliers():
    det = FedDetect(warmup=3, window=2)
    assert [det.active(r) for r in range(5)] == [False, False, False, True, True]
    flags = np.array([False, True, False])
    m = update_multipliers(np.ones(3), flags, "downweight", 0.5)
    assert update_multipliers(m, flags, "downweight", 0.5).tolist() == [1.0, 0.25, 1.0]
    assert update_multipliers(np.ones(3), flags, "block", 0.5).tolist() == [1.0, 0.0, 1.0]


def test_split_iid_and_dirichlet_cover_every_image_once():
    labels = np.repeat([0, 1, 2], [300, 100, 50])
    rng = np.random.default_rng(0)
    for scheme in ("iid", "dirichlet"):
        parts = split_clients(labels, 4, scheme, rng, alpha=0.3, min_size=10)
        joined = np.sort(np.concatenate(parts))
        assert np.array_equal(joined, np.arange(len(labels)))
        assert min(len(p) for p in parts) >= 10
    iid = split_clients(labels, 4, "iid", rng)
    assert max(len(p) for p in iid) - min(len(p) for p in iid) <= 1


def test_federation_blocks_a_client_with_outlying_losses():
    """Real small training: a client whose images are all one constant is easy for its discriminator,
    so its losses stand apart; FedDetect must block it and leave the others' weights."""
    gen = torch.Generator().manual_seed(0)
    base = torch.nn.functional.avg_pool2d(torch.rand(4 * 64, 1, 28, 28, generator=gen) * 2 - 1, 3, 1, 1)
    labels = torch.arange(4 * 64) % 2
    data = [(base[k * 64:(k + 1) * 64], labels[k * 64:(k + 1) * 64]) for k in range(4)]
    data[3] = (torch.full((64, 1, 28, 28), 0.9), labels[:64])
    cfg = FederationConfig(rounds=4, batch_size=32, width=4, z_dim=8, lr=2e-3)
    streams = Streams(torch.Generator().manual_seed(1), torch.Generator().manual_seed(2), np.random.default_rng(3))
    log = run_federation(data, GanShape(1, 28, 2, z_dim=8, width=4), cfg, FedDetect(warmup=1, window=1, mode="block"),
                         streams, init_seed=4)
    assert log.flagged[:, 3].any() and not log.flagged[:, :3].any()
    assert log.weight[-1, 3] == 0.0 and np.allclose(log.weight[-1, :3], 1 / 3)
    assert np.isnan(log.detector_score[0]).all()  # nothing is scored during the warm-up


def test_authors_rule_flags_the_one_outlying_generator_loss():
    """The authors' rule reads |generator loss of the last batch|; one far-off client is an outlier."""
    det = FedDetectAuthors()
    losses = {"generator_loss_last": np.array([[0.70, -0.72, 0.71, 3.5]])}
    points = det.points(losses, 0)
    assert points.tolist() == [[0.0, 0.70], [0.0, 0.72], [0.0, 0.71], [0.0, 3.5]]
    flags, scores = det.flag(points, np.random.default_rng(0))
    assert flags.tolist() == [False, False, False, True] and scores.argmax() == 3


def test_authors_rule_acts_only_when_fewer_than_half_are_outliers():
    det = FedDetectAuthors()
    rng = np.random.default_rng(1)
    two_groups = np.column_stack([np.zeros(4), [0.1, 0.1, 5.0, 5.0]])  # 2 of 4 would be outliers at most
    flags, _ = det.flag(two_groups, rng)
    assert not flags.any()
    assert [det.active(r) for r in (9, 10, 11)] == [False, False, True]  # their `epoch > warmup`, 0-based


def test_authors_reweighting_compounds_decay_to_the_count():
    det = FedDetectAuthors(decay=0.9)
    flags = np.array([False, True, False, False])
    m, counts = det.reweight(np.ones(4), flags, np.zeros(4, dtype=int))
    m, counts = det.reweight(m, flags, counts)
    assert counts.tolist() == [0, 2, 0, 0]
    # after two flags the client keeps 0.9 ** (1 + 2) of a benign client's weight; mean multiplier 1
    assert m[1] / m[0] == pytest.approx(0.9**3) and m.mean() == pytest.approx(1.0)
    unchanged, same = det.reweight(m, np.zeros(4, dtype=bool), counts)
    assert np.allclose(unchanged, m) and same.tolist() == counts.tolist()


def test_federation_reweights_with_the_authors_rule():
    """Real small training with an outlying client: the authors' rule runs after its warm-up only."""
    gen = torch.Generator().manual_seed(0)
    base = torch.nn.functional.avg_pool2d(torch.rand(4 * 64, 1, 28, 28, generator=gen) * 2 - 1, 3, 1, 1)
    labels = torch.arange(4 * 64) % 2
    data = [(base[k * 64:(k + 1) * 64], labels[k * 64:(k + 1) * 64]) for k in range(4)]
    data[3] = (torch.full((64, 1, 28, 28), 0.9), labels[:64])
    cfg = FederationConfig(rounds=5, batch_size=32, width=4, z_dim=8, lr=2e-3)
    streams = Streams(torch.Generator().manual_seed(1), torch.Generator().manual_seed(2), np.random.default_rng(3))
    log = run_federation(data, GanShape(1, 28, 2, z_dim=8, width=4), cfg, FedDetectAuthors(warmup=1), streams,
                         init_seed=4)
    assert np.isnan(log.detector_score[:2]).all() and not np.isnan(log.detector_score[2:]).any()
    assert np.isfinite(log.generator_loss_last).all()
    for r in range(5):  # weights change only in rounds where someone is flagged
        if not log.flagged[r].any() and r > 0:
            assert np.allclose(log.multiplier[r], log.multiplier[r - 1])
    assert np.allclose(log.weight.sum(axis=1), 1.0)
