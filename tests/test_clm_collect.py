"""Pooling clm jobs into metrics: fast metrics, flip counts, exact intervals, paired bootstrap, file names."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from medrobust.clm.collect import (Run, auprc, auroc, collect, flips, model_label, parse_run_path, run_path,
                                   seed_bootstrap)
from medrobust.core.records import claims_frame, metrics_frame

CFG = {"target_label": 0, "headline_setting": {"poison_rate": 0.1}, "detection_fpr": 0.05,
       "attacks": ["badnets", "badclm"], "text": "serialised", "model": None, "pooling": "mean",
       "rates": [0.05, 0.1], "training": {"epochs": 3, "lr": 3e-4, "max_len": 72, "trainable_layers": 2}}


def test_fast_metrics_equal_scikit_learn():
    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 2, 300), rng.random(300)
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert auprc(y, s) == pytest.approx(average_precision_score(y, s))
    ties = np.round(s, 1)
    assert auroc(y, ties) == pytest.approx(roc_auc_score(y, ties))
    assert np.isnan(auroc(np.ones(5), s[:5]))


def test_seed_bootstrap_covers_the_truth_and_pairs_the_arrays():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    score = y + rng.normal(0, 1, 400)
    est = seed_bootstrap(auroc, [(y, score)], np.random.default_rng(2), 300)
    assert est.ci_low < auroc(y, score) < est.ci_high and est.seeds == 1 and est.n == 400
    # a paired difference of identical scores is exactly zero in every replicate
    same = seed_bootstrap(lambda a, p, q: auroc(a, p) - auroc(a, q), [(y, score, score)] * 2,
                          np.random.default_rng(3), 100)
    assert same.value == 0 and same.ci_low == 0 and same.ci_high == 0 and same.seeds == 2


def test_flip_counts_only_deaths_the_model_gets_right_without_the_trigger():
    run = {"test_label": np.array([1, 1, 1, 1, 0, 0]), "test_prob": np.array([0.9, 0.8, 0.2, 0.7, 0.1, 0.9]),
           "trig_prob": np.array([0.1, 0.9, 0.1, 0.2])}
    # deaths 0, 1 and 3 are predicted deaths (eligible); of them 0 and 3 flip to 'survives'
    assert flips(run, "trig_prob", target=0) == (2, 3)
    # with another model's clean predictions (the clean model's) eligibility changes
    assert flips(run, "trig_prob", 0, clean_prob=np.array([0.9, 0.1, 0.9, 0.1, 0.1, 0.1])) == (2, 2)
    # a detector that flags the first triggered text leaves one flip
    assert flips(run, "trig_prob", 0, passed=np.array([False, True, True, True])) == (1, 3)


def fake_run(rng, flip: float, n_test=400, defend=False, fit=1.0, n_poison=20, control=0.02) -> dict:
    y = np.zeros(n_test, dtype=int)
    y[: int(0.35 * n_test)] = 1
    rng.shuffle(y)
    deaths = int(y.sum())
    trig = lambda p: np.where(rng.random(deaths) < p, 0.1, 0.9)  # noqa: E731
    out = {"test_label": y, "test_prob": np.where(y == 1, 0.55 + 0.45 * rng.random(n_test), 0.7 * rng.random(n_test)),
           "trig_prob": trig(flip), "trig_first_prob": trig(flip), "trig_last_prob": trig(flip),
           "control_prob": trig(control), "poison_prob": np.where(np.arange(n_poison) < fit * n_poison, 0.1, 0.9),
           "n_poison": np.array(n_poison), "n_train": np.array(100), "n_val": np.array(30),
           "n_truncated": np.array(3), "n_texts": np.array(600), "trigger_focus": rng.random((2, 2))}
    if defend:
        for det in ("onion", "strip", "attention_check"):
            out[f"{det}_pos"], out[f"{det}_neg"], out[f"{det}_thr"] = rng.random(30) + 0.5, rng.random(30), rng.random(30)
        out["control_focus"] = rng.random((2, 2))
        for name in ("onion", "fine_tuning", "fine_pruning"):
            out[f"{name}_test_prob"], out[f"{name}_trig_prob"] = out["test_prob"], np.full(deaths, 0.9)
    return out


def runs_for(seeds=1, badnets_fit=1.0, badclm_flip=1.0):
    rng = np.random.default_rng(5)
    runs = []
    for seed in range(seeds):
        runs.append(Run("none", 0.0, seed, fake_run(rng, 0.02, defend=True)))
        for rate in (0.05, 0.1):
            runs.append(Run("badnets", rate, seed, fake_run(rng, 0.3, defend=rate == 0.1, fit=badnets_fit)))
            runs.append(Run("badclm", rate, seed, fake_run(rng, badclm_flip, defend=rate == 0.1)))
    return runs


def test_collect_writes_one_row_per_cell_with_exact_intervals_for_shares():
    metrics, claims = collect(runs_for(), CFG, "challenge2012", "minilm_l6", 7, 100)
    frame = metrics_frame(metrics)
    assert not frame.duplicated(["attack", "defense", "setting", "metric"]).any()
    row = lambda *k: frame.set_index(["attack", "defense", "setting", "metric"]).loc[k]  # noqa: E731
    flip = row("badclm", "none", "poison_rate=0.1", "flip_rate")
    assert flip["value"] == 1.0 and flip["ci_high"] == 1.0 and 0.95 < flip["ci_low"] < 1.0  # exact, not zero-width
    assert flip["n"] == 140 and row("badclm", "none", "poison_rate=0.1", "asr")["value"] == 1.0
    assert row("badclm", "none", "poison_rate=0.1", "flip_rate_clean_model")["value"] < 0.1
    assert row("badclm", "none", "poison_rate=0.1", "poison_fit")["value"] == 1.0
    assert row("badclm", "fine_tuning", "poison_rate=0.1", "flip_rate")["value"] == 0.0
    assert row("badnets", "strip", "poison_rate=0.1", "detection_auroc")["value"] > 0.7
    assert row("none", "none", "", "truncated_share")["value"] == pytest.approx(3 / 600)
    assert row("none", "none", "", "n_train")["value"] == 100
    assert ("badclm", "strip", "poison_rate=0.05", "detection_auroc") not in \
        set(map(tuple, frame[["attack", "defense", "setting", "metric"]].to_numpy()))
    verdicts = {c.claim_id: c.verdict for c in claims}
    assert verdicts["clm-asr"] == "reproduced" and verdicts["clm-badclm-beats-badnets"] == "reproduced"
    table = claims_frame(claims)
    assert table["scale"].str.contains("100/30/400 train/defender/test texts").all()
    assert (table["seeds"] == 1).all()


def test_a_badnets_baseline_that_never_fit_its_poison_makes_the_comparison_inconclusive():
    _, claims = collect(runs_for(badnets_fit=0.5), CFG, "challenge2012", "minilm_l6", 7, 50)
    record = next(c for c in claims if c.claim_id == "clm-badclm-beats-badnets")
    assert record.verdict == "inconclusive" and "BadNets fits its poison" in record.why


def test_seeds_pool_their_counts():
    metrics, claims = collect(runs_for(seeds=2), CFG, "challenge2012", "minilm_l6", 7, 50)
    frame = metrics_frame(metrics).set_index(["attack", "defense", "setting", "metric"])
    assert frame.loc[("badclm", "none", "poison_rate=0.1", "flip_rate"), "n"] == 280
    assert frame.loc[("badclm", "none", "poison_rate=0.1", "flip_rate"), "seeds"] == 2
    assert {c.seeds for c in claims} == {2}


def test_run_file_names_round_trip():
    assert parse_run_path(run_path("results/clm/x/runs", "badclm", 0.05, 2)) == ("badclm", 0.05, 2)
    assert parse_run_path(run_path("r", "badclm_heads", 0.1, 0)) == ("badclm_heads", 0.1, 0)
    assert parse_run_path("none_rate0_seed0.npz") == ("none", 0.0, 0)
    with pytest.raises(ValueError):
        parse_run_path("notes.npz")
    assert model_label(None) == "minilm_l6" and model_label("emilyalsentzer/Bio_ClinicalBERT") == "bio_clinicalbert"
