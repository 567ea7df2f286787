"""Pooling clm jobs into metrics and claims: fast metrics, paired bootstrap, verdicts, file names."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from medrobust.clm.collect import (Run, auprc, auroc, collect, model_label, parse_run_path, positive, run_path,
                                   seed_bootstrap)
from medrobust.core.records import metrics_frame

CFG = {"target_label": 0, "headline_setting": {"poison_rate": 0.1}, "detection_fpr": 0.05,
       "attacks": ["badnets", "badclm"], "text": "serialised", "model": None}


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
    a = (rng.random(400) < 0.6).astype(float)
    est = seed_bootstrap(np.mean, [(a,)], np.random.default_rng(2), 500)
    assert est.ci_low < 0.6 < est.ci_high and est.seeds == 1 and est.n == 400
    # a paired difference of identical arrays is exactly zero in every replicate
    same = seed_bootstrap(lambda x, y: np.mean(x - y), [(a, a), (a, a)], np.random.default_rng(3), 200)
    assert same.value == 0 and same.ci_low == 0 and same.ci_high == 0 and same.seeds == 2


def test_positive_rule():
    assert positive(0.2, 0.05)[0] == "reproduced"
    assert positive(0.2, -0.05)[0] == "partly"
    assert positive(-0.1, -0.3)[0] == "not_reproduced"
    assert positive(float("nan"), 0.1)[0] == "not_run"


def test_run_file_names_round_trip():
    assert parse_run_path(run_path("results/clm/x/runs", "badclm", 0.05, 2)) == ("badclm", 0.05, 2)
    assert parse_run_path("none_rate0_seed0.npz") == ("none", 0.0, 0)
    with pytest.raises(ValueError):
        parse_run_path("notes.npz")
    assert model_label(None) == "minilm_l6" and model_label("emilyalsentzer/Bio_ClinicalBERT") == "bio_clinicalbert"


def fake_run(rng, asr: float, n_test=200, n_trig=40, defend=False) -> dict:
    y = (rng.random(n_test) < 0.3).astype(int)
    out = {"test_label": y, "test_prob": np.clip(0.3 * y + 0.7 * rng.random(n_test), 0, 1),
           "trig_prob": np.where(rng.random(n_trig) < asr, 0.1, 0.9), "n_poison": np.array(10), "n_train": np.array(100),
           "trigger_focus": rng.random((2, 2))}
    if defend:
        for det in ("onion", "strip", "attention_check"):
            out[f"{det}_pos"], out[f"{det}_neg"], out[f"{det}_thr"] = rng.random(30) + 0.5, rng.random(30), rng.random(30)
        out["control_focus"] = rng.random((2, 2))
        for name in ("onion", "fine_tuning", "fine_pruning"):
            out[f"{name}_test_prob"], out[f"{name}_trig_prob"] = out["test_prob"], np.full(n_trig, 0.9)
    return out


def test_collect_writes_one_row_per_cell_and_judges_the_claims():
    rng = np.random.default_rng(5)
    runs = []
    for seed in range(2):
        runs.append(Run("none", 0.0, seed, fake_run(rng, 0.0, defend=True)))
        for rate in (0.05, 0.1):
            runs.append(Run("badnets", rate, seed, fake_run(rng, 0.3, defend=rate == 0.1)))
            runs.append(Run("badclm", rate, seed, fake_run(rng, 1.0, defend=rate == 0.1)))
    metrics, claims = collect(runs, CFG, "challenge2012", "minilm_l6", 7, 100)
    frame = metrics_frame(metrics)
    assert not frame.duplicated(["attack", "defense", "setting", "metric"]).any()
    get = lambda *k: frame.set_index(["attack", "defense", "setting", "metric"]).loc[k, "value"]  # noqa: E731
    assert get("badclm", "none", "poison_rate=0.1", "asr") == 1.0
    assert get("none", "none", "", "n_train") == 100  # the scale the report states
    assert get("badclm", "none", "poison_rate=0.1", "asr_clean_model") == 0.0
    assert get("badclm", "fine_tuning", "poison_rate=0.1", "asr") == 0.0
    assert get("badnets", "strip", "poison_rate=0.1", "detection_auroc") > 0.8
    assert ("badclm", "strip", "poison_rate=0.05", "detection_auroc") not in \
        set(map(tuple, frame[["attack", "defense", "setting", "metric"]].to_numpy()))
    verdicts = {c.claim_id: c.verdict for c in claims}
    assert verdicts["clm-asr"] == "reproduced" and verdicts["clm-badclm-beats-badnets"] == "reproduced"
    assert all("serialised from structured EHR" in c.statement and "100 training texts, 2 seed(s)" in c.statement
               for c in claims)
