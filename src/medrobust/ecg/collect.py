"""metrics.csv and claims.csv of the ecg study, from the jobs' arrays.

Metric ids (``study=ecg``, ``dataset=challenge2017``, ``model``: the victim's architecture,
``resnet1d`` or ``han2020``; ``setting`` holds eps):

* clean, attack ``none``: ``accuracy`` (Wilson CI), ``macro_f1`` (the challenge's F1 over N, A, O)
  and ``f1_n``/``f1_a``/``f1_o`` (bootstrap CIs), on the whole test split, per defense that
  changes the model or its input; ``confusion`` (counts, ``setting`` true=..;pred=..) of the victim;
  ``attacked_ecgs`` per class (``setting`` class=..) and ``asr_by_class`` at the headline eps.
* ``asr`` (exact Clopper-Pearson CI): the share of attacked (correctly classified) ECGs whose
  prediction flips. With defense ``none`` for ``pgd``, ``sap``, ``pgd_art`` (ART's PGD, headline eps
  only) and ``random_sign`` (the control, headline eps); ``lowpass``/``median``: the filtered
  victim on the same adversarial ECGs (denominator: ECGs both the victim and the filtered victim
  classify correctly), and ``pgd_adaptive``/``sap_adaptive`` when attacked through the filter;
  ``hf_energy``/``learned_detector``: flipped *and* not flagged at the threshold that flags 5 %
  of clean calibration ECGs; ``adversarial_training``: white-box on the fine-tuned model;
  ``randomized_smoothing``: white-box on the noise-trained base model, judged by the smoothed
  model's PREDICT (abstaining counts as not flipped).
* ``robust_accuracy`` (undefended victim and adversarial training): test accuracy x (1 - ASR), the
  share of the test split classified right and still right under the attack (point value).
* ``asr_gap_art``: our PGD ASR minus ART's; ``throughput``: examples x iterations per second.
* ``total_variation`` and ``hf_energy_fraction`` of the perturbations (means, bootstrap CIs).
* ``auroc`` and ``tpr_at_5fpr`` of each detector (bootstrap CIs over ECGs, clean vs adversarial
  paired), ``fpr_calibrated`` (clean test ECGs flagged at the calibration threshold).
* ``new_per_known`` and ``new_share``: new adversarial examples per known one (of ``k``
  candidates) and their share, per technique (attack ``sap_noise_resmooth``/``sap_band``/
  ``sap_splice``); ``new_distance``: the candidates' mean |difference| from the known example
  (ADC units per sample); ``pair_correlation``: how alike the two known SAP examples are.
* ``targeted_success`` when configured; ``certified_accuracy`` at L2 radius eps
  (``ball=l2``) and eps * sqrt(length) (``ball=linf``, the ball holding the L-infinity one),
  ``max_certifiable_radius``, ``smoothed_accuracy`` and ``abstain_rate``.

:func:`pool` gathers what the claims read; the claims, their gates and rules are in
:mod:`medrobust.ecg.claims`.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from scipy.stats import rankdata

from medrobust.core.metrics import Estimate, bootstrap_ci, exact_share
from medrobust.core.records import Claim, Metric, format_setting
from medrobust.ecg.claims import DETECTORS, FILTERS, Pooled, all_claims
from medrobust.ecg.model import ModelConfig, n_convs
from medrobust.ecg.randomized_smoothing import ABSTAIN, max_radius
from medrobust.ecg.smoothness import hf_energy_fraction, total_variation
from medrobust.ecg.split import CLASSES, SCORED, Prepared, left_align

STUDY, DATASET = "ecg", "challenge2017"


def f1(y: np.ndarray, pred: np.ndarray, labels) -> float:
    """Mean per-class F1 over ``labels`` (sklearn's macro F1 with zero_division=0), fast enough to
    bootstrap a thousand times."""
    scores = []
    for c in labels:
        tp = np.sum((pred == c) & (y == c))
        denom = np.sum(pred == c) + np.sum(y == c)
        scores.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(scores))


def auroc(labels: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve as the Mann-Whitney statistic (ties count one half); equal to
    sklearn's roc_auc_score, without its overhead."""
    labels = np.asarray(labels, dtype=bool)
    n1, n0 = int(labels.sum()), int((~labels).sum())
    if n1 == 0 or n0 == 0:
        raise ValueError("AUROC needs both classes")
    ranks = rankdata(score)
    return float((ranks[labels].sum() - n1 * (n1 + 1) / 2) / (n0 * n1))


def tpr_at_fpr(labels: np.ndarray, score: np.ndarray, fpr_target: float = 0.05) -> float:
    """The largest detection rate at a false-positive rate <= ``fpr_target``, exactly: flag scores
    above the (k+1)-th highest negative score, k = floor(fpr_target * negatives). (sklearn's
    ``roc_curve`` with its default ``drop_intermediate=True`` can drop that point.)"""
    labels = np.asarray(labels, dtype=bool)
    negatives = np.sort(np.asarray(score)[~labels])[::-1]
    if len(negatives) == 0 or labels.sum() == 0:
        raise ValueError("TPR at FPR needs both classes")
    k = int(np.floor(fpr_target * len(negatives) + 1e-9))
    threshold = negatives[k] if k < len(negatives) else -np.inf
    return float(np.mean(np.asarray(score)[labels] > threshold))


class Sink:
    """Collects metric rows with the study's fixed ids (``model``: the victim's architecture)."""

    def __init__(self, model: str = "resnet1d") -> None:
        self.model = model
        self.rows: list[Metric] = []

    def add(self, attack: str, defense: str, metric: str, value: float, ci=(math.nan, math.nan),
            n: int = 0, setting: dict | None = None) -> None:
        if value is None or not np.isfinite(value):
            return  # undefined (e.g. no ECG to attack): no row rather than an empty one
        self.rows.append(Metric(STUDY, DATASET, self.model, attack, defense, metric, float(value),
                                float(ci[0]), float(ci[1]), int(n), 1, format_setting(setting)))

    def share(self, attack, defense, metric, hits: np.ndarray, setting=None) -> None:
        hits = np.asarray(hits, dtype=bool)
        est = exact_share(int(hits.sum()), len(hits))
        self.add(attack, defense, metric, est.value, (est.ci_low, est.ci_high), est.n, setting)

    def boot(self, attack, defense, metric, fn: Callable, arrays, rng, n_boot, setting=None) -> None:
        if len(arrays[0]) == 0:
            return
        try:
            est = bootstrap_ci(fn, *arrays, rng=rng, n_boot=n_boot)
        except ValueError:
            return
        self.add(attack, defense, metric, est.value, (est.ci_low, est.ci_high), est.n, setting)


def eps_setting(eps: float) -> dict:
    return {"eps": f"{float(eps):g}"}


def collect(prepared: Prepared, victim: dict, attacks: dict, defenses: dict[str, dict], cfg: dict,
            fs: int, rng: np.random.Generator, n_boot: int, labels: str = "v3") -> tuple[list[Metric], list[Claim]]:
    sink = Sink(cfg["model"]["architecture"])
    y_test = prepared.y_test
    pred_test = victim["prob_test"].argmax(1)
    clean_metrics(sink, "none", y_test, pred_test, rng, n_boot)
    confusion_metrics(sink, y_test, pred_test)
    y = y_test[attacks["pos"]]
    eps_list = [float(e) for e in attacks["eps"]]
    attack_metrics(sink, attacks, y, prepared, cfg, fs, rng, n_boot, float(np.mean(pred_test == y_test)))
    if "preprocessing" in defenses:
        filter_metrics(sink, defenses["preprocessing"], attacks, y, y_test, eps_list, rng, n_boot)
    if "detectors" in defenses:
        detector_metrics(sink, defenses["detectors"], attacks, y, eps_list, rng, n_boot)
    if "adversarial_training" in defenses:
        white_box_metrics(sink, "adversarial_training", defenses["adversarial_training"], y_test, rng, n_boot)
    if "randomized_smoothing" in defenses:
        smoothing_metrics(sink, defenses["randomized_smoothing"], prepared, y_test, rng, n_boot)
    pooled = pool(prepared, victim, attacks, defenses, cfg, fs, rng, n_boot, labels)
    return sink.rows, all_claims(pooled)


# ------------------------------------------------------------------------------------ metrics

def clean_metrics(sink: Sink, defense: str, y: np.ndarray, pred: np.ndarray, rng, n_boot: int) -> None:
    sink.share("none", defense, "accuracy", pred == y)
    sink.boot("none", defense, "macro_f1", lambda a, b: f1(a, b, SCORED), (y, pred), rng, n_boot)
    for c, name in zip(SCORED, ("n", "a", "o")):
        sink.boot("none", defense, f"f1_{name}", lambda a, b, c=c: f1(a, b, [c]), (y, pred), rng, n_boot)


def confusion_metrics(sink: Sink, y: np.ndarray, pred: np.ndarray) -> None:
    """The victim's confusion matrix on the test split, one count per (true, predicted) class."""
    for t, true in enumerate(CLASSES):
        for q, predicted in enumerate(CLASSES):
            sink.add("none", "none", "confusion", float(np.sum((y == t) & (pred == q))), n=len(y),
                     setting={"true": true, "pred": predicted})


def attack_metrics(sink: Sink, attacks: dict, y: np.ndarray, prepared: Prepared, cfg: dict, fs: int,
                   rng, n_boot: int, accuracy: float) -> None:
    start, length = prepared.test_start[attacks["pos"]], prepared.test_length[attacks["pos"]]
    cutoff = cfg["attacks"]["smoothness_cutoff_hz"]
    headline = float(cfg["headline_setting"]["eps"])
    for c, name in enumerate(CLASSES):
        sink.add("none", "none", "attacked_ecgs", float(np.sum(y == c)), n=len(y), setting={"class": name})
    for i, eps in enumerate(attacks["eps"]):
        s = eps_setting(eps)
        flips = {"pgd": attacks["prob_pgd"][i].argmax(1) != y, "sap": attacks["prob_sap"][i].argmax(1) != y}
        for kind, hit in flips.items():
            sink.share(kind, "none", "asr", hit, s)
            if len(hit):
                sink.add(kind, "none", "robust_accuracy", accuracy * (1 - hit.mean()), n=len(hit), setting=s)
            delta = left_align(attacks[f"delta_{kind}"][i], start)
            sink.boot(kind, "none", "total_variation", np.mean, (total_variation(delta, length),), rng, n_boot, s)
            sink.boot(kind, "none", "hf_energy_fraction", np.mean, (hf_energy_fraction(delta, fs, cutoff, length),),
                      rng, n_boot, s)
            if float(eps) == headline:
                for c, name in enumerate(CLASSES):
                    if np.any(y == c):
                        sink.share(kind, "none", "asr_by_class", hit[y == c], {**s, "class": name})
        if len(y):
            for j, kind in enumerate(("pgd", "sap", "pgd_art")):
                sink.add(kind, "none", "throughput", attacks["throughput"][i, j], n=len(y), setting=s)
    s = eps_setting(headline)
    if "pred_art" in attacks and len(y):
        i = list(attacks["eps"]).index(float(attacks["art_eps"]))
        art = attacks["pred_art"] != y
        sink.share("pgd_art", "none", "asr", art, s)
        sink.add("pgd", "none", "asr_gap_art", float((attacks["prob_pgd"][i].argmax(1) != y).mean() - art.mean()),
                 n=len(y), setting=s)
    if "pred_random_sign" in attacks and len(y):
        sink.share("random_sign", "none", "asr", attacks["pred_random_sign"] != y, s)
    if "new_k" in attacks:
        k, s = int(attacks["new_k"]), eps_setting(attacks["new_eps"])
        i = list(attacks["eps"]).index(float(attacks["new_eps"]))
        known = _known_examples(attacks, y, i)
        sink.share("sap_random_start", "none", "asr", attacks["pred_sap_random_start"] != y, s)
        sink.boot("sap_random_start", "none", "pair_correlation", np.mean,
                  (attacks["pair_correlation"][known["band"]],), rng, n_boot, s)
        for name, rows in known.items():
            counts, sk = attacks[f"new_{name}"][rows], {**s, "k": k}
            sink.boot(f"sap_{name}", "none", "new_per_known", np.mean, (counts,), rng, n_boot, sk)
            est = candidate_share(counts, k, rng, n_boot)
            sink.add(f"sap_{name}", "none", "new_share", est.value, (est.ci_low, est.ci_high), est.n, sk)
            sink.boot(f"sap_{name}", "none", "new_distance", np.mean, (attacks[f"new_{name}_distance"][rows],),
                      rng, n_boot, sk)
    if "targeted_class" in attacks:
        target = int(attacks["targeted_class"])
        s = {**eps_setting(headline), "target": CLASSES[target]}
        for kind in ("pgd", "sap"):
            sink.share(kind, "none", "targeted_success", attacks[f"targeted_pred_{kind}"] == target, s)


def _known_examples(attacks: dict, y: np.ndarray, i: int) -> dict[str, np.ndarray]:
    """Per technique, the attacked ECGs it starts from: a successful SAP example (noise +
    re-smoothing), or two of them, SAP from PGD and SAP from a random start (band, splice)."""
    known_a = attacks["prob_sap"][i].argmax(1) != y
    known_ab = known_a & (attacks["pred_sap_random_start"] != y)
    return {"noise_resmooth": known_a, "band": known_ab, "splice": known_ab}


def candidate_share(counts: np.ndarray, k: int, rng, n_boot: int) -> Estimate:
    """The share of candidates that are adversarial, with a bootstrap interval over known examples
    (the k candidates of one example are not independent). Where every resample gives the same
    share (every candidate adversarial, or none), the exact interval counting each known example
    once takes its place: the bootstrap has no width there, yet n examples cannot rule out a rate
    near 1 (or 0)."""
    counts = np.asarray(counts, dtype=float)
    if len(counts) == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    est = bootstrap_ci(lambda c: np.mean(c) / k, counts, rng=rng, n_boot=n_boot)
    if est.ci_low < est.ci_high:
        return est
    exact = exact_share(int(round(est.value * len(counts))), len(counts))
    return Estimate(est.value, exact.ci_low, exact.ci_high, len(counts))


def filter_metrics(sink, pre: dict, attacks: dict, y, y_test, eps_list, rng, n_boot) -> None:
    for name in pre["filters"]:
        name = str(name)
        clean_metrics(sink, name, y_test, pre[f"{name}_prob_test"].argmax(1), rng, n_boot)
        still = pre[f"{name}_prob_clean"].argmax(1) == y  # the filtered victim is right on the clean ECG
        for kind in ("pgd", "sap"):
            for i, eps in enumerate(eps_list):
                flipped = pre[f"{name}_prob_{kind}"][i].argmax(1) != y
                sink.share(kind, name, "asr", flipped[still], eps_setting(eps))
            if f"{name}_adaptive_eps" in pre:
                for i, eps in enumerate(pre[f"{name}_adaptive_eps"]):
                    flipped = pre[f"{name}_adaptive_prob_{kind}"][i].argmax(1) != y
                    sink.share(f"{kind}_adaptive", name, "asr", flipped[still], eps_setting(eps))


def detection(clean: np.ndarray, adv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores for ROC code: clean ECGs 0, adversarial 1."""
    return np.r_[np.zeros(len(clean)), np.ones(len(adv))], np.r_[clean, adv]


def _paired(fn):
    """A detection metric over paired (clean, adversarial) score columns, for the bootstrap."""
    return lambda c, a: fn(*detection(c, a))


def detector_metrics(sink, det: dict, attacks: dict, y, eps_list, rng, n_boot) -> None:
    for name in DETECTORS:
        clean, calibration = det[f"{name}_clean"], det[f"{name}_calibration"]
        threshold = np.quantile(calibration, 0.95)
        sink.share("none", name, "fpr_calibrated", clean > threshold)
        for kind in ("pgd", "sap"):
            for i, eps in enumerate(eps_list):
                s, adv = eps_setting(eps), det[f"{name}_{kind}"][i]
                sink.boot(kind, name, "auroc", _paired(auroc), (clean, adv), rng, n_boot, s)
                sink.boot(kind, name, "tpr_at_5fpr", _paired(lambda t, sc: tpr_at_fpr(t, sc, 0.05)),
                          (clean, adv), rng, n_boot, s)
                flipped = attacks[f"prob_{kind}"][i].argmax(1) != y
                sink.share(kind, name, "asr", flipped & (adv <= threshold), s)


def white_box_metrics(sink, defense: str, res: dict, y_test, rng, n_boot) -> None:
    """ASR on the attacked ECGs the model gets right, and robust accuracy (test accuracy x (1 - ASR))."""
    pred = res["prob_test"].argmax(1)
    clean_metrics(sink, defense, y_test, pred, rng, n_boot)
    accuracy = float(np.mean(pred == y_test))
    y = y_test[res["pos"]]
    for kind in ("pgd", "sap"):
        for i, eps in enumerate(res["eps"]):
            flipped = res[f"prob_{kind}"][i].argmax(1) != y
            sink.share(kind, defense, "asr", flipped, eps_setting(eps))
            if len(y):
                sink.add(kind, defense, "robust_accuracy", accuracy * (1 - flipped.mean()), n=len(y),
                         setting=eps_setting(eps))


def smoothing_metrics(sink, res: dict, prepared: Prepared, y_test, rng, n_boot) -> None:
    defense = "randomized_smoothing"
    clean_metrics(sink, defense, y_test, res["prob_test_base"].argmax(1), rng, n_boot)
    y = y_test[res["pos"]]
    length = prepared.test_length[res["pos"]]
    correct = res["pred_certify"] == y
    sigma, num, alpha = float(res["sigma"]), int(res["n"]), float(res["alpha"])
    sink.add("none", defense, "max_certifiable_radius", max_radius(sigma, num, alpha), n=len(y),
             setting={"sigma": f"{sigma:g}"})
    sink.share("none", defense, "smoothed_accuracy", res["pred_clean"] == y)
    sink.share("none", defense, "abstain_rate", res["pred_clean"] == ABSTAIN)
    eps_all = sorted({float(e) for e in res.get("cert_eps", [])} | {float(e) for e in res["eps"]})
    for eps in eps_all:
        sink.share("none", defense, "certified_accuracy", correct & (res["radius"] >= eps), {**eps_setting(eps), "ball": "l2"})
        sink.share("none", defense, "certified_accuracy", correct & (res["radius"] >= eps * np.sqrt(length)),
                   {**eps_setting(eps), "ball": "linf"})
    still = res["pred_clean"] == y
    for kind in ("pgd", "sap"):
        for i, eps in enumerate(res["eps"]):
            flipped = (res[f"pred_{kind}"][i] != y) & (res[f"pred_{kind}"][i] != ABSTAIN)
            sink.share(kind, defense, "asr", flipped[still], eps_setting(eps))


# ------------------------------------------------------------------------------------ pooling

def scale_text(prepared: Prepared, attacks: dict, cfg: dict, labels: str) -> str:
    """The run's scale in words, for every claim row."""
    m, t, att = cfg["model"], cfg["train"], cfg["attacks"]
    config = ModelConfig(**m)
    if config.architecture == "han2020":
        model = "han2020 (Han et al.'s 13-conv plain CNN)"
    else:
        model = (f"resnet1d ({n_convs(config)} convs, width {m['width']}, kernel {m['kernel_size']}, "
                 f"stem stride {m['stem_stride']})")
    y = prepared.y_test[attacks["pos"]]
    per_class = ", ".join(f"{c} {int(np.sum(y == i))}" for i, c in enumerate(CLASSES))
    oversample = {c: v for c, v in t.get("oversample", {}).items() if v != 1}
    return (f"{len(prepared.train_idx):,} training / {len(prepared.test_idx)} test ECGs ({labels} labels), "
            f"{cfg['crop_seconds']:g} s crops padded at {'both ends' if cfg['padding'] == 'both' else 'the end'}; "
            f"{model}; {t['epochs']} epochs, class weighting {t['class_weighting']}"
            + (f", oversampling {oversample}" if oversample else "")
            + f"; 1 seed; {len(y)} attacked ECGs ({per_class}); PGD {att['pgd_steps']} + SAP {att['sap_steps']} steps")


def pool(prepared: Prepared, victim: dict, attacks: dict, defenses: dict, cfg: dict, fs: int,
         rng: np.random.Generator, n_boot: int, labels: str = "v3") -> Pooled:
    """The numbers the claims read (:class:`medrobust.ecg.claims.Pooled`), at the headline eps."""
    eps = float(cfg["headline_setting"]["eps"])
    y_test, pred = prepared.y_test, victim["prob_test"].argmax(1)
    y = y_test[attacks["pos"]]
    pooled = Pooled(eps=eps, scale=scale_text(prepared, attacks, cfg, labels), victim_f1=f1(y_test, pred, SCORED),
                    victim_f1_per_class={CLASSES[c]: f1(y_test, pred, [c]) for c in SCORED}, n_attacked=len(y))
    eps_list = [float(e) for e in attacks["eps"]]
    if eps not in eps_list or len(y) == 0:
        return pooled
    i = eps_list.index(eps)
    flips = {k: attacks[f"prob_{k}"][i].argmax(1) != y for k in ("pgd", "sap")}
    pooled.flipped = {k: int(v.sum()) for k, v in flips.items()}
    if "pred_random_sign" in attacks:
        pooled.flipped["random_sign"] = int(np.sum(attacks["pred_random_sign"] != y))
    if "pred_art" in attacks:
        pooled.art_disagree = int(np.sum((attacks["pred_art"] != y) != flips["pgd"]))
    pooled.hf_ratio = _hf_ratio(prepared, attacks, i, cfg, fs, rng, n_boot)
    if "new_k" in attacks and float(attacks["new_eps"]) == eps:
        pooled.new_k = int(attacks["new_k"])
        for name, rows in _known_examples(attacks, y, i).items():
            pooled.new_known[name] = int(rows.sum())
            pooled.new_share[name] = candidate_share(attacks[f"new_{name}"][rows], pooled.new_k, rng, n_boot)
    _pool_defenses(pooled, attacks, defenses, y, i, rng, n_boot)
    return pooled


def _hf_ratio(prepared, attacks, i, cfg, fs, rng, n_boot) -> Estimate:
    """SAP's mean high-frequency energy share over PGD's, bootstrap over ECGs."""
    start, length = prepared.test_start[attacks["pos"]], prepared.test_length[attacks["pos"]]
    cutoff = cfg["attacks"]["smoothness_cutoff_hz"]
    hf = {k: hf_energy_fraction(left_align(attacks[f"delta_{k}"][i], start), fs, cutoff, length) for k in ("pgd", "sap")}
    return bootstrap_ci(lambda a, b: np.mean(b) / np.mean(a), hf["pgd"], hf["sap"], rng=rng, n_boot=n_boot)


def _pool_defenses(pooled: Pooled, attacks, defenses, y, i, rng, n_boot) -> None:
    """Each square-wave defense's power against PGD and the share of it kept against SAP. Power is
    the ASR a filter removes, or a detector's TPR at 5 % FPR minus 0.05."""
    pre, det = defenses.get("preprocessing"), defenses.get("detectors")
    for name in FILTERS:
        if pre is None:
            continue
        still = pre[f"{name}_prob_clean"].argmax(1) == y
        # Per ECG the filtered victim gets right: flipped without the filter minus flipped with it.
        removed = [(attacks[f"prob_{k}"][i].argmax(1) != y)[still].astype(float)
                   - (pre[f"{name}_prob_{k}"][i].argmax(1) != y)[still].astype(float) for k in ("pgd", "sap")]
        _retained(pooled, name, lambda a, b: (np.mean(a) if len(a) else math.nan, np.mean(b) if len(b) else math.nan),
                  removed, rng, n_boot)
    for name in DETECTORS:
        if det is None:
            continue
        arrays = [det[f"{name}_clean"], det[f"{name}_pgd"][i], det[f"{name}_sap"][i]]
        _retained(pooled, name, lambda c, p, s: (tpr_at_fpr(*detection(c, p), 0.05) - 0.05,
                                                 tpr_at_fpr(*detection(c, s), 0.05) - 0.05), arrays, rng, n_boot)


def _retained(pooled: Pooled, name: str, power: Callable, arrays, rng, n_boot) -> None:
    """Record the defense's power against PGD and the ratio power(SAP) / power(PGD) with a
    bootstrap interval; a ratio whose every resample is 0 (SAP power nil on every ECG) gets the
    exact upper bound of its numerator instead of a zero-width interval."""
    p_pgd, p_sap = power(*arrays)
    pooled.power_pgd[name] = float(p_pgd)
    if not p_pgd > 0 or len(arrays[0]) == 0:
        return

    def ratio(*a):
        pp, ps = power(*a)
        return ps / pp if pp > 0 else math.nan

    est = bootstrap_ci(ratio, *arrays, rng=rng, n_boot=n_boot)
    if est.ci_low == est.ci_high:
        upper = exact_share(0, len(arrays[0])).ci_high / p_pgd
        est = Estimate(est.value, min(est.value, 0.0), max(est.value, upper), est.n)
    pooled.retained[name] = est
