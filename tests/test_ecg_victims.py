"""The ecg victims and their data choices: Han et al.'s network (han2020) against its published
architecture, the attacked-ECG draw, oversampling, padding at both ends, and the attacks' padding
mask against the authors' zero-at-the-end."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fixtures.publishers import synthetic_ecg
from medrobust.core.seeding import make_rng, torch_generator
from medrobust.data.challenge2017 import EcgSet
from medrobust.ecg.model import ModelConfig, build_model, n_convs, n_parameters
from medrobust.ecg.pgd import PGD
from medrobust.ecg.sap import SAP, SIGMAS, SIZES
from medrobust.ecg.split import fit_length, left_align, stratified_draw, valid_mask
from medrobust.ecg.train import TrainConfig, epoch_records, predict_proba, train_classifier, train_config

FS = 300
HAN = ModelConfig(architecture="han2020")
# Han et al.'s model/CNN.py (github.com/XintianHan/ADV_ECG), written out: (in, out, kernel) of its 13
# convolutions (each with a bias and followed by a BatchNorm), and its linear layer 64 -> 4.
PUBLISHED_CONVS = [(1, 320, 24), (320, 256, 16), (256, 256, 16), (256, 256, 16), (256, 256, 16), (256, 128, 8),
                   (128, 128, 8), (128, 128, 8), (128, 128, 8), (128, 128, 8), (128, 128, 8), (128, 64, 8),
                   (64, 64, 8)]


def ecg_set(labels: list[str], lengths, seed: int) -> EcgSet:
    rng = np.random.default_rng(seed)
    signals = [synthetic_ecg(label, int(n), rng) for label, n in zip(labels, lengths)]
    return EcgSet(signal=np.concatenate(signals), offsets=np.r_[0, np.cumsum([len(s) for s in signals])].astype(np.int64),
                  label=np.array(labels), record=np.array([f"A{i:05d}" for i in range(len(labels))]), fs=FS)


def test_han2020_has_the_published_architecture():
    model = build_model(HAN)
    published = sum(i * o * k + o + 2 * o for i, o, k in PUBLISHED_CONVS) + 64 * 4 + 4
    assert n_parameters(model) == published == 5_486_916
    assert n_convs(HAN) == 13 and sum(isinstance(m, torch.nn.Conv1d) for m in model.modules()) == 13
    assert not any(isinstance(m, torch.nn.Conv1d) and m.kernel_size[0] == 1 for m in model.modules())  # no shortcuts
    # Three max-pools halve the time axis: 900 samples -> 899 (kernel 24, padding 11) -> 450 -> 225 -> 113.
    with torch.no_grad():
        assert model.eval().features(torch.zeros(2, 1, 900)).shape == (2, 64, 113)
        assert model(torch.zeros(2, 900)).shape == (2, 4)


def test_han2020_trains_on_generated_ecgs(one_thread):
    torch.manual_seed(0)
    labels = ["N", "~"] * 24
    train = ecg_set(labels, [250] * len(labels), seed=1)
    # Half-second crops keep the 5.5M-parameter network to seconds on a CPU; noisy vs normal
    # records differ at any length.
    model = train_classifier(train, 150, HAN, TrainConfig(epochs=4, batch_size=8, lr=3e-3),
                             make_rng(0, "crops"), torch_generator(0, "order"))
    test = ecg_set(["N", "~"] * 8, [150] * 16, seed=2)
    x, _, _ = fit_length(test, 150)
    accuracy = np.mean(predict_proba(model, x).argmax(1) == np.array([0, 3] * 8))
    assert type(model).__name__ == "Han2020CNN" and accuracy >= 0.75


def test_the_attacked_ecgs_are_a_stratified_draw_of_the_correct_ones():
    y = np.repeat([0, 1, 2, 3], [500, 100, 250, 50])
    correct = np.random.default_rng(0).random(len(y)) < np.array([0.9, 0.7, 0.6, 0.5])[y]
    pos = stratified_draw(y, 200, make_rng(1, "draw"), eligible=correct)
    assert len(pos) == 200 and len(set(pos)) == 200 and correct[pos].all()
    share = np.bincount(y[correct], minlength=4) / correct.sum()
    assert np.allclose(np.bincount(y[pos], minlength=4) / 200, share, atol=0.01)
    assert np.array_equal(pos, stratified_draw(y, 200, make_rng(1, "draw"), eligible=correct))
    assert not np.array_equal(pos, stratified_draw(y, 200, make_rng(2, "draw"), eligible=correct))
    assert np.array_equal(stratified_draw(y, 10_000, make_rng(1, "draw"), eligible=correct), np.flatnonzero(correct))


def test_oversampling_repeats_each_class_as_configured():
    y = np.array([0, 1, 2, 3, 1])
    visits = epoch_records(y, (1, 2, 1, 6))
    assert np.bincount(visits).tolist() == [1, 2, 1, 6, 2]
    assert train_config({"oversample": {"N": 1, "A": 2, "O": 1, "~": 6}}).oversample == (1, 2, 1, 6)
    with pytest.raises(ValueError, match="ecg.train.oversample"):
        epoch_records(y, (1, 0, 1, 1))


def test_padding_at_both_ends_centres_short_records():
    records = ecg_set(["N", "A"], [200, 500], seed=3)
    x, start, valid = fit_length(records, 300, padding="both")
    assert start.tolist() == [50, 0] and valid.tolist() == [200, 300]
    np.testing.assert_array_equal(x[0, 50:250], records.record_signal(0))
    assert not x[0, :50].any() and not x[0, 250:].any()
    mask = valid_mask(valid, 300, start)
    assert mask[0].sum() == 200 and mask[0, 50] == 1 and mask[0, 49] == 0
    np.testing.assert_array_equal(left_align(x, start)[0, :200], records.record_signal(0))
    x_end, start_end, _ = fit_length(records, 300, padding="end")
    assert start_end.tolist() == [0, 0] and not x_end[0, 200:].any()
    with pytest.raises(ValueError, match="ecg.padding"):
        fit_length(records, 300, padding="middle")


def authors_sap(model, x, y, eps, step, steps):
    """Han et al.'s create_adv_conv_train.py, restated: PGD on the whole input, then SAP on the
    average of 25 Gaussian-kernel convolutions, and the padding zeroed only at the very end (here:
    not at all, for records without padding)."""
    kernels = []
    for size in SIZES:
        for sigma in SIGMAS:
            w = np.exp(-(np.arange(size) - size // 2) ** 2 / 2.0 / sigma**2)
            kernels.append(torch.tensor(w / w.sum(), dtype=torch.float32).view(1, 1, -1))
    x, adv = x[:, None, :], x[:, None, :].clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(adv[:, 0]), y), adv)
        adv = (x + (adv + step * grad.sign() - x).clamp(-eps, eps)).detach()

    def smoothed(theta):
        return sum(F.conv1d(theta, k, padding=k.shape[-1] // 2) for k in kernels) / len(kernels)
    theta = (adv - x).detach()
    for _ in range(2 * steps):
        theta.requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model((x + smoothed(theta))[:, 0]), y), theta)
        theta = (theta + step * grad.sign()).clamp(-eps, eps).detach()
    return smoothed(theta)[:, 0]


def test_masking_every_step_agrees_with_the_authors_where_nothing_is_padded():
    torch.manual_seed(0)
    model = build_model(ModelConfig(n_blocks=2, width=8, kernel_size=9, stem_stride=4, dropout=0.0)).eval()
    records = ecg_set(["N", "A", "O", "N"], [600] * 4, seed=4)
    x = torch.from_numpy(fit_length(records, 600)[0])
    y = torch.tensor([0, 1, 2, 0])
    ours = SAP(model, 10.0, 1.0, pgd_steps=5, steps=10).perturbation(x, y, torch.ones_like(x))
    theirs = authors_sap(model, x, y, 10.0, 1.0, 5)
    assert torch.allclose(ours, theirs, atol=1e-3)
    # With padding, ours keeps the padding at zero at every step; the perturbation stays inside.
    mask = torch.from_numpy(valid_mask(np.array([400] * 4), 600, np.array([100] * 4)))
    padded = SAP(model, 10.0, 1.0, pgd_steps=5, steps=10).perturbation(x * mask, y, mask)
    assert float((padded * (1 - mask)).abs().max()) == 0.0 and float(padded.abs().max()) <= 10.0 + 1e-4
    assert float(PGD(model, 10.0, 1.0, 5).perturbation(x * mask, y, mask).mul(1 - mask).abs().max()) == 0.0
