"""The verdict machinery of medrobust.core.claims: interval rules, gates, parts, exact intervals."""
import math

import numpy as np
import pytest

from medrobust.core.claims import (Part, at_least, at_most, combine, enough_cases, gate_at_least, judge,
                                   make_claim, within)
from medrobust.core.metrics import Estimate, exact_share, flip_counts, share_difference, two_sided_auroc
from medrobust.core.records import Claim, read_claims, write_claims

PASSED = gate_at_least("victim quality", 0.85, 0.80, "clean AUROC")
FAILED = gate_at_least("victim quality", 0.70, 0.80, "clean AUROC", fix="--configfile config/paper.yaml")


@pytest.mark.parametrize("rule, low, high, expected", [
    (at_least(0.5), 0.55, 0.80, "reproduced"),
    (at_least(0.5), 0.20, 0.45, "not_reproduced"),
    (at_least(0.5), 0.42, 0.65, "inconclusive"),
    (at_most(0.02), -0.01, 0.015, "reproduced"),
    (at_most(0.02), 0.03, 0.10, "not_reproduced"),
    (at_most(0.02), -0.016, 0.19, "inconclusive"),
    (within(0.45, 0.10), 0.38, 0.52, "reproduced"),
    (within(0.45, 0.10), 0.05, 0.20, "not_reproduced"),
    (within(0.45, 0.10), 0.30, 0.40, "inconclusive"),
])
def test_rules_decide_by_the_whole_interval(rule, low, high, expected):
    mid = (low + high) / 2
    assert judge(Estimate(mid, low, high, 100), rule, [PASSED])[0] == expected


def test_the_point_estimate_alone_never_decides():
    # sap_fools_cnn as measured in issue 13: 0.538 [0.419, 0.654] on 65 ECGs is not "most"
    verdict, why = judge(Estimate(0.538, 0.419, 0.654, 65), at_least(0.5), [PASSED])
    assert verdict == "inconclusive" and "straddles 0.5" in why


@pytest.mark.parametrize("estimate", [Estimate(0.99, 0.98, 1.0, 500), Estimate(0.01, 0.0, 0.02, 500)])
def test_a_failed_gate_gives_inconclusive_whatever_the_estimate(estimate):
    verdict, why = judge(estimate, at_least(0.9), [PASSED, FAILED])
    assert verdict == "inconclusive"
    assert "victim quality" in why and "0.7" in why and "config/paper.yaml" in why


def test_no_estimate_is_not_run_and_no_interval_is_inconclusive():
    assert judge(None, at_least(0.5), [PASSED])[0] == "not_run"
    assert judge(Estimate(0.9, math.nan, math.nan, 3), at_least(0.5), [PASSED])[0] == "inconclusive"


def test_exact_interval_for_35_of_35_is_0_90_to_1():
    est = exact_share(35, 35)
    assert est.value == 1.0 and round(est.ci_low, 2) == 0.90 and est.ci_high == 1.0
    low = exact_share(0, 35)
    assert low.ci_low == 0.0 and round(low.ci_high, 2) == 0.10
    with pytest.raises(ValueError, match="36 successes out of 35"):
        exact_share(36, 35)


def test_share_difference_has_width_where_a_paired_bootstrap_collapses():
    est = share_difference(35, 35, 35, 35)
    assert est.value == 0 and est.ci_low < -0.05 and est.ci_high > 0.05


def test_flip_counts_count_only_correct_non_target_cases():
    y = np.array([1, 1, 1, 1, 0, 0])
    clean = np.array([1, 1, 1, 0, 0, 1])    # one death missed without trigger
    trig = np.array([0, 0, 1, 0, 0, 0])
    assert flip_counts(y, clean, trig, target=0) == (2, 3)


def test_two_sided_auroc_reads_a_reversed_detector_as_a_detector():
    est = two_sided_auroc(Estimate(0.18, 0.14, 0.22, 400))
    assert est.value == pytest.approx(0.82) and est.ci_low == pytest.approx(0.78) and est.ci_high == pytest.approx(0.86)
    across = two_sided_auroc(Estimate(0.48, 0.44, 0.53, 400))
    assert across.value == pytest.approx(0.52) and across.ci_low == 0.5 and across.ci_high == pytest.approx(0.56)


def test_combine_parts():
    assert combine(["reproduced", "reproduced"]) == "reproduced"
    assert combine(["reproduced", "not_reproduced"]) == "partly"
    assert combine(["reproduced", "inconclusive"]) == "inconclusive"
    assert combine(["not_run", "not_run"]) == "not_run"


def test_make_claim_records_gates_scale_and_parts(tmp_path):
    claim = make_claim("x-asr", title="ASR", statement="s", source="paper", paper_value="0.9",
                       estimate=exact_share(90, 100), rule=at_least(0.8, "flip rate"),
                       gates=[PASSED, enough_cases(100, 100, "triggered deaths")], scale="500 texts", seeds=1)
    assert claim.verdict == "reproduced" and claim.gate_passed and claim.n == 100
    assert "enough cases" in claim.gate and "passed" in claim.gate_value
    parts = make_claim("x-parts", title="two parts", statement="s", source="p", paper_value="",
                       estimate=exact_share(90, 100), rule=at_least(0.8),
                       parts=[Part("LR", exact_share(90, 100), at_least(0.8)),
                              Part("GRU", exact_share(10, 100), at_least(0.8))],
                       gates=[PASSED], scale="", seeds=1)
    assert parts.verdict == "partly" and "GRU: not_reproduced" in parts.why
    gated = make_claim("x-gated", title="t", statement="s", source="p", paper_value="", estimate=exact_share(1, 100),
                       rule=at_least(0.8), gates=[FAILED], scale="", seeds=1)
    assert gated.verdict == "inconclusive" and not gated.gate_passed
    path = tmp_path / "claims.csv"
    write_claims(path, [claim, parts, gated])
    back = read_claims(path).set_index("claim_id")["gate_passed"].to_dict()
    assert back == {"x-asr": True, "x-gated": False, "x-parts": True}


def test_every_claim_needs_a_gate():
    with pytest.raises(ValueError, match="at least one gate"):
        make_claim("x", title="t", statement="s", source="p", paper_value="", estimate=exact_share(1, 2),
                   rule=at_least(0.5), gates=[], scale="", seeds=1)


def test_records_refuse_a_failed_gate_judged_not_reproduced_and_zero_width_intervals():
    with pytest.raises(ValueError, match="failed gate"):
        Claim("x", "s", "p", "", 0.1, "not_reproduced", "r", 0.0, 0.2, gate="g", gate_passed=False, n=10)
    with pytest.raises(ValueError, match="zero-width"):
        Claim("x", "s", "p", "", 1.0, "reproduced", "r", 1.0, 1.0, gate="g", gate_passed=True, n=35)


def test_mean_ci_clips_to_the_range_of_the_quantity():
    from medrobust.core.metrics import mean_ci

    shares = np.array([0.02, 0.30])  # two seeds: the t interval alone reaches far below 0
    free = mean_ci(shares)
    clipped = mean_ci(shares, bounds=(0.0, 1.0))
    assert free.ci_low < 0 and free.ci_high > 1
    assert (clipped.ci_low, clipped.ci_high) == (0.0, 1.0)
    assert clipped.value == free.value
    narrow = mean_ci(np.array([0.4, 0.41, 0.42]), bounds=(0.0, 1.0))
    assert 0 < narrow.ci_low < 0.41 < narrow.ci_high < 1  # inside the range it changes nothing
