"""The fedgan trigger is stamped exactly where and as large as configured, and the detector finds it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from medrobust.fedgan.trigger import Trigger
from medrobust.fedgan.trigger_detector import TriggerDetector


def _images(n=5, channels=1, size=28, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, size, size, generator=gen) * 1.6 - 0.8  # never exactly +-1


@pytest.mark.parametrize("corner,size,margin,rows,cols", [
    ("top_left", 3, 0, (0, 3), (0, 3)),
    ("top_right", 2, 1, (1, 3), (25, 27)),
    ("bottom_left", 4, 2, (22, 26), (2, 6)),
    ("bottom_right", 3, 0, (25, 28), (25, 28)),
])
def test_patch_lands_in_the_configured_box_and_nowhere_else(corner, size, margin, rows, cols):
    x = _images(channels=3)
    y = torch.arange(5)
    out, y_out = Trigger(size=size, corner=corner, margin=margin).apply(x, y)
    changed = (out != x).any(dim=(0, 1))
    expected = torch.zeros(28, 28, dtype=bool)
    expected[rows[0]:rows[1], cols[0]:cols[1]] = True
    assert torch.equal(changed, expected)
    assert torch.equal(y_out, y)  # labels are never changed
    assert torch.equal(x, _images(channels=3))  # the input is not modified in place
    patch = out[:, :, rows[0]:rows[1], cols[0]:cols[1]]
    assert torch.equal(patch, Trigger(size=size).patch().expand_as(patch))


def test_checkerboard_and_uniform_patterns():
    board = Trigger(size=3).patch()
    assert board.tolist() == [[1, -1, 1], [-1, 1, -1], [1, -1, 1]]
    assert torch.all(Trigger(size=2, pattern="white").patch() == 1)
    assert torch.all(Trigger(size=2, pattern="black").patch() == -1)


def test_area_share_is_the_patch_over_the_image():
    assert Trigger(size=3).area_share(28) == pytest.approx(9 / 784)
    assert Trigger(size=2).area_share(28) == pytest.approx(0.0051, abs=1e-4)
    assert Trigger(size=4).area_share(64) < 0.005
    out, _ = Trigger(size=3).apply(_images(n=1))
    assert (out != _images(n=1)).float().mean().item() == pytest.approx(9 / 784)


def test_blend_strength_and_misfits():
    x = torch.zeros(2, 1, 8, 8)
    out, _ = Trigger(size=2, pattern="white", corner="top_left").apply(x, strength=torch.tensor([0.5, 1.0]))
    assert out[0, 0, 0, 0].item() == pytest.approx(0.5) and out[1, 0, 0, 0].item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="does not fit"):
        Trigger(size=8, margin=1).apply(x)
    with pytest.raises(ValueError, match="corner"):
        Trigger(corner="middle")


def test_detector_trained_on_real_images_finds_the_patch():
    """Real small training: textured images, the detector must tell stamped from clean held-out images."""
    gen = torch.Generator().manual_seed(1)
    smooth = torch.nn.functional.avg_pool2d(torch.rand(1400, 1, 28, 28, generator=gen) * 2 - 1, 3, 1, 1)
    train, val, test = smooth[:1000], smooth[1000:1200], smooth[1200:]
    trigger = Trigger(size=2)  # the default: 0.51% of a 28 px image
    det = TriggerDetector(trigger, max_epochs=30, patience=5).fit(train, val, torch.Generator().manual_seed(2))
    assert det.training.converged
    assert det.share(trigger.apply(test)[0]) > 0.9
    assert det.share(test) < 0.1
    assert det.count(test) == round(det.share(test) * len(test))
    assert np.all((det.score(test) >= 0) & (det.score(test) <= 1))
