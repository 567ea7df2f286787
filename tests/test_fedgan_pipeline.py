"""Any 2D MedMNIST flag runs without code changes: grey/colour, binary/multi-class, end to end on tiny data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from medrobust.config import load_schema, validate
from medrobust.core.records import claims_frame, metrics_frame
from medrobust.fedgan.claims import judge_all
from medrobust.fedgan.collect import metric_rows, pool
from medrobust.fedgan.experiment import checkpoint_rounds, run_variant, train_evaluators
from medrobust.fedgan.images import ImageSplits, check_flag, to_tensor, to_uint8

ROOT = Path(__file__).resolve().parents[1]


def _config(**over):
    section = {"clients": 2, "rounds": 3, "batch_size": 16, "width": 4, "z_dim": 8, "checkpoints": 2,
               "final_checkpoints": 1, "seeds": 1, "feddetect": {"warmup": 1, "window": 1},
               "feddetect_authors": {"warmup": 0}, "evaluators": {"max_epochs": 2, "patience": 1},
               "downstream": {"synthetic_ratio": 0.5}, **over}
    return validate({"fedgan": section}, load_schema(ROOT / "workflow" / "schemas"), environ={})["fedgan"]


def _splits(channels: int, n_classes: int, seed: int = 0) -> ImageSplits:
    rng = np.random.default_rng(seed)

    def part(n):
        y = np.arange(n) % n_classes
        img = rng.integers(0, 80, (n, 28, 28, channels) if channels == 3 else (n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(y):  # a class-dependent bright bar, so classes can be learned
            img[i, 3 * c:3 * c + 3, 8:20] = 230
        return to_tensor(img), torch.from_numpy(y.astype(np.int64))

    (tx, ty), (vx, vy), (sx, sy) = part(96), part(40), part(48)
    return ImageSplits(tx, ty, vx, vy, sx, sy, n_classes)


def test_tensor_round_trip_grey_and_colour():
    grey = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    colour = np.stack([grey, 255 - grey, grey // 2], axis=-1)
    for arr in (grey.astype(np.uint8), colour.astype(np.uint8)):
        x = to_tensor(arr)
        assert x.shape[1] == (1 if arr.ndim == 3 else 3) and x.min() >= -1 and x.max() <= 1
        back = to_uint8(x)
        assert np.array_equal(back.reshape(arr.shape), arr)


def test_multilabel_and_3d_flags_are_refused_by_name():
    with pytest.raises(ValueError, match="fedgan.flag.*multi-label"):
        check_flag("chestmnist")
    with pytest.raises(ValueError, match="fedgan.flag.*3D"):
        check_flag("organmnist3d")
    for flag in ("pneumoniamnist", "breastmnist", "dermamnist", "bloodmnist", "organamnist"):
        check_flag(flag)


def test_checkpoints_spread_over_training_ending_at_the_last_round():
    assert checkpoint_rounds(40, 10) == (4, 8, 12, 16, 20, 24, 28, 32, 36, 40)
    assert checkpoint_rounds(3, 1) == (3,)
    assert checkpoint_rounds(2, 5) == (1, 2)


def test_variants_run_and_collect_on_a_colour_multiclass_flag():
    """Colour, 8 classes (bloodmnist-like); the grey binary case is the default study itself."""
    channels, n_classes = 3, 8
    cfg = _config()
    data = _splits(channels, n_classes)
    evaluators = train_evaluators(data, cfg, seed=3, device="cpu")
    variants = [("none", "none"), ("patch_trigger", "none"), ("patch_trigger", "feddetect"),
                ("patch_trigger", "feddetect_authors")]
    runs = [run_variant(data, cfg, attack, defense, 0, 3, "cpu") for attack, defense in variants]
    assert runs[0]["grid_images"].shape == (8 * n_classes, 28, 28, channels)
    assert runs[0]["checkpoint_images"].shape == (2, 48, 28, 28, channels)  # one sample per test image
    assert runs[1]["generator_loss"].shape == runs[1]["generator_loss_last"].shape == (3, 2)
    # common random numbers: the attack changes the attacker's data only, so the first round's
    # benign reports are identical in the clean and the attacked federation
    benign = [k for k in range(2) if k not in runs[1]["attackers"]]
    assert np.allclose(runs[0]["generator_loss"][0, benign], runs[1]["generator_loss"][0, benign])
    assert not np.allclose(runs[0]["generator_loss"][0], runs[1]["generator_loss"][0])
    assert np.isnan(runs[1]["detector_score"]).all()  # no detector runs without a FedDetect defense
    assert not np.isnan(runs[3]["detector_score"][1:]).any()  # the authors' rule acts after round 1 (warmup 0)
    pooled = pool(runs, evaluators, cfg, "fixture", seed=1)
    frame = metrics_frame(metric_rows(pooled, "fixture"))
    share = frame[(frame["metric"] == "trigger_share") & (frame["model"] == "cdcgan")]
    assert len(share) == 4 and share["value"].between(0, 1).all() and (share["n"] == 48).all()
    assert {"auc", "acc", "auc_gain", "fid", "kid", "feddetect_tpr", "fid_by_round"} <= set(frame["metric"])
    by_class = frame[frame["metric"] == "trigger_share_by_class"]
    assert set(by_class["setting"]) == {f"class={c}" for c in range(n_classes)}
    claims = claims_frame(judge_all(pooled))
    assert len(claims) == 14 and (claims["scale"].str.len() > 0).all() and (claims["title"] != "").all()
    # one seed: every claim on a difference of federations lacks replicates and cannot be decided
    fidelity = claims.set_index("claim_id").loc["fedgan_c1_fidelity_drops"]
    assert fidelity["verdict"] == "inconclusive" and "seeds" in fidelity["why"]


def test_no_legacy_rules_left():
    package = ROOT / "src" / "medrobust" / "fedgan"
    assert not [p.name for p in package.glob("*.py") if "legacy_claims" in p.read_text()]


def test_rank_auc_equals_scikit_learn():
    from sklearn.metrics import roc_auc_score

    from medrobust.fedgan.downstream import auc

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.round(rng.random(200), 1)  # ties
    assert auc(y, np.c_[1 - p, p]) == pytest.approx(roc_auc_score(y, p))
    y5 = np.arange(200) % 5
    p5 = rng.dirichlet(np.ones(5), 200)
    assert auc(y5, p5) == pytest.approx(roc_auc_score(y5, p5, multi_class="ovr"))
