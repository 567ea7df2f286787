"""The fedgan claims on constructed pooled numbers: each verdict is reachable, and a failed gate is inconclusive."""
from __future__ import annotations

import numpy as np

from medrobust.fedgan import claims as C
from medrobust.fedgan import figures
from medrobust.fedgan.collect import Pooled, Variant

N = 624  # samples per run, one per real test image
ROUNDS, K = 12, 4


def _run(attack, defense, seed, g=1.0, d=1.2, flagged_attacker=False):
    rng = np.random.default_rng([seed, len(attack), len(defense)])
    g_loss = g + 0.01 * rng.standard_normal((ROUNDS, K))
    d_loss = d + 0.01 * rng.standard_normal((ROUNDS, K))
    flagged = np.zeros((ROUNDS, K), dtype=bool)
    score = np.full((ROUNDS, K), np.nan)
    if defense != "none":
        score[3:] = 0.4
        flagged[3:, 0] = flagged_attacker
    y = np.arange(100) % 2
    p1 = np.clip(0.3 + 0.4 * y + 0.6 * rng.random(100) - 0.3, 0, 1)  # noisier than the real-only classifier
    proba = np.c_[1 - p1, p1]
    return {"attack": attack, "defense": defense, "seed_index": seed, "attackers": np.array([0]),
            "checkpoints": np.array([4, 8, 12]), "generator_loss": g_loss, "discriminator_loss": d_loss,
            "detector_score": score, "flagged": flagged, "weight": np.full((ROUNDS, K), 0.25),
            "test_labels": y, "augmented_test_proba": proba, "augmented_converged": True}


def _score(fid, kid, agreement, hits):
    return {"fid": np.full(3, fid), "kid": np.full(3, kid), "label_agreement": np.full(3, agreement),
            "trigger_hits": np.int64(hits), "trigger_inspected": np.int64(N)}


def _pooled(seeds=2, agreement=0.95, fids=(3.0, 6.0, 3.5), hits=(1, 200, 2), flagged=True) -> Pooled:
    """Clean, attacked, and attacked under each FedDetect variant, ``seeds`` runs each."""
    spec = {("none", "none"): (fids[0], hits[0]), ("patch_trigger", "none"): (fids[1], hits[1]),
            ("patch_trigger", "feddetect"): (fids[2], hits[2]),
            ("patch_trigger", "feddetect_authors"): (fids[2], hits[2])}
    variants = {}
    for (attack, defense), (fid, k) in spec.items():
        runs = [_run(attack, defense, s, flagged_attacker=flagged) for s in range(seeds)]
        scores = [_score(fid + 0.3 * s, fid / 100 + 0.001 * s, agreement, k) for s in range(seeds)]
        variants[(attack, defense)] = Variant(attack, defense, runs, scores, final_checkpoints=3)
    y = np.arange(100) % 2
    evaluators = {"fid_real_val": 0.2, "detector_tp": 620, "detector_tp_faint": 600, "detector_fp": 1, "detector_n": N,
                  **{f"real_test_proba_{s}": np.c_[1 - (0.35 + 0.3 * y), 0.35 + 0.3 * y] for s in range(seeds)},
                  **{f"real_converged_{s}": True for s in range(seeds)}}
    return Pooled(variants, evaluators, {}, "fixture scale", seeds)


def test_trigger_spread_is_reproduced_when_the_attack_adds_the_trigger_and_refuted_when_not():
    spread = C.trigger_spreads(_pooled())
    assert spread.verdict == "reproduced" and spread.gate_passed
    assert spread.n == 2 * N and spread.seeds == 2
    assert "TPR 0.994" in spread.statement and "FPR 0.002" in spread.statement
    assert C.trigger_spreads(_pooled(hits=(0, 1, 0))).verdict == "not_reproduced"
    noisy = C.trigger_spreads(_pooled(hits=(60, 200, 2)))  # the detector fires on the clean GAN too
    assert noisy.verdict == "inconclusive" and "absent without attack" in noisy.why


def test_a_clean_gan_below_the_quality_gate_makes_every_gan_claim_inconclusive():
    pooled = _pooled(agreement=0.6)
    for claim in C.judge_all(pooled):
        assert claim.verdict == "inconclusive", claim.claim_id
        assert "clean GAN quality" in claim.why and "fedgan.rounds" in claim.why


def test_fidelity_differences_need_seeds_as_replicates():
    assert C.fidelity_drops(_pooled(seeds=3)).verdict == "reproduced"
    one = C.fidelity_drops(_pooled(seeds=1))
    assert one.verdict == "inconclusive" and "seeds" in one.why and one.seeds == 1
    better = C.fidelity_drops(_pooled(seeds=3, fids=(6.0, 3.0, 3.0)))
    assert better.verdict == "not_reproduced"


def test_feddetect_detection_and_restoration():
    pooled = _pooled(seeds=3)
    assert C.feddetect_flags_attacker(pooled, "feddetect_authors").verdict == "reproduced"
    assert C.feddetect_spares_benign(pooled, "feddetect").verdict == "reproduced"
    assert C.feddetect_removes_trigger(pooled, "feddetect").verdict == "reproduced"
    assert C.feddetect_restores_fidelity(pooled, "feddetect_authors").verdict == "reproduced"
    missed = _pooled(seeds=3, flagged=False)
    assert C.feddetect_flags_attacker(missed, "feddetect").verdict == "not_reproduced"
    kept = C.feddetect_removes_trigger(_pooled(seeds=3, hits=(1, 200, 200)), "feddetect")
    assert kept.verdict in ("inconclusive", "partly", "not_reproduced") and kept.verdict != "reproduced"


def test_augmentation_gain_is_judged_over_seeds():
    gain = C.augmentation_helps(_pooled(seeds=3))
    assert gain.measured < 0 and gain.ci_high < 0  # the fixture's augmented classifiers are noisier
    assert gain.verdict == "not_reproduced" and gain.seeds == 3 and gain.n == 3


def test_every_claim_has_a_title_gate_and_scale():
    for claim in C.judge_all(_pooled()):
        assert claim.title and claim.gate and claim.scale == "fixture scale", claim.claim_id


def test_figures_draw_the_claims_gate():
    assert figures.LABEL_AGREEMENT_MIN == C.LABEL_AGREEMENT_MIN
