"""PGD, SAP, the ART cross-check and the new-examples techniques on a small ECG classifier that
is really trained on generated ECG-like records (regular rhythm vs AF-like irregular rhythm)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fixtures.publishers import synthetic_ecg
from medrobust.core.seeding import make_rng, torch_generator
from medrobust.data.challenge2017 import EcgSet, crop_or_pad
from medrobust.ecg import new_examples
from medrobust.ecg.art_pgd import ArtPGD
from medrobust.ecg.model import ModelConfig
from medrobust.ecg.pgd import PGD
from medrobust.ecg.sap import SAP, smooth, smoothing_kernel
from medrobust.ecg.smoothness import hf_energy_fraction, total_variation
from medrobust.ecg.train import TrainConfig, predict_proba, train_classifier

FS, CROP = 300, 900  # 3 s crops keep the test in seconds
SMALL = ModelConfig(n_blocks=2, width=8, kernel_size=9, stem_stride=4, dropout=0.0)


def ecg_set(labels: list[str], seed: int) -> EcgSet:
    rng = np.random.default_rng(seed)
    signals = [synthetic_ecg(label, int(rng.integers(CROP - 150, CROP + 300)), rng) for label in labels]
    lengths = np.array([len(s) for s in signals])
    return EcgSet(signal=np.concatenate(signals), offsets=np.r_[0, np.cumsum(lengths)].astype(np.int64),
                  label=np.array(labels), record=np.array([f"A{i:05d}" for i in range(len(labels))]), fs=FS)


@pytest.fixture(scope="module")
def trained(one_thread):
    """A classifier trained for real (a few seconds), and held-out ECGs it gets right."""
    torch.manual_seed(0)
    train = ecg_set(["N", "A"] * 80, seed=1)
    model = train_classifier(train, CROP, SMALL, TrainConfig(epochs=12, batch_size=32, lr=1e-2),
                             make_rng(0, "crops"), torch_generator(0, "order"))
    test = ecg_set(["N", "A"] * 24, seed=2)
    x = crop_or_pad(test, CROP)
    y = np.array([0 if label == "N" else 1 for label in test.label])
    pred = predict_proba(model, x).argmax(1)
    length = np.minimum(test.lengths, CROP)
    keep = pred == y
    mask = (np.arange(CROP)[None, :] < length[:, None]).astype(np.float32)
    return model, torch.from_numpy(x[keep]), torch.from_numpy(y[keep]), torch.from_numpy(mask[keep]), \
        float(keep.mean())


def test_the_model_learns_the_rhythms(trained):
    *_, accuracy = trained
    assert accuracy >= 0.85


def test_a_trained_model_flips_under_pgd_and_sap(trained):
    model, x, y, mask, _ = trained
    pgd = PGD(model, eps=100.0, step=10.0, steps=20)
    d_pgd = pgd.perturbation(x, y, mask)
    d_sap = SAP(model, eps=100.0, step=10.0, pgd_steps=20, steps=40).perturbation(x, y, mask, start=d_pgd)
    flip_pgd = (predict_proba(model, x + d_pgd).argmax(1) != y.numpy()).mean()
    flip_sap = (predict_proba(model, x + d_sap).argmax(1) != y.numpy()).mean()
    assert flip_pgd >= 0.5 and flip_sap >= 0.5
    # A perturbation of the same size but random sign barely moves the model: the gradient matters.
    noise = (torch.randint(0, 2, x.shape, generator=torch_generator(0, "noise")) * 2 - 1) * 100.0 * mask
    assert (predict_proba(model, x + noise).argmax(1) != y.numpy()).mean() < flip_pgd


def test_both_attacks_respect_eps_and_leave_the_padding_at_zero(trained):
    model, x, y, mask, _ = trained
    mask = mask.clone()
    mask[:, -100:] = 0  # pretend every record ends 100 samples early
    for eps in (1.0, 10.0):
        d_pgd = PGD(model, eps, eps / 4, 5).perturbation(x, y, mask)
        d_sap = SAP(model, eps, eps / 4, 5, 5).perturbation(x, y, mask, start=d_pgd)
        for d in (d_pgd, d_sap):
            assert float(d.abs().max()) <= eps + 1e-4
            assert float(d[:, -100:].abs().max()) == 0.0
        assert float(d_pgd.abs().max()) == pytest.approx(eps)  # PGD uses its budget


def test_sap_is_smoother_than_pgd(trained):
    model, x, y, mask, _ = trained
    length = mask.sum(1).long().numpy()
    d_pgd = PGD(model, 10.0, 1.0, 20).perturbation(x, y, mask)
    d_sap = SAP(model, 10.0, 1.0, 20, 40).perturbation(x, y, mask, start=d_pgd)
    hf_pgd = hf_energy_fraction(d_pgd.numpy(), FS, 40.0, length)
    hf_sap = hf_energy_fraction(d_sap.numpy(), FS, 40.0, length)
    tv_pgd, tv_sap = total_variation(d_pgd.numpy(), length), total_variation(d_sap.numpy(), length)
    assert np.all(hf_sap < hf_pgd) and hf_sap.mean() < 0.1 * hf_pgd.mean()
    assert np.all(tv_sap < tv_pgd) and tv_sap.mean() < 0.3 * tv_pgd.mean()


def test_smoothness_measures_tell_square_waves_from_sines():
    t = np.arange(1500) / FS
    sine = np.sin(2 * np.pi * 2 * t)[None]
    square = np.sign(np.random.default_rng(0).standard_normal(1500))[None]
    assert hf_energy_fraction(sine, FS)[0] < 0.01 < 0.5 < hf_energy_fraction(square, FS)[0]
    assert total_variation(square)[0] > 10 * total_variation(sine)[0]
    assert total_variation(np.r_[sine[0, :750], np.zeros(750)][None], np.array([750]))[0] == pytest.approx(
        total_variation(sine[:, :750])[0])


def test_smoothing_kernel_is_a_centred_convex_combination():
    k = smoothing_kernel()
    assert len(k) == 19 and k.sum() == pytest.approx(1.0) and (k >= 0).all()
    assert np.allclose(k, k[::-1]) and k.argmax() == 9
    theta = torch.full((1, 200), 7.0)
    out = smooth(theta, torch.tensor(k, dtype=torch.float32))
    assert float(out[0, 20:-20].min()) == pytest.approx(7.0, abs=1e-4)  # a constant passes unchanged
    assert float(out[0, 0]) < 7.0  # zero padding at the ends


def test_art_pgd_matches_ours_on_the_same_model_and_inputs(trained):
    model, x, y, mask, _ = trained
    ours = PGD(model, 20.0, 2.0, 10).apply(x, y, mask).numpy()
    art = ArtPGD(model, 20.0, 2.0, 10).apply(x.numpy(), y.numpy(), mask.numpy())
    assert np.abs(art - x.numpy()).max() <= 20.0 + 1e-3
    agree = (predict_proba(model, ours).argmax(1) == predict_proba(model, art).argmax(1)).mean()
    assert agree >= 0.9
    assert np.mean(np.isclose(art, ours, atol=1e-2)) > 0.99


def test_new_examples_stay_in_budget_and_in_the_band(trained):
    model, x, y, mask, _ = trained
    gen = torch_generator(0, "new")
    kernel = torch.tensor(smoothing_kernel(), dtype=torch.float32)
    sap = SAP(model, 50.0, 5.0, 10, 10)
    a = sap.perturbation(x, y, mask)
    b = SAP(model, 50.0, 5.0, 10, 10, random_start=True).perturbation(x, y, mask, generator=gen)
    length = mask.sum(1).long()
    noisy = new_examples.noise_resmooth(a, 4, 50.0, kernel, mask, gen)
    banded = new_examples.band(a, b, 4, kernel, mask, gen)
    spliced = new_examples.splice(a, b, 4, length, gen)
    for cand in (noisy, banded, spliced):
        assert cand.shape == (len(x), 4, CROP)
        assert float(cand.abs().max()) <= 50.0 + 1e-3
        assert float((cand * (1 - mask[:, None, :])).abs().max()) == 0.0
    lo, hi = torch.minimum(a, b)[:, None, :], torch.maximum(a, b)[:, None, :]
    assert bool(((banded >= lo - 1e-4) & (banded <= hi + 1e-4)).all())
    assert torch.allclose(new_examples.correlation(a, a, mask), torch.ones(len(x)), atol=1e-4)
    assert bool((new_examples.correlation(a, -a, mask) < -0.99).all())
    counts = new_examples.count_adversarial(model, x, y, banded)
    assert counts.shape == (len(x),) and int(counts.max()) <= 4
    # Candidates from perturbations that fool the model mostly fool it too; from zero, never.
    zero = torch.zeros_like(a)
    assert int(new_examples.count_adversarial(model, x, y, new_examples.splice(zero, zero, 4, length, gen)).sum()) == 0
