"""The ecg defenses: filters, the high-frequency check, the learned detector, adversarial training
and randomized smoothing, on generated ECG-like records."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from fixtures.publishers import synthetic_ecg
from medrobust.core.metrics import auroc
from medrobust.core.seeding import make_rng, torch_generator
from medrobust.data.challenge2017 import EcgSet
from medrobust.ecg.adversarial_training import AdversarialTraining
from medrobust.ecg.hf_energy import HighFrequencyEnergy
from medrobust.ecg.learned_detector import LearnedDetector
from medrobust.ecg.model import ModelConfig, ResNet1d
from medrobust.ecg.pgd import PGD
from medrobust.ecg.preprocessing import LowpassFilter, MedianFilter, RunningMedian
from medrobust.ecg.randomized_smoothing import RandomizedSmoothing, SmoothedClassifier, max_radius
from medrobust.ecg.sap import smooth, smoothing_kernel
from medrobust.ecg.train import TrainConfig

FS, CROP = 300, 900
SMALL = ModelConfig(n_blocks=2, width=8, kernel_size=9, stem_stride=4, dropout=0.0)


def clean_ecgs(n: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.tensor(np.stack([synthetic_ecg("NA"[i % 2], CROP, rng) for i in range(n)]), dtype=torch.float32)


def square_and_smooth(n: int, eps: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A PGD-like sign pattern and a SAP-like smoothed one, both of size eps."""
    gen = torch.Generator().manual_seed(seed)
    square = (torch.randint(0, 2, (n, CROP), generator=gen) * 2 - 1).float() * eps
    kernel = torch.tensor(smoothing_kernel(), dtype=torch.float32)
    smooth_ = smooth(smooth(square, kernel), kernel)
    return square, smooth_ * eps / smooth_.abs().amax(dim=1, keepdim=True)


def test_lowpass_removes_square_waves_but_passes_smooth_perturbations():
    square, smooth_ = square_and_smooth(8, 10.0, 0)
    filt = LowpassFilter(FS, 40.0, 61).module()
    kept = {name: (filt(d).norm(dim=1) / d.norm(dim=1)).mean().item() for name, d in
            (("square", square), ("smooth", smooth_))}
    assert kept["square"] < 0.7 and kept["smooth"] > 0.9
    band = LowpassFilter(FS, 40.0, 301, low_hz=5.0).module()  # 301 taps resolve ~3.3 Hz at 300 Hz
    assert band(torch.ones(1, 1200))[0, 400:800].abs().max() < 0.05  # the band-pass drops DC


def test_median_filter_keeps_slow_signals_and_drops_spikes():
    t = torch.arange(CROP) / FS
    slow = torch.sin(2 * np.pi * 1.0 * t)[None] * 500
    spiky = slow.clone()
    spiky[0, ::50] += 300
    med = RunningMedian(5)
    assert (med(slow) - slow)[0, 5:-5].abs().max() < 5
    assert (med(spiky) - slow)[0, 5:-5].abs().max() < 25  # a spike of 300 becomes a neighbour (slope <= 11)
    model = MedianFilter(5).apply(torch.nn.Identity())
    assert torch.allclose(model(slow), med(slow))


def test_hf_energy_check_flags_square_waves_not_smooth_ones():
    clean = clean_ecgs(40, 1).numpy()
    square, smooth_ = square_and_smooth(40, 50.0, 2)
    check = HighFrequencyEnergy(FS, 40.0).fit(clean_ecgs(40, 3).numpy())
    labels = np.r_[np.zeros(40), np.ones(40)]
    s_clean = check.score(clean)
    assert auroc(labels, np.r_[s_clean, check.score(clean + square.numpy())]) > 0.95
    assert auroc(labels, np.r_[s_clean, check.score(clean + smooth_.numpy())]) < 0.75
    lengths = np.full(40, 600)
    assert np.allclose(check.score(clean, lengths), check.score(clean[:, :600]))


