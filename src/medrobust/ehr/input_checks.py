"""Run the input checks against every trigger: detection AUROC, TPR at 5 % FPR, and the flags.

The checks (:mod:`medrobust.ehr.mask_plausibility`, :mod:`medrobust.ehr.value_outliers`) are fitted
once on the clean training stays. For each seed index and attack, the positives are the test stays
with that seed's trigger applied and the negatives the same stays untouched (paired, so the
bootstrap resamples stays). ``detection_auroc`` and ``tpr_at_fpr`` (setting ``fpr=0.05`` by
default, ``input_check_fpr``) are read off the test ROC; the *operating* threshold that model jobs
use to reject inputs is instead the (1 - fpr) quantile of the check's scores on the clean
validation stays (the defender's own calibration), and the flags at that threshold are stored for
each triggered test stay, with ``flag_rate`` (triggered stays flagged) and ``flag_rate_clean``
(false alarms on clean test stays) reported beside them.

These rows carry model ``none``: no victim is involved.
"""
from __future__ import annotations

import logging

import numpy as np
from sklearn.metrics import roc_curve

from medrobust.core.records import format_setting
from medrobust.core.seeding import derive_seed, make_rng
from medrobust.ehr.evaluation import (MetricSink, resample_counts, weighted_detection, weighted_share,
                                      with_full_sample)
from medrobust.ehr.mask_plausibility import MaskIsolationForest, MaskVAECheck
from medrobust.ehr.preprocess import TEST, TRAIN, VAL, Prepared
from medrobust.ehr.triggers import triggered_test
from medrobust.ehr.value_outliers import RangeCheck, ZScoreCheck

log = logging.getLogger(__name__)
CHECKS = ("mask_vae_likelihood", "mask_isolation_forest", "value_zscore", "value_range")


def build_checks(base_seed: int, vae_cfg: dict) -> dict:
    seed = derive_seed(base_seed, "ehr", "defender")
    return {"mask_vae_likelihood": MaskVAECheck(seed, vae_cfg["epochs"], vae_cfg["hidden"], vae_cfg["latent"]),
            "mask_isolation_forest": MaskIsolationForest(seed),
            "value_zscore": ZScoreCheck(),
            "value_range": RangeCheck()}


def run_input_checks(prepared: Prepared, triggers: dict, cfg: dict, base_seed: int, n_seeds: int,
                     n_boot: int) -> tuple[dict, dict]:
    """Returns (metric arrays as in MetricSink, {"attack|check|seed": flags, "roc|...": curve})."""
    fpr = float(cfg["input_check_fpr"])
    at_fpr = format_setting({"fpr": fpr})
    train, _ = prepared.part(TRAIN)
    val, _ = prepared.part(VAL)
    test, y_test = prepared.part(TEST)
    checks = {name: check.fit(train) for name, check in build_checks(base_seed, cfg["vae"]).items()
              if name in cfg["defenses"]}
    clean_scores = {name: check.score(test) for name, check in checks.items()}
    thresholds = {name: float(np.quantile(check.score(val), 1 - fpr)) for name, check in checks.items()}
    sink, out = MetricSink(n_boot), {}
    n = len(y_test)
    everyone = np.ones(n, bool)
    is_trig = np.r_[np.zeros(n, bool), np.ones(n, bool)]
    for s in range(n_seeds):
        counts = resample_counts(n, n_boot, make_rng(base_seed, "ehr", "bootstrap", "input_checks", s))
        w = with_full_sample(counts)
        pair_w = np.hstack([w, w])  # a stay and its triggered copy are resampled together
        for name in checks:
            false_alarms = weighted_share(clean_scores[name] > thresholds[name], everyone, w)
            for attack in cfg["attacks"]:
                sink.add(("none", attack, name, at_fpr, "flag_rate_clean"), false_alarms, n)
        for attack in cfg["attacks"]:
            trig = triggered_test(test, y_test, attack, triggers, base_seed, s, int(cfg["target_label"]))
            for name, check in checks.items():
                s1 = check.score(trig)
                both = np.r_[clean_scores[name], s1]
                auroc, tpr = weighted_detection(is_trig, both, pair_w, fpr)
                auc = sink.add(("none", attack, name, "", "detection_auroc"), auroc, n)[0]
                sink.add(("none", attack, name, at_fpr, "tpr_at_fpr"), tpr, n)
                flags = s1 > thresholds[name]
                sink.add(("none", attack, name, at_fpr, "flag_rate"), weighted_share(flags, everyone, w), n)
                out[f"{attack}|{name}|{s}"] = flags
                if s == 0:
                    f, t, _ = roc_curve(is_trig, both)
                    keep = np.unique(np.linspace(0, len(f) - 1, min(len(f), 300)).round().astype(int))
                    out[f"roc|{attack}|{name}"] = np.stack([f[keep], t[keep]])
                log.info("seed %d %s vs %s: detection AUROC %.3f, flagged %.3f", s, attack, name, auc, flags.mean())
    return sink.arrays(), out
