"""Pool the fedgan runs into the common metrics table and judge the published claims.

Replicates. Quality swings from round to round, so every run is scored at several checkpoints
(:func:`medrobust.fedgan.experiment.checkpoint_rounds`), and losses are averaged over the rounds
between checkpoints. A variant's value is the mean over seeds of the per-seed mean over
checkpoints. Its CI is a t interval over seeds when there are at least two; with one seed it is a
t interval over the checkpoints of that run (``seeds`` = 1, ``n`` = checkpoints), which shows how
much quality swings within a run but not how much it varies between runs, so it is too narrow
for claims about the federation in general. Intervals of shares are clipped to [0, 1]. Differences between variants are paired the same way
(same seed index, same checkpoint), which the common random numbers of the runs make meaningful.

FedDetect rates are per round after its warm-up, pooled over seeds, with Wilson intervals; in
runs without the defense the detector still scores every round without acting ("passive").
Downstream AUC/ACC use the percentile bootstrap over test images (paired for differences) with
one seed, and a t interval over seeds with more.

Verdict rule added here (:func:`directional`): a claim that one variant is higher (or lower) than
another is *reproduced* if the difference has the claimed sign and its 95% CI excludes 0,
*partly* if it has the claimed sign but the CI reaches 0, and *not_reproduced* otherwise. The
detection claims use :func:`medrobust.core.claims.at_least` / ``at_most`` with thresholds stated
in the claims file.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from medrobust.core.legacy_claims import at_least, at_most
from medrobust.core.metrics import Estimate, mean_ci, proportion_ci
from medrobust.core.records import Claim, Metric
from medrobust.fedgan import downstream

STUDY = "fedgan"
SOURCE = "Jin & Li, Medical Image Analysis 2023;90:102965 (and SASHIMI 2022)"
CHECKPOINT_METRICS = ("classifier_frechet_distance", "precision", "recall", "label_agreement", "trigger_share",
                      "trigger_score")
LOSS_METRICS = ("generator_loss", "generator_loss_benign", "generator_loss_attacker_client",
                "discriminator_loss_benign", "discriminator_loss_attacker_client", "discriminator_gap")


def directional(diff: float, ci_low: float, ci_high: float, direction: int) -> tuple[str, str]:
    word = "above" if direction > 0 else "below"
    rule = (f"reproduced if the difference is {word} 0 and its 95% CI excludes 0; partly if it is {word} 0 "
            f"but the CI reaches 0; else not_reproduced")
    if diff is None or not math.isfinite(diff):
        return "not_run", rule
    if diff * direction <= 0:
        return "not_reproduced", rule
    bound = ci_low if direction > 0 else ci_high
    excludes = math.isfinite(bound) and bound * direction > 0
    return ("reproduced" if excludes else "partly"), rule


def loss_windows(run: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per checkpoint window, the loss summaries of :data:`LOSS_METRICS`."""
    g, d = run["generator_loss"], run["discriminator_loss"]
    rounds = len(g)
    ends = [int(c) for c in run["checkpoints"]]
    starts = [min(rounds // 2, ends[0] - 1)] + ends[:-1]  # windows (previous checkpoint, checkpoint]
    attacker = np.zeros(g.shape[1], dtype=bool)
    attacker[run["attackers"]] = True
    out = {k: [] for k in LOSS_METRICS}
    for a, b in zip(starts, ends):
        gw, dw = g[a:b], d[a:b]
        out["generator_loss"].append(np.nanmean(gw))
        out["generator_loss_benign"].append(np.nanmean(gw[:, ~attacker]))
        out["generator_loss_attacker_client"].append(np.nanmean(gw[:, attacker]))
        out["discriminator_loss_benign"].append(np.nanmean(dw[:, ~attacker]))
        out["discriminator_loss_attacker_client"].append(np.nanmean(dw[:, attacker]))
        out["discriminator_gap"].append(out["discriminator_loss_benign"][-1]
                                        - out["discriminator_loss_attacker_client"][-1])
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def replicates(runs: Sequence[Mapping[str, np.ndarray]], metric: str) -> np.ndarray:
    """``(seeds, checkpoints)`` values of ``metric`` over ``runs`` (sorted by seed index)."""
    rows = [loss_windows(r)[metric] if metric in LOSS_METRICS else np.asarray(r[metric], dtype=float) for r in runs]
    return np.vstack(rows)


SHARES = ("precision", "recall", "label_agreement", "trigger_share", "trigger_score")


def replicate_estimate(values: np.ndarray, bounded: bool = False) -> Estimate:
    """Mean with a t interval over seeds (or over checkpoints with one seed); ``bounded`` clips it to [0, 1]."""
    per_seed = np.nanmean(values, axis=1)
    est = mean_ci(per_seed) if len(per_seed) >= 2 else mean_ci(values[0])
    if not bounded:
        return est
    return Estimate(est.value, float(np.clip(est.ci_low, 0, 1)), float(np.clip(est.ci_high, 0, 1)), est.n)


def collect(runs: Sequence[Mapping[str, np.ndarray]], evaluators: Mapping[str, np.ndarray], cfg: Mapping[str, Any],
            dataset: str, seed: int, n_boot: int) -> tuple[list[Metric], list[Claim]]:
    by_variant: dict[tuple[str, str], list[Mapping[str, np.ndarray]]] = {}
    for run in sorted(runs, key=lambda r: int(r["seed_index"])):
        by_variant.setdefault((str(run["attack"]), str(run["defense"])), []).append(run)
    rng = np.random.default_rng(seed)
    metrics: list[Metric] = []

    def add(model, attack, defense, metric, est: Estimate, seeds, setting=""):
        metrics.append(Metric(STUDY, dataset, model, attack, defense, metric, est.value, est.ci_low, est.ci_high,
                              est.n, seeds, setting))

    for (attack, defense), group in by_variant.items():
        for metric in CHECKPOINT_METRICS + LOSS_METRICS:
            add("cdcgan", attack, defense, metric, replicate_estimate(replicates(group, metric), metric in SHARES),
                len(group))
        for name, est in detection_rates(group, attack).items():
            add("cdcgan", attack, defense, name, est, len(group),
                "feddetect=active" if defense == "feddetect" else "feddetect=passive")
        if defense == "feddetect":
            final = [float(np.sum(r["weight"][-1][r["attackers"]])) for r in group]
            add("cdcgan", attack, defense, "attacker_weight_final", mean_ci(np.asarray(final)), len(group))
    metrics += downstream_metrics(by_variant, evaluators, dataset, rng, n_boot)
    metrics += evaluator_metrics(evaluators, dataset, cfg)
    return metrics, judge(by_variant, evaluators, rng, n_boot)


def detection_rates(group: Sequence[Mapping[str, np.ndarray]], attack: str) -> dict[str, Estimate]:
    """Per-round flag rates after the warm-up, pooled over seeds; the attacker's only under attack."""
    hits = trials = false = negatives = 0
    first, detected = [], 0
    for run in group:
        scored = ~np.isnan(run["detector_score"]).all(axis=1)
        flagged = run["flagged"][scored]
        attacker = np.zeros(flagged.shape[1], dtype=bool)
        attacker[run["attackers"]] = True
        if attack != "none":
            hits += int(flagged[:, attacker].sum())
            trials += int(flagged[:, attacker].size)
            rounds = np.flatnonzero(run["flagged"][:, attacker].any(axis=1))
            if len(rounds):
                detected += 1
                first.append(rounds[0] + 1)
        benign = flagged[:, ~attacker] if attack != "none" else flagged
        false += int(benign.sum())
        negatives += int(benign.size)
    out = {"feddetect_fpr": proportion_ci(false, negatives)}
    if attack != "none":
        out["feddetect_tpr"] = proportion_ci(hits, trials)
        out["feddetect_detected_share"] = proportion_ci(detected, len(group))
        if first:
            out["feddetect_first_flag_round"] = mean_ci(np.asarray(first, dtype=float))
    return {k: v for k, v in out.items() if not math.isnan(v.value)}


def _auc_estimates(y: np.ndarray, probas: Sequence[np.ndarray], rng, n_boot: int) -> dict[str, Estimate]:
    if len(probas) == 1:
        return downstream.evaluate(y, probas[0], rng, n_boot)
    return {"auc": mean_ci(np.array([downstream.auc(y, p) for p in probas])),
            "acc": mean_ci(np.array([downstream.accuracy(y, p) for p in probas]))}


def _gain(y: np.ndarray, augmented: Sequence[np.ndarray], real: Sequence[np.ndarray], rng, n_boot: int) -> Estimate:
    if len(augmented) == 1:
        return downstream.paired_difference(y, augmented[0], real[0], downstream.auc, rng, n_boot)
    return mean_ci(np.array([downstream.auc(y, a) - downstream.auc(y, r) for a, r in zip(augmented, real)]))


def downstream_metrics(by_variant, evaluators, dataset, rng, n_boot) -> list[Metric]:
    rows = []
    any_run = next(iter(by_variant.values()))[0]
    y = any_run["test_labels"]
    seeds = sorted({int(r["seed_index"]) for g in by_variant.values() for r in g})
    real = [evaluators[f"real_test_proba_{s}"] for s in seeds]
    for name, est in _auc_estimates(y, real, rng, n_boot).items():
        rows.append(Metric(STUDY, dataset, "cnn", "none", "none", name, est.value, est.ci_low, est.ci_high, est.n,
                           len(real), "training=real"))
    for (attack, defense), group in by_variant.items():
        aug = [r["augmented_test_proba"] for r in group]
        paired_real = [evaluators[f"real_test_proba_{int(r['seed_index'])}"] for r in group]
        ests = _auc_estimates(y, aug, rng, n_boot)
        ests["auc_gain"] = _gain(y, aug, paired_real, rng, n_boot)
        for name, est in ests.items():
            rows.append(Metric(STUDY, dataset, "cnn", attack, defense, name, est.value, est.ci_low, est.ci_high,
                               est.n, len(group), "training=real+synthetic"))
    return rows


def evaluator_metrics(evaluators, dataset, cfg) -> list[Metric]:
    def row(model, attack, metric, value, setting, n=0):
        return Metric(STUDY, dataset, model, attack, "none", metric, float(value), n=n, seeds=1, setting=setting)

    size = cfg["trigger"]["size"]
    return [
        row("trigger", "patch_trigger", "trigger_area_share", evaluators["trigger_area_share"], f"size={size}"),
        row("trigger_detector", "patch_trigger", "detector_tpr", evaluators["detector_tpr"], "split=test;strength=1"),
        row("trigger_detector", "patch_trigger", "detector_tpr_faint", evaluators["detector_tpr_faint"],
            f"split=test;strength={cfg['evaluators']['detector_min_strength']}"),
        row("trigger_detector", "none", "detector_fpr", evaluators["detector_fpr"], "split=test"),
        row("real_data", "none", "classifier_frechet_distance", evaluators["frechet_real_val"], "split=val"),
        row("real_data", "none", "precision", evaluators["precision_real_val"], "split=val"),
        row("real_data", "none", "recall", evaluators["recall_real_val"], "split=val"),
    ]


def _difference(a: Sequence, b: Sequence, metric: str) -> Estimate:
    """Paired difference of a metric between two variants' runs (by seed, or by checkpoint with one seed)."""
    va, vb = replicates(a, metric), replicates(b, metric)
    if len(va) != len(vb):
        raise ValueError(f"metric {metric}: {len(va)} and {len(vb)} seeds cannot be paired")
    diff = va - vb
    return mean_ci(np.nanmean(diff, axis=1)) if len(diff) >= 2 else mean_ci(diff[0])


def judge(by_variant, evaluators, rng, n_boot) -> list[Claim]:
    clean = by_variant.get(("none", "none"))
    attacked = by_variant.get(("patch_trigger", "none"))
    feddetect = by_variant.get(("patch_trigger", "feddetect"))
    claims = []

    def directional_claim(claim_id, statement, paper_value, a, b, metric, direction):
        est = _difference(a, b, metric) if a and b else Estimate(float("nan"), float("nan"), float("nan"), 0)
        verdict, rule = directional(est.value, est.ci_low, est.ci_high, direction)
        claims.append(Claim(claim_id, statement, SOURCE, paper_value, est.value, verdict, rule, est.ci_low,
                            est.ci_high))

    directional_claim(
        "fedgan_c1_fidelity_drops",
        "A trigger on one client's images lowers the fidelity of the federation's synthetic images "
        "(classifier Frechet distance, attacked minus clean federation)",
        "low-fidelity synthetic images under attack (FID higher than without attack)",
        attacked, clean, "classifier_frechet_distance", +1)
    directional_claim(
        "fedgan_c1_generator_loss_rises",
        "Under attack the clients' generator loss rises (mean over clients, attacked minus clean)",
        "higher generator loss under attack", attacked, clean, "generator_loss", +1)
    directional_claim(
        "fedgan_c2_discriminator_overfits",
        "The malicious client's discriminator overfits its poisoned data: its loss falls below the benign "
        "clients' (benign minus malicious discriminator loss, attacked minus the same gap in the clean run)",
        "the malicious client's local discriminator overfits the poisoned data", attacked, clean,
        "discriminator_gap", +1)
    directional_claim(
        "fedgan_c2_damage_spreads",
        "Averaging generators spreads the damage: the benign clients' generator loss rises (attacked minus clean)",
        "benign clients contaminated through the averaged generator", attacked, clean, "generator_loss_benign", +1)
    if feddetect:
        rates = detection_rates(feddetect, "patch_trigger")
        tpr = rates.get("feddetect_tpr", Estimate(float("nan"), float("nan"), float("nan"), 0))
        fpr = rates["feddetect_fpr"]
        verdict, rule = at_least(tpr.value, tpr.ci_high, 0.8, 0.5)
        claims.append(Claim("fedgan_c3_feddetect_flags_attacker",
                            "FedDetect flags the malicious client from the reported losses (share of rounds after "
                            "the warm-up in which it is flagged)", SOURCE, "the malicious client is detected",
                            tpr.value, verdict, rule, tpr.ci_low, tpr.ci_high))
        verdict, rule = at_most(fpr.value, fpr.ci_low, 0.1, 0.2)
        claims.append(Claim("fedgan_c3_feddetect_spares_benign",
                            "FedDetect rarely flags benign clients (share of benign client-rounds flagged after the "
                            "warm-up)", SOURCE, "benign clients are kept", fpr.value, verdict, rule, fpr.ci_low,
                            fpr.ci_high))
    else:
        for cid in ("fedgan_c3_feddetect_flags_attacker", "fedgan_c3_feddetect_spares_benign"):
            claims.append(Claim(cid, "FedDetect detection (not configured)", SOURCE, "", float("nan"), "not_run",
                                "needs feddetect in fedgan.defenses"))
    directional_claim(
        "fedgan_c3_feddetect_restores_fidelity",
        "With FedDetect the federation again synthesises higher-fidelity images (classifier Frechet distance, "
        "FedDetect minus undefended attacked federation)",
        "high-quality synthetic images with FedDetect", feddetect, attacked, "classifier_frechet_distance", -1)
    if feddetect:
        y = feddetect[0]["test_labels"]
        gain = _gain(y, [r["augmented_test_proba"] for r in feddetect],
                     [evaluators[f"real_test_proba_{int(r['seed_index'])}"] for r in feddetect], rng, n_boot)
    else:
        gain = Estimate(float("nan"), float("nan"), float("nan"), 0)
    verdict, rule = directional(gain.value, gain.ci_low, gain.ci_high, +1)
    claims.append(Claim("fedgan_c3_augmentation_helps",
                        "Synthetic images from the FedDetect federation improve a diagnostic classifier as "
                        "augmentation (test AUC, real plus synthetic minus real only)", SOURCE,
                        "higher classification performance with synthetic augmentation", gain.value, verdict, rule,
                        gain.ci_low, gain.ci_high))
    return claims
