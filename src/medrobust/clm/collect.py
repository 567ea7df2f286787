"""Pool the clm jobs into ``metrics.csv`` and judge BadCLM's claims into ``claims.csv``.

**Estimates and CIs.** Every metric is computed per seed from the job's per-text outputs, and its
value is the mean over seeds. Its 95 % CI is a percentile bootstrap over test texts (and over seeds
when there are several: each replicate draws seeds with replacement, then texts with replacement
within each drawn seed, and averages), with ``bootstrap`` replicates. Differences (a poisoned model
against the clean model, BadCLM against BadNets, a defended model against the undefended one) are
paired: both sides are resampled with the same text indices, since every job of a seed shares the
test texts and the triggered texts.

**Metrics** (``model`` is the encoder's id; ``setting`` is ``poison_rate=<r>``, empty for the
clean model):

* clean model (attack ``none``): ``clean_auroc``, ``clean_auprc``, ``asr`` (the clean model on the
  triggered texts: the share of non-target texts predicted as the target once triggered), ``n_train``
  (training texts: the scale the report states), and, per
  detector, ``detection_auroc``.
* each attack and rate (defense ``none``): ``clean_auroc``, ``clean_auprc``,
  ``auroc_change_vs_clean_model`` (poisoned minus clean), ``asr``, ``asr_clean_model`` (the clean
  model of the same seed on the same triggered texts), ``asr_minus_clean_model``, ``n_poison``,
  ``trigger_attention`` (the largest mean attention to the trigger over heads) and, for BadCLM,
  ``asr_gain_over_badnets``.
* at the headline rate, per defense: ``asr`` after the defense. For ONION, fine-tuning and
  fine-pruning also ``clean_auroc`` and ``defense_auroc_change`` (defended minus undefended: the
  clean cost). For the detectors (ONION's word score, STRIP, the attention check):
  ``detection_auroc`` (triggered against clean test texts), ``detection_auroc_clean_model``,
  ``tpr_at_threshold`` and ``fpr_at_threshold`` at the operating point set on clean validation
  texts (``detection_fpr``); the detectors' ``asr`` counts a triggered text as a success only if it
  is not flagged and is predicted as the target. The attention check adds
  ``trigger_attention_focus`` and ``control_attention_focus`` (the largest mean attention over heads
  to the trigger and to control rare words).

**Claims** (thresholds fixed before any run; the rule is written in each row):

* ``clm-asr``: BadCLM's ASR at the headline rate against "around 0.9": reproduced at >= 0.85,
  partly if it or its upper CI reaches 0.70 (:func:`medrobust.core.claims.at_least`).
* ``clm-clean-performance``: the clean-AUROC drop of the BadCLM model against the clean model at the
  headline rate: reproduced at <= 0.02, partly if it or its lower CI is <= 0.05
  (:func:`medrobust.core.claims.at_most`).
* ``clm-badclm-beats-badnets``: BadCLM's ASR minus BadNets' at the same rate, averaged over the
  rates run: :func:`positive` (reproduced if the difference and its lower CI are above 0; partly if
  only the difference is; else not_reproduced).
"""
from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from medrobust.core.legacy_claims import at_least, at_most
from medrobust.core.io import read_npz
from medrobust.core.records import Claim, Metric, format_setting
from medrobust.core.seeding import make_rng
from medrobust.clm.corpus import TEXT_DESCRIPTION

log = logging.getLogger(__name__)
SOURCE = ("Lyu, Bi, Wang & Chen, BadCLM: Backdoor Attack in Clinical Language Models for Electronic "
          "Health Records, AMIA Annu Symp Proc 2024:768-777, arXiv:2407.05213")
DETECTORS = ("onion", "strip", "attention_check")
MITIGATIONS = ("onion", "fine_tuning", "fine_pruning")
_RUN_NAME = re.compile(r"(?P<attack>[a-z_]+)_rate(?P<rate>[0-9.]+)_seed(?P<seed>[0-9]+)\.npz")


@dataclass
class Run:
    attack: str
    rate: float
    seed: int
    data: dict[str, np.ndarray]


@dataclass
class Estimate:
    value: float
    ci_low: float
    ci_high: float
    n: int
    seeds: int
    reps: np.ndarray


