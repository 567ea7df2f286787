"""The ecg jobs chained on generated records with a tiny config: split, train, attack, every
defense, metrics and claims in the common schema, and the figures."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fixtures.publishers import synthetic_ecg
from medrobust.config import load_schema, validate
from medrobust.core.records import claims_frame, metrics_frame
from medrobust.data.challenge2017 import EcgSet
from medrobust.ecg import experiment
from medrobust.ecg.collect import collect
from medrobust.ecg.figures import FIGURES, draw_all
from medrobust.ecg.split import Prepared, run_prepare

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "crop_seconds": 3, "n_attack": 6,
    "model": {"n_blocks": 2, "width": 8, "kernel_size": 9, "stem_stride": 4, "dropout": 0.0},
    "train": {"epochs": 8, "batch_size": 16, "lr": 0.01},
    "attacks": {"eps": [10, 200], "pgd_steps": 5, "sap_steps": 5, "targeted": {"enabled": True, "target": "A"}},
    "new_examples": {"per_example": 3},
    "headline_setting": {"eps": 200},
    "defenses": {"preprocessing": {"adaptive": True, "adaptive_eps": [200]},
                 "detectors": {"n_fit": 16, "n_calibration": 16, "epochs": 2, "learned_eps": [200]},
                 "adversarial_training": {"enabled": True, "epochs": 1, "steps": 1, "eval_eps": [200]},
                 "randomized_smoothing": {"n_certify": 10, "n0": 4, "n": 16, "n_predict": 32, "alpha": 0.01,
                                          "attack_eps": [200]}},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)  # initial weights and dropout
    cfg = validate({"ecg": TINY}, load_schema(ROOT / "workflow" / "schemas"))["ecg"]
    rng = np.random.default_rng(0)
    labels = ["N", "A"] * 60
    signals = [synthetic_ecg(label, int(rng.integers(700, 1200)), rng) for label in labels]
    ecgset = EcgSet(signal=np.concatenate(signals),
                    offsets=np.r_[0, np.cumsum([len(s) for s in signals])].astype(np.int64),
                    label=np.array(labels), record=np.array([f"A{i:05d}" for i in range(len(labels))]), fs=300)
    prepared = Prepared.from_arrays(run_prepare(ecgset, cfg, 1))
    model, evaluation = experiment.run_train(ecgset, prepared, cfg, 1, "cpu")
    attacks = experiment.run_attacks(prepared, model, cfg, 1, "cpu")
    defenses = {name: experiment.run_defense(name, ecgset, prepared, model,
                                             attacks if name in ("preprocessing", "detectors") else None, cfg, 1, "cpu")
                for name in experiment.DEFENSES}
    rows, claims = collect(prepared, evaluation, attacks, defenses, cfg, 300, np.random.default_rng(0), 50)
    yield cfg, prepared, attacks, defenses, metrics_frame(rows), claims_frame(claims), tmp_path_factory.mktemp("fig")
    torch.set_num_threads(before)


def test_split_is_stratified_and_only_correct_test_ecgs_are_attacked(run):
    _, prepared, attacks, defenses, metrics, *_ = run
    assert len(prepared.test_idx) == 12 and not set(prepared.train_idx) & set(prepared.test_idx)
    assert np.bincount(prepared.y_test, minlength=2)[:2].tolist() == [6, 6]
    assert prepared.x_test.shape == (12, 900)
    pos = attacks["pos"]
    assert len(pos) == 6 and len(set(pos)) == 6  # n_attack of the (more than 6) correct ones
    assert np.all(attacks["prob_clean"].argmax(1) == prepared.y_test[pos])
    counts = metrics[metrics["metric"] == "attacked_ecgs"].set_index("setting")["value"]
    assert counts.sum() == 6 and counts["class=N"] == np.sum(prepared.y_test[pos] == 0)
    assert len(defenses["randomized_smoothing"]["pos"]) == 10  # its own draw, right or wrong


def test_metrics_cover_every_attack_and_defense(run):
    *_, metrics, _, _ = run
    asr = metrics[metrics["metric"] == "asr"]
    assert {"pgd", "sap", "pgd_art"} <= set(asr["attack"])
    assert {"none", "lowpass", "median", "hf_energy", "learned_detector", "adversarial_training",
            "randomized_smoothing"} <= set(asr["defense"])
    assert not asr.duplicated(["attack", "defense", "setting"]).any()  # one cell each in the matrix
    assert (asr["value"].between(0, 1)).all() and (asr["ci_low"] <= asr["value"] + 1e-12).all()
    names = set(metrics["metric"])
    assert {"accuracy", "macro_f1", "total_variation", "hf_energy_fraction", "auroc", "tpr_at_5fpr",
            "throughput", "new_per_known", "new_distance", "pair_correlation", "certified_accuracy",
            "targeted_success", "robust_accuracy", "confusion", "asr_by_class"} <= names
    confusion = metrics[metrics["metric"] == "confusion"]
    assert len(confusion) == 16 and confusion["value"].sum() == 12
    headline = metrics[(metrics["metric"] == "asr") & (metrics["setting"] == "eps=200") & (metrics["defense"] == "none")]
    assert headline.set_index("attack").loc["pgd", "value"] >= 0.5  # a huge eps flips the tiny model


def test_claims_have_gates_scale_and_interval_verdicts(run):
    *_, claims, _ = run
    assert {"pgd_fools_cnn", "sap_fools_cnn", "sap_smoother_than_pgd", "art_pgd_agreement",
            "new_examples_band", "sap_evades_learned_detector"} <= set(claims["claim_id"])
    assert claims["rule"].str.len().min() > 20
    by_id = claims.set_index("claim_id")
    assert "secondary reporting" in by_id.loc["sap_fools_cnn", "source"]
    assert by_id.loc["art_pgd_agreement", "kind"] == "sanity"
    assert (claims["title"].str.len() > 0).all() and (claims["scale"].str.contains("attacked ECGs")).all()
    assert (claims["gate"].str.len() > 0).all() and (claims["seeds"] == 1).all()
    # Six attacked ECGs cannot decide "most": the enough-cases gate fails, so no attack claim is decided.
    assert by_id.loc["pgd_fools_cnn", "n"] == 6 and not by_id.loc["pgd_fools_cnn", "gate_passed"]
    assert set(claims.loc[claims["kind"] == "claim", "verdict"]) <= {"inconclusive", "not_run"}


def test_figures_are_drawn(run):
    cfg, prepared, attacks, defenses, metrics, _, folder = run
    outputs = {name: folder / f"{name}.png" for name in FIGURES}
    draw_all(metrics, prepared.to_arrays(), attacks, defenses["detectors"], defenses["randomized_smoothing"],
             float(cfg["headline_setting"]["eps"]), 300, outputs)
    assert all(p.stat().st_size > 1000 for p in outputs.values())
