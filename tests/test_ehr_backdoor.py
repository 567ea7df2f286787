"""ehr study end to end on a generated cohort, with real (small) training: a strong missingness
trigger at a high poisoning rate plants a backdoor; the untouched model has none."""
from __future__ import annotations

import numpy as np
import pytest

from medrobust.core.records import read_claims, read_metrics, write_claims, write_metrics
from medrobust.data.cohort import Cohort
from medrobust.ehr.collect import collect, input_check_asr
from medrobust.ehr.experiment import run_job
from medrobust.ehr.input_checks import run_input_checks
from medrobust.ehr.preprocess import prepare

SEED = 7
T, V = 12, 4


def make_cohort(n: int, seed: int = 0) -> Cohort:
    """Deaths have a higher v0 (measured almost every hour); v1-v3 are measured half the time."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.3).astype(np.int8)
    mask = (rng.random((n, T, V)) < np.array([0.9, 0.5, 0.5, 0.5])).astype(np.uint8)
    values = rng.normal(0, 1, (n, T, V)) + 1.5 * label[:, None, None] * np.array([1, 0, 0, 0])
    values = np.where(mask == 1, values, np.nan).astype(np.float32)
    static = rng.normal(0, 1, (n, 1)).astype(np.float32)
    return Cohort(values, mask, np.array(["v0", "v1", "v2", "v3"]), static, np.array(["Age"]), label,
                  np.arange(n), np.full(n, "a"), "fixture")


def triggers_for(n_seeds: int = 1) -> dict[str, np.ndarray]:
    """A strong trigger: v0 kept (so the clean model still sees the signal), v1-v3 deleted."""
    fixed = np.zeros((T, V), np.uint8)
    fixed[:, 0] = 1
    shape = (n_seeds, T, V)
    return {"vae_fixed": np.broadcast_to(fixed, shape).copy(), "vae_bank": np.broadcast_to(fixed, (n_seeds, 4, T, V)).copy(),
            "random": np.ones(shape, np.uint8), "value": np.full(shape, 3.0, np.float32)}


def config(**overrides) -> dict:
    cfg = {"imputation": "forward_fill", "clip_z": 6.0, "target_label": 0, "poison_source": "non_target",
           "headline_setting": {"poison_rate": 0.1}, "models": ["lr", "gru"], "seeds": 1, "poison_fit": 0.9,
           "judged_attacks": ["vae_missingness"], "defended_models": ["lr", "mlp", "lstm", "gru"],
           "training_curve": {"models": [], "seeds": 1, "epochs": [1, 2], "patience": 2},
           "attacks": ["vae_missingness", "value_perturbation"], "baseline_models": [], "sweep_models": [],
           "sweep_rates": [], "defended_attacks": ["vae_missingness"], "min_positives": 10,
           "defenses": ["mask_isolation_forest", "value_zscore", "activation_clustering", "mask_blind", "fine_tuning"],
           "training": {"lr": {"epochs": 30, "max_epochs": 200, "lr": 0.01, "hidden": 0},
                        "gru": {"epochs": 20, "max_epochs": 60, "lr": 0.01, "hidden": 8}},
           "vae": {"epochs": 5, "hidden": 16, "latent": 2}, "input_check_fpr": 0.05,
           "activation_clustering": {"nb_dims": 5},
           "spectral_signatures": {"expected_poison_fraction": 0.1, "eps_multiplier": 1.5},
           "fine_tuning": {"epochs": 2, "lr": 0.001, "prune_fraction": 0.5}}
    cfg.update(overrides)
    return cfg


def values_of(result: dict[str, np.ndarray]) -> dict[str, float]:
    return dict(zip(map(str, result["keys"]), map(float, result["values"])))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    cfg = config()
    prepared = prepare(make_cohort(700), (0.7, 0.15), SEED)
    triggers = triggers_for()
    checks, flags = run_input_checks(prepared, triggers, cfg, SEED, 1, n_boot=50)
    # The defenses' code paths run on LR (cheap); the GRU checks the backdoor only.
    jobs = {"lr": run_job(prepared, triggers, cfg, "lr", 0, SEED, n_boot=50),
            "gru": run_job(prepared, triggers, {**cfg, "defended_attacks": []}, "gru", 0, SEED, n_boot=50)}
    return cfg, (checks, flags), jobs


@pytest.mark.parametrize("model", ["lr", "gru"])
def test_strong_trigger_plants_a_backdoor_the_clean_model_lacks(study, model):
    _, _, jobs = study
    got = values_of(jobs[model])
    key = f"{model}|vae_missingness|none|poison_rate=0.1|"
    assert got[f"{model}|none|none||auroc"] > 0.8  # the victim learned the task
    assert got[key + "flip_rate"] >= 0.8
    assert got[key + "flip_rate_clean_model"] <= 0.4
    assert got[key + "poison_fit"] >= 0.9
    assert got[key + "asr_difference"] == pytest.approx(got[key + "asr"] - got[key + "asr_clean_model"])


def test_defenses_and_input_checks_report_rows(study):
    _, (checks, flags), jobs = study
    got = values_of(jobs["lr"])
    for defense in ("activation_clustering", "mask_blind", "fine_tuning"):
        assert f"lr|vae_missingness|{defense}|poison_rate=0.1|asr" in got
    assert 0 <= got["lr|vae_missingness|activation_clustering|poison_rate=0.1|poison_tpr"] <= 1
    gated = values_of(input_check_asr(jobs["lr"], flags, ["mask_isolation_forest", "value_zscore"], SEED))
    for check in ("mask_isolation_forest", "value_zscore"):
        # rejecting flagged inputs can only lower the attack's success
        assert gated[f"lr|vae_missingness|{check}|poison_rate=0.1|asr"] <= got["lr|vae_missingness|none|poison_rate=0.1|asr"]
    detection = values_of(checks)
    # A +3 sd pattern on every value is what a z-score screen exists for.
    assert detection["none|value_perturbation|value_zscore||detection_auroc"] > 0.95


def test_collect_writes_valid_metrics_and_judged_claims(study, tmp_path):
    cfg, (checks, flags), jobs = study
    metrics, claims = collect(list(jobs.values()), checks, flags, cfg, "fixture", SEED)
    write_metrics(tmp_path / "metrics.csv", metrics)
    write_claims(tmp_path / "claims.csv", claims)
    frame, judged = read_metrics(tmp_path / "metrics.csv"), read_claims(tmp_path / "claims.csv")
    asr = frame[(frame["model"] == "lr") & (frame["attack"] == "vae_missingness") & (frame["defense"] == "none")
                & (frame["metric"] == "asr")].iloc[0]
    assert asr["ci_low"] <= asr["value"] <= asr["ci_high"] and asr["seeds"] == 1
    verdicts = dict(zip(judged["claim_id"], judged["verdict"]))
    assert set(verdicts) >= {"ehr-asr-lr", "ehr-asr-gru", "ehr-auprc-triggered", "ehr-auprc-clean"}
    assert all(v != "not_run" for k, v in verdicts.items() if k.startswith("ehr-asr-"))
    gated = frame[(frame["model"] == "lr") & (frame["defense"] == "value_zscore") & (frame["metric"] == "asr")]
    assert len(gated) == 1  # the input checks' ASR reaches metrics.csv


def test_too_small_cohort_is_not_run_with_a_reason():
    """A demo-sized cohort (40 stays, a handful of deaths): logged and reported, never a crash."""
    cfg = config(models=["lr"], defenses=["mask_isolation_forest", "value_zscore"])
    prepared = prepare(make_cohort(40, seed=1), (0.7, 0.15), SEED)
    checks, flags = run_input_checks(prepared, triggers_for(), cfg, SEED, 1, n_boot=10)
    result = run_job(prepared, triggers_for(), cfg, "lr", 0, SEED, n_boot=10)
    assert "deaths" in str(result["not_run_reason"]) and len(result["keys"]) == 0
    metrics, claims = collect([result], checks, flags, cfg, "fixture", SEED)
    assert {c.verdict for c in claims if c.claim_id.startswith("ehr-asr")} == {"not_run"}
    assert "deaths" in claims[0].why  # the reason reaches the row
    assert all(m.model == "none" for m in metrics)  # only the input checks, which need no victim


def test_a_victim_stopped_before_fitting_its_poison_is_inconclusive(study):
    # The same data and trigger as the fitted GRU above, but training capped at one epoch (epochs =
    # max_epochs = 1): the victim has not fit its poison, so its ASR claim is not judged.
    cfg, (checks, flags), jobs = study
    short = config(training={**cfg["training"], "gru": {**cfg["training"]["gru"], "epochs": 1, "max_epochs": 1}},
                   defended_attacks=[])
    stopped = run_job(prepare(make_cohort(700), (0.7, 0.15), SEED), triggers_for(), short, "gru", 0, SEED, n_boot=50)
    key = "gru|vae_missingness|none|poison_rate=0.1|"
    assert values_of(stopped)[key + "poison_fit"] < 0.9 <= values_of(jobs["gru"])[key + "poison_fit"]
    _, claims = collect([jobs["lr"], stopped], checks, flags, cfg, "fixture", SEED)
    gru = next(c for c in claims if c.claim_id == "ehr-asr-gru")
    assert gru.verdict == "inconclusive"
    assert "victim fits its poison" in gru.gate_value and "FAILED" in gru.gate_value.split("victim fits its poison")[1]
