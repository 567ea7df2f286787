"""The ecg claims: each judged by its interval under its gates (medrobust.core.claims), on
constructed pooled numbers."""
from __future__ import annotations

from pathlib import Path

import pytest

from medrobust.core.metrics import Estimate
from medrobust.ecg import claims as ecg_claims
from medrobust.ecg.claims import Pooled, all_claims

ROOT = Path(__file__).resolve().parents[1]


def pooled(f1: float = 0.80, n: int = 200, pgd: int = 150, sap: int = 140, **changes) -> Pooled:
    base = dict(eps=10.0, scale="test scale: 200 attacked ECGs", victim_f1=f1,
                victim_f1_per_class={"N": 0.9, "A": 0.8, "O": 0.7}, n_attacked=n,
                flipped={"pgd": pgd, "sap": sap, "random_sign": 0}, art_disagree=0,
                hf_ratio=Estimate(0.1, 0.08, 0.12, n), new_k=10,
                new_share={t: Estimate(0.9, 0.85, 0.95, 120) for t in ecg_claims.NEW_EXAMPLES},
                new_known={t: 120 for t in ecg_claims.NEW_EXAMPLES},
                retained={d: Estimate(0.2, 0.1, 0.3, n) for d in ecg_claims.FILTERS + ecg_claims.DETECTORS},
                power_pgd={d: 0.6 for d in ecg_claims.FILTERS + ecg_claims.DETECTORS})
    base.update(changes)
    return Pooled(**base)


def by_id(p: Pooled) -> dict:
    return {c.claim_id: c for c in all_claims(p)}


@pytest.mark.parametrize("flipped, verdict", [(150, "reproduced"), (60, "not_reproduced"), (105, "inconclusive")])
def test_most_ecgs_flip_is_judged_by_the_exact_interval(flipped, verdict):
    c = by_id(pooled(pgd=flipped))["pgd_fools_cnn"]
    assert c.verdict == verdict and c.n == 200 and c.seeds == 1
    assert c.ci_low < flipped / 200 < c.ci_high  # Clopper-Pearson, never zero width


def test_issue_13s_sap_result_is_not_most():
    # 35 of 65 (0.538 [0.41, 0.66]) from a victim below the gate: inconclusive on two counts.
    c = by_id(pooled(f1=0.652, n=65, pgd=40, sap=35))["sap_fools_cnn"]
    assert c.verdict == "inconclusive" and not c.gate_passed
    assert "victim quality" in c.why and "0.652" in c.why and "config/paper.yaml" in c.why
    assert "enough cases" in c.why


def test_a_victim_below_the_gate_makes_every_attack_claim_inconclusive():
    claims = by_id(pooled(f1=0.70, pgd=200, sap=200))
    for claim_id, c in claims.items():
        if c.kind == "claim":
            assert c.verdict == "inconclusive", claim_id
    assert claims["art_pgd_agreement"].verdict == "reproduced"  # the cross-check needs no good victim


def test_the_art_cross_check_is_a_sanity_check():
    assert by_id(pooled())["art_pgd_agreement"].kind == "sanity"
    assert by_id(pooled(art_disagree=30))["art_pgd_agreement"].verdict == "not_reproduced"
    assert by_id(pooled(art_disagree=None))["art_pgd_agreement"].verdict == "not_run"


def test_a_defense_without_power_against_pgd_cannot_lose_it():
    p = pooled(power_pgd={d: 0.6 for d in ecg_claims.FILTERS + ecg_claims.DETECTORS} | {"median": 0.02})
    claims = by_id(p)
    assert claims["sap_evades_median"].verdict == "inconclusive"
    assert "defense works against PGD" in claims["sap_evades_median"].why
    assert claims["sap_evades_lowpass"].verdict == "reproduced"
    keeps = pooled(retained={d: Estimate(0.9, 0.8, 1.0, 200) for d in ecg_claims.FILTERS + ecg_claims.DETECTORS})
    assert by_id(keeps)["sap_evades_lowpass"].verdict == "not_reproduced"


def test_every_row_has_title_gate_scale_n_and_seeds():
    for c in all_claims(pooled()):
        assert c.title and c.gate and c.scale and c.seeds == 1, c.claim_id
        assert c.n > 0, c.claim_id


def test_no_ecg_module_imports_the_legacy_rules():
    for path in (ROOT / "src" / "medrobust" / "ecg").glob("*.py"):
        assert "legacy_claims" not in path.read_text(), path.name