# --- fast metrics (equal to scikit-learn's roc_auc_score / average_precision_score without ties) ---

def auroc(y: np.ndarray, score: np.ndarray) -> float:
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    # average ranks (ties share their mean rank), as the Mann-Whitney U statistic needs
    _, inverse, counts = np.unique(np.asarray(score), return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(y: np.ndarray, score: np.ndarray) -> float:
    y = np.asarray(y).astype(bool)
    if not y.any():
        return float("nan")
    order = np.argsort(-np.asarray(score), kind="mergesort")
    hits = y[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].sum() / hits.sum())


def positive(measured: float, ci_low: float) -> tuple[str, str]:
    """'reproduced' if the difference and its lower CI are > 0; 'partly' if only the difference is."""
    rule = "reproduced if measured > 0 and its lower CI > 0; partly if measured > 0; else not_reproduced"
    if measured is None or not math.isfinite(measured):
        return "not_run", rule
    if measured > 0 and math.isfinite(ci_low) and ci_low > 0:
        return "reproduced", rule
    return ("partly" if measured > 0 else "not_reproduced"), rule


def seed_bootstrap(fn: Callable[..., float], per_seed: Sequence[tuple[np.ndarray, ...]],
                   rng: np.random.Generator, n_boot: int, batched: bool = False) -> Estimate:
    """Mean over seeds of ``fn(*arrays)``, with the two-level percentile bootstrap of the module docstring.

    Each seed gets ``n_boot`` resamples of its texts; replicate ``b`` averages, over seeds drawn with
    replacement, those seeds' ``b``-th resample (a seed drawn twice in one replicate reuses it).
    With ``batched``, ``fn`` takes 2-D arrays (one resample per row) and returns one value per row.
    """
    per_seed = [tuple(np.asarray(a) for a in arrays) for arrays in per_seed]
    value = float(np.nanmean([fn(*arrays) for arrays in per_seed]))
    per_seed_reps = np.full((len(per_seed), n_boot), np.nan)
    for s, arrays in enumerate(per_seed):
        idx = rng.integers(0, len(arrays[0]), (n_boot, len(arrays[0])))
        if batched:
            per_seed_reps[s] = fn(*(a[idx] for a in arrays))
        else:
            per_seed_reps[s] = [fn(*(a[i] for a in arrays)) for i in idx]
    if len(per_seed) > 1:
        chosen = rng.integers(0, len(per_seed), (n_boot, len(per_seed)))
        reps = np.nanmean(per_seed_reps[chosen, np.arange(n_boot)[:, None]], axis=1)
    else:
        reps = per_seed_reps[0]
    finite = reps[np.isfinite(reps)]
    low, high = (np.quantile(finite, [0.025, 0.975]) if len(finite) >= max(10, n_boot // 10)
                 else (float("nan"), float("nan")))
    return Estimate(value, float(low), float(high), int(np.median([len(a[0]) for a in per_seed])),
                    len(per_seed), reps)


def share(a: np.ndarray) -> np.ndarray:
    """Mean along the last axis (a rate such as the ASR), batched."""
    return np.mean(a, axis=-1)


def mean_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.mean(a - b, axis=-1)


# --- per-text success and detection ---------------------------------------------------------------

def success(trig_prob: np.ndarray, target: int) -> np.ndarray:
    """1 where a triggered non-target text is predicted as the target (threshold 0.5)."""
    predicted = (np.asarray(trig_prob) >= 0.5).astype(int)
    return (predicted == target).astype(float)


def threshold(thr_scores: np.ndarray, fpr: float) -> float:
    """The score above which a clean validation text is flagged with rate ``fpr``."""
    return float(np.quantile(thr_scores, 1 - fpr))


class Collector:
    def __init__(self, runs: list[Run], cfg: dict, dataset: str, model: str, base_seed: int, n_boot: int):
        self.cfg, self.dataset, self.model, self.n_boot, self.base_seed = cfg, dataset, model, n_boot, base_seed
        self.target = int(cfg["target_label"])
        self.clean = {r.seed: r.data for r in runs if r.attack == "none"}
        self.poisoned: dict[tuple[str, float], dict[int, dict]] = {}
        for r in runs:
            if r.attack != "none":
                self.poisoned.setdefault((r.attack, r.rate), {})[r.seed] = r.data
        self.rows: list[Metric] = []
        self.estimates: dict[tuple, Estimate] = {}

    def add(self, attack: str, defense: str, setting: str, metric: str, fn, per_seed) -> Estimate | None:
        if not per_seed:
            return None
        est = seed_bootstrap(fn, per_seed, make_rng(self.base_seed, "clm", "boot", attack, defense, setting, metric),
                             self.n_boot, batched=fn in (share, mean_difference))
        if not math.isfinite(est.value):
            log.warning("%s/%s/%s/%s is undefined; left out", attack, defense, setting, metric)
            return None
        self.estimates[(attack, defense, setting, metric)] = est
        self.rows.append(Metric("clm", self.dataset, self.model, attack, defense, metric, est.value, est.ci_low,
                                est.ci_high, n=est.n, seeds=est.seeds, setting=setting))
        return est

    def add_value(self, attack: str, defense: str, setting: str, metric: str, values: list[float]) -> None:
        if values:
            self.rows.append(Metric("clm", self.dataset, self.model, attack, defense, metric,
                                    float(np.mean(values)), n=len(values), seeds=len(values), setting=setting))

    # -- the three groups of metrics --

    def clean_model(self) -> None:
        seeds = sorted(self.clean)
        for name, fn in (("clean_auroc", auroc), ("clean_auprc", auprc)):
            self.add("none", "none", "", name, fn, [(self.clean[s]["test_label"], self.clean[s]["test_prob"]) for s in seeds])
        self.add("none", "none", "", "asr", share,
                 [(success(self.clean[s]["trig_prob"], self.target),) for s in seeds])
        self.add_value("none", "none", "", "n_train", [float(self.clean[s]["n_train"]) for s in seeds])
        for det in DETECTORS:
            per_seed = [_detection_arrays(self.clean[s], det) for s in seeds if f"{det}_pos" in self.clean[s]]
            self.add("none", det, "", "detection_auroc", auroc, per_seed)

    def attacks(self) -> None:
        for (attack, rate), by_seed in sorted(self.poisoned.items()):
            setting = format_setting({"poison_rate": rate})
            seeds = [s for s in sorted(by_seed) if s in self.clean]
            if len(seeds) < len(by_seed):
                log.warning("%s rate %s: seeds %s have no clean model; left out", attack, rate,
                            sorted(set(by_seed) - set(seeds)))
            runs, clean = [by_seed[s] for s in seeds], [self.clean[s] for s in seeds]
            for name, fn in (("clean_auroc", auroc), ("clean_auprc", auprc)):
                self.add(attack, "none", setting, name, fn, [(r["test_label"], r["test_prob"]) for r in runs])
            self.add(attack, "none", setting, "auroc_change_vs_clean_model",
                     lambda y, p, q: auroc(y, p) - auroc(y, q),
                     [(r["test_label"], r["test_prob"], c["test_prob"]) for r, c in zip(runs, clean)])
            self.add(attack, "none", setting, "asr", share, [(success(r["trig_prob"], self.target),) for r in runs])
            self.add(attack, "none", setting, "asr_clean_model", share,
                     [(success(c["trig_prob"], self.target),) for c in clean])
            self.add(attack, "none", setting, "asr_minus_clean_model", mean_difference,
                     [(success(r["trig_prob"], self.target), success(c["trig_prob"], self.target))
                      for r, c in zip(runs, clean)])
            self.add_value(attack, "none", setting, "n_poison", [float(r["n_poison"]) for r in runs])
            self.add_value(attack, "none", setting, "trigger_attention", [float(r["trigger_focus"].max()) for r in runs])
            if attack == "badclm" and ("badnets", rate) in self.poisoned:
                plain = self.poisoned[("badnets", rate)]
                both = [s for s in seeds if s in plain]
                self.add(attack, "none", setting, "asr_gain_over_badnets", mean_difference,
                         [(success(by_seed[s]["trig_prob"], self.target), success(plain[s]["trig_prob"], self.target))
                          for s in both])

    def defenses(self, headline: float) -> None:
        setting = format_setting({"poison_rate": headline})
        fpr = float(self.cfg["detection_fpr"])
        for attack in self.cfg["attacks"]:
            by_seed = self.poisoned.get((attack, headline), {})
            seeds = [s for s in sorted(by_seed) if s in self.clean]
            runs = [by_seed[s] for s in seeds]
            for name in MITIGATIONS:
                have = [r for r in runs if f"{name}_trig_prob" in r]
                self.add(attack, name, setting, "asr", share, [(success(r[f"{name}_trig_prob"], self.target),) for r in have])
                self.add(attack, name, setting, "clean_auroc", auroc, [(r["test_label"], r[f"{name}_test_prob"]) for r in have])
                self.add(attack, name, setting, "defense_auroc_change", lambda y, p, q: auroc(y, p) - auroc(y, q),
                         [(r["test_label"], r[f"{name}_test_prob"], r["test_prob"]) for r in have])
            for det in DETECTORS:
                have = [(s, by_seed[s]) for s in seeds if f"{det}_pos" in by_seed[s]]
                if not have:
                    continue
                runs_d = [r for _, r in have]
                self.add(attack, det, setting, "detection_auroc", auroc, [_detection_arrays(r, det) for r in runs_d])
                clean_d = [self.clean[s] for s, _ in have if f"{det}_pos" in self.clean[s]]
                self.add(attack, det, setting, "detection_auroc_clean_model", auroc,
                         [_detection_arrays(c, det) for c in clean_d])
                cuts = [threshold(r[f"{det}_thr"], fpr) for r in runs_d]
                self.add(attack, det, setting, "tpr_at_threshold", share,
                         [((r[f"{det}_pos"] > c).astype(float),) for r, c in zip(runs_d, cuts)])
                self.add(attack, det, setting, "fpr_at_threshold", share,
                         [((r[f"{det}_neg"] > c).astype(float),) for r, c in zip(runs_d, cuts)])
                if det in MITIGATIONS:  # ONION's ASR is the one after filtering, above
                    continue
                # a triggered text succeeds only if it passes the check and flips the prediction
                self.add(attack, det, setting, "asr", share,
                         [(success(r["trig_prob"][:len(r[f"{det}_pos"])], self.target) * (r[f"{det}_pos"] <= c),)
                          for r, c in zip(runs_d, cuts)])
            with_focus = [r for r in runs if "control_focus" in r]
            self.add_value(attack, "attention_check", setting, "trigger_attention_focus",
                           [float(r["trigger_focus"].max()) for r in with_focus])
            self.add_value(attack, "attention_check", setting, "control_attention_focus",
                           [float(r["control_focus"].max()) for r in with_focus])

    # -- claims --

    def claims(self, headline: float, rates: list[float]) -> list[Claim]:
        setting = format_setting({"poison_rate": headline})
        est = lambda *k: self.estimates.get(k)  # noqa: E731
        text = TEXT_DESCRIPTION[self.cfg["text"]]
        n_train = sorted({int(r["n_train"]) for r in self.clean.values()})
        sizes = f"; {'/'.join(map(str, n_train))} training texts, {len(self.clean)} seed(s)" if n_train else ""
        what = f"Text here: {text}; model {self.model}{sizes}."
        fmt = lambda e: "n/a" if e is None else f"{e.value:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}]"  # noqa: E731
        nan = float("nan")

        asr, plain = est("badclm", "none", setting, "asr"), est("badnets", "none", setting, "asr")
        base = est("badclm", "none", setting, "asr_clean_model")
        verdict, rule = at_least(asr.value if asr else nan, asr.ci_high if asr else nan, 0.85, 0.70)
        c1 = Claim("clm-asr",
                   f"A rare-token trigger flips the mortality prediction of a backdoored clinical LM, average ASR "
                   f"about 0.9. Measured at poison rate {headline:g}: BadCLM {fmt(asr)}; plain BadNets {fmt(plain)}; "
                   f"the clean model on the same triggered texts {fmt(base)}. {what}",
                   SOURCE, "about 0.9 (average over 4 models)", asr.value if asr else nan, verdict, rule,
                   asr.ci_low if asr else nan, asr.ci_high if asr else nan)

        change = est("badclm", "none", setting, "auroc_change_vs_clean_model")
        clean = est("none", "none", "", "clean_auroc")
        bad = est("badclm", "none", setting, "clean_auroc")
        drop = -change.value if change else nan
        low, high = (-change.ci_high, -change.ci_low) if change else (nan, nan)
        verdict, rule = at_most(drop, low, 0.02, 0.05)
        c2 = Claim("clm-clean-performance",
                   f"Performance on clean inputs stays high. Measured clean AUROC: clean model {fmt(clean)}, BadCLM "
                   f"model at poison rate {headline:g} {fmt(bad)}; the drop (clean minus BadCLM) is the measured "
                   f"value. {what}", SOURCE, "clean AUC stays high (qualitative)", drop, verdict, rule, low, high)

        gains = [est("badclm", "none", format_setting({"poison_rate": r}), "asr_gain_over_badnets") for r in rates]
        gains = [(r, g) for r, g in zip(rates, gains) if g is not None]
        if gains:
            measured = float(np.mean([g.value for _, g in gains]))
            reps = np.nanmean(np.stack([g.reps for _, g in gains]), axis=0)
            finite = reps[np.isfinite(reps)]
            low, high = (np.quantile(finite, [0.025, 0.975]) if len(finite) >= 10 else (nan, nan))
            per_rate = "; ".join(f"rate {r:g}: {fmt(g)}" for r, g in gains)
        else:
            measured, low, high, per_rate = nan, nan, nan, "none run"
        verdict, rule = positive(measured, float(low))
        c3 = Claim("clm-badclm-beats-badnets",
                   f"The attention loss makes the backdoor stronger than plain trigger poisoning at the same poisoning "
                   f"rate. Measured: BadCLM ASR minus BadNets ASR (paired, same poisoned texts and seeds), mean over "
                   f"rates; per rate {per_rate}. {what}", SOURCE, "BadCLM > plain poisoning (qualitative)",
                   measured, verdict, rule, float(low), float(high))
        return [c1, c2, c3]


def _detection_arrays(run: dict, det: str) -> tuple[np.ndarray, np.ndarray]:
    pos, neg = np.asarray(run[f"{det}_pos"]), np.asarray(run[f"{det}_neg"])
    return np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]