def test_learned_detector_learns_pgd_examples():
    torch.manual_seed(0)
    victim = ResNet1d(SMALL).eval()
    x = clean_ecgs(64, 4)
    y = victim(x).argmax(1).detach()
    detector = LearnedDetector(victim, (50.0,), 0.1, 5,
                               ModelConfig(n_blocks=1, width=8, kernel_size=9, stem_stride=1, dropout=0.0,
                                           n_classes=2), epochs=8, batch_size=16, lr=3e-3)
    detector.fit(x, y, torch.ones_like(x), torch_generator(0, "detector"))
    held = clean_ecgs(32, 5)
    adv = PGD(victim, 50.0, 5.0, 5).apply(held, victim(held).argmax(1).detach())
    scores = np.r_[detector.score(held), detector.score(adv)]
    assert auroc(np.r_[np.zeros(32), np.ones(32)], scores) > 0.8


def test_adversarial_training_replaces_a_share_of_each_batch_within_eps():
    model = ResNet1d(SMALL)
    x = clean_ecgs(8, 6)
    y = torch.zeros(8, dtype=torch.long)
    mask = torch.ones_like(x)
    out = AdversarialTraining(eps=10.0, steps=2, adversarial_share=0.5).augment(model.train(), x, y, mask)
    assert model.training  # the attack's eval mode is undone
    assert torch.equal(out[4:], x[4:])
    assert (out[:4] - x[:4]).abs().max() <= 10.0 + 1e-4 and (out[:4] != x[:4]).any()


class Constant(torch.nn.Module):
    def __init__(self, scores):
        super().__init__()
        self.config = ModelConfig(n_classes=len(scores))
        self.scores = torch.tensor(scores)

    def forward(self, x):
        return self.scores.expand(len(x), -1)


def test_certify_matches_cohen_for_a_constant_base_classifier():
    smoothed = SmoothedClassifier(Constant([0.0, 5.0, 0.0, 0.0]), sigma=20.0)
    x = torch.zeros(3, 100)
    pred, radius = smoothed.certify(x, 8, 200, 0.001, torch_generator(0, "cert"))
    assert (pred == 1).all()
    expected = 20.0 * stats.norm.ppf(0.001 ** (1 / 200))
    assert np.allclose(radius, expected) and expected == pytest.approx(max_radius(20.0, 200, 0.001))
    assert (smoothed.predict(x, 50, 0.001, torch_generator(0, "pred")) == 1).all()


def test_certify_abstains_when_the_base_classifier_is_a_coin():
    class Coin(torch.nn.Module):
        config = ModelConfig(n_classes=2)

        def forward(self, x):  # the sign of the noise at sample 0 decides the class
            return torch.stack([x[:, 0], -x[:, 0]], dim=1)

    smoothed = SmoothedClassifier(Coin(), sigma=1.0)
    pred, radius = smoothed.certify(torch.zeros(4, 10), 8, 100, 0.001, torch_generator(0, "coin"))
    assert (pred == -1).all() and (radius == 0).all()


def test_randomized_smoothing_fine_tunes_a_copy_with_noise():
    rng = np.random.default_rng(7)
    signals = [synthetic_ecg("NA"[i % 2], CROP, rng) for i in range(16)]
    train = EcgSet(signal=np.concatenate(signals), offsets=np.arange(17, dtype=np.int64) * CROP,
                   label=np.array(["N", "A"] * 8), record=np.array([f"A{i:05d}" for i in range(16)]), fs=FS)
    victim = ResNet1d(SMALL).eval()
    before = {k: v.clone() for k, v in victim.state_dict().items()}
    smoothed = RandomizedSmoothing(20.0, TrainConfig(epochs=1, batch_size=8)).apply(
        victim, (train, CROP), make_rng(0, "rs"), torch_generator(0, "rs"))
    assert smoothed.sigma == 20.0 and smoothed.base is not victim
    assert all(torch.equal(before[k], v) for k, v in victim.state_dict().items())  # the victim is untouched
    assert any(not torch.equal(before[k], v) for k, v in smoothed.base.state_dict().items())
