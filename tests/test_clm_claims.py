"""BadCLM's claims (medrobust.clm.claims) on constructed pooled metrics: verdicts follow the whole 95 %
interval, and a failed gate (weak victim, unfit poison, too few cases) gives inconclusive whatever the estimate."""
from __future__ import annotations

from pathlib import Path

import pytest

from medrobust.clm import claims as C
from medrobust.core.metrics import exact_share, share_difference
from medrobust.core.records import claims_frame

CTX = C.Context(headline=0.1, rates=(0.05, 0.1), scale="test scale", seeds=1)
H = "poison_rate=0.1"


def pooled(*, clean_auroc=0.8, flip=(130, 135), badnets_flip=(60, 130), fit=(190, 200), badnets_fit=(190, 200),
           drop=(0.01, -0.02, 0.04), false_trigger=(5, 135), clean_false=(4, 130), first=(128, 135),
           last=(127, 135), triggered=140) -> dict:
    m = {("none", "none", "", "clean_auroc"): C.Estimate(clean_auroc, clean_auroc - 0.04, clean_auroc + 0.04, 1000)}
    for rate in CTX.rates:
        s = C.setting(rate)
        m[("badclm", "none", s, "flip_rate")] = exact_share(*flip)
        m[("badnets", "none", s, "flip_rate")] = exact_share(*badnets_flip)
        m[("badclm", "none", s, "asr")] = C.Estimate(0.95, 0.9, 0.98, triggered)
        m[("badnets", "none", s, "asr")] = C.Estimate(0.5, 0.4, 0.6, triggered)
        m[("badclm", "none", s, "poison_fit")] = exact_share(*fit)
        m[("badnets", "none", s, "poison_fit")] = exact_share(*badnets_fit)
        m[("badclm", "none", s, "flip_gain_over_badnets")] = share_difference(*flip, *badnets_flip)
    m[("badclm", "none", H, "flip_rate_clean_model")] = exact_share(3, 100)
    m[("badclm", "none", H, "auroc_change_vs_clean_model")] = C.Estimate(-drop[0], -drop[2], -drop[1], 1000)
    m[("badclm", "none", H, "false_trigger_rate")] = exact_share(*false_trigger)
    m[("badclm", "none", H, "false_trigger_rate_clean_model")] = exact_share(*clean_false)
    m[("badclm", "none", H, "false_trigger_minus_clean_model")] = share_difference(*false_trigger, *clean_false)
    m[("badclm", "none", H, "flip_rate_first")] = exact_share(*first)
    m[("badclm", "none", H, "flip_rate_last")] = exact_share(*last)
    return m


def verdicts(m) -> dict[str, str]:
    return {c.claim_id: c.verdict for c in C.judge_all(m, CTX)}


def test_a_strong_specific_backdoor_in_a_good_victim_is_reproduced():
    records = C.judge_all(pooled(), CTX)
    assert {c.claim_id: c.verdict for c in records} == {
        "clm-asr": "reproduced", "clm-clean-performance": "reproduced", "clm-badclm-beats-badnets": "reproduced",
        "clm-trigger-specific": "reproduced"}
    frame = claims_frame(records)  # every row carries its gate, n, seeds, scale and title
    assert frame["gate_passed"].all() and (frame["seeds"] == 1).all() and (frame["scale"] == "test scale").all()
    assert (frame["n"] > 0).all() and frame["title"].str.len().gt(0).all() and frame["gate"].str.len().gt(0).all()


def test_the_flip_rate_decides_by_its_interval():
    assert verdicts(pooled(flip=(90, 135)))["clm-asr"] == "not_reproduced"   # 0.67 [0.58, 0.75] < 0.85
    assert verdicts(pooled(flip=(118, 135)))["clm-asr"] == "inconclusive"    # 0.87 [0.81, 0.92] straddles
    asr = next(c for c in C.judge_all(pooled(), CTX) if c.claim_id == "clm-asr")
    assert "clean model's flip rate" in asr.statement and "raw ASR" in asr.statement


def test_all_of_35_flipped_gets_the_exact_interval_and_fails_the_case_gate():
    record = next(c for c in C.judge_all(pooled(flip=(35, 35), triggered=35), CTX) if c.claim_id == "clm-asr")
    assert record.ci_low == pytest.approx(0.9, abs=0.001) and record.ci_high == 1.0
    assert record.verdict == "inconclusive" and "enough cases" in record.why


@pytest.mark.parametrize("gate", [dict(clean_auroc=0.70), dict(fit=(150, 200))])
def test_a_failed_gate_gives_inconclusive_whatever_the_estimate(gate):
    for claim_id, verdict in verdicts(pooled(**gate)).items():
        assert verdict == "inconclusive", claim_id
    record = C.judge_all(pooled(**gate), CTX)[0]
    assert not record.gate_passed and "would be met by" in record.why


def test_beats_badnets_needs_badnets_to_fit_its_poison_and_a_positive_interval():
    assert verdicts(pooled(badnets_fit=(100, 200)))["clm-badclm-beats-badnets"] == "inconclusive"
    assert verdicts(pooled(badnets_flip=(128, 135)))["clm-badclm-beats-badnets"] == "inconclusive"  # ~equal
    assert verdicts(pooled(flip=(60, 135), badnets_flip=(125, 130)))["clm-badclm-beats-badnets"] == "not_reproduced"


def test_clean_performance_is_a_drop_of_at_most_005():
    assert verdicts(pooled(drop=(0.088, -0.016, 0.190)))["clm-clean-performance"] == "inconclusive"
    assert verdicts(pooled(drop=(0.15, 0.08, 0.22)))["clm-clean-performance"] == "not_reproduced"


def test_a_backdoor_that_fires_on_other_rare_words_is_not_specific():
    v = verdicts(pooled(false_trigger=(80, 135)))["clm-trigger-specific"]
    assert v == "partly"  # the trigger parts hold, the control-word part does not
    assert verdicts(pooled(false_trigger=(80, 135), first=(50, 135), last=(40, 135)))[
        "clm-trigger-specific"] == "not_reproduced"


def test_missing_attacks_give_not_run():
    assert set(verdicts({}).values()) == {"not_run"}


def test_the_study_imports_no_legacy_rules():
    package = Path(C.__file__).parent
    assert not [p.name for p in package.glob("*.py") if "legacy_claims" in p.read_text()]


def test_beats_badnets_says_how_many_epochs_each_attack_trained():
    m = pooled()
    for rate in CTX.rates:
        m[("badclm", "none", C.setting(rate), "epochs_trained")] = C.Estimate(3.0, float("nan"), float("nan"), 1)
        m[("badnets", "none", C.setting(rate), "epochs_trained")] = C.Estimate(6.0, float("nan"), float("nan"), 1)
    record = next(c for c in C.judge_all(m, CTX) if c.claim_id == "clm-badclm-beats-badnets")
    assert "BadCLM 0.950 [" in record.statement and "after 3 epochs, BadNets" in record.statement
    assert record.statement.count("after 6 epochs") == 2