def collect(runs: list[Run], cfg: dict, dataset: str, model: str, base_seed: int,
            n_boot: int) -> tuple[list[Metric], list[Claim]]:
    headline = float(cfg["headline_setting"]["poison_rate"])
    c = Collector(runs, cfg, dataset, model, base_seed, n_boot)
    c.clean_model()
    c.attacks()
    c.defenses(headline)
    return c.rows, c.claims(headline, sorted({r.rate for r in runs if r.attack != "none"}))


def model_label(spec: str | None) -> str:
    """A lowercase id for the metrics files: 'minilm_l6' for the default, else the spec's last part."""
    if spec is None:
        return "minilm_l6"
    name = os.path.basename(str(spec).rstrip("/")) or str(spec)
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "model"


def run_path(directory: str, attack: str, rate: float | str, seed: int) -> str:
    """``<directory>/<attack>_rate<rate>_seed<seed>.npz``, the file name every clm job writes."""
    return f"{directory}/{attack}_rate{rate}_seed{seed}.npz"


def parse_run_path(path: str | os.PathLike) -> tuple[str, float, int]:
    match = _RUN_NAME.fullmatch(Path(path).name)
    if not match:
        raise ValueError(f"{path}: not a clm job file (<attack>_rate<rate>_seed<seed>.npz)")
    return match["attack"], float(match["rate"]), int(match["seed"])


def read_runs(paths: Sequence[str | os.PathLike]) -> list[Run]:
    return [Run(*parse_run_path(p), read_npz(p)) for p in paths]


def collect_files(paths: Sequence[str | os.PathLike], cfg: dict, dataset: str, base_seed: int,
                  n_boot: int) -> tuple[list[Metric], list[Claim]]:
    return collect(read_runs(paths), cfg, dataset, model_label(cfg["model"]), base_seed, n_boot)
