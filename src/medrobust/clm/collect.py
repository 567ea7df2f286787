"""Pool the clm jobs into ``metrics.csv``; the claims are judged in :mod:`medrobust.clm.claims`.

**Estimates and intervals.**

* **Shares** (flip rates, raw ASR, poison fit, false-trigger rate, detection rates, the share of
  texts truncated): counts are pooled over seeds (one seed by default) and get the exact
  Clopper-Pearson interval (:func:`medrobust.core.metrics.exact_share`); 35/35 is [0.90, 1.00],
  never a zero-width bootstrap. ``n`` is the number of cases the share is taken over.
* **Differences of shares** (an attack against the clean model, BadCLM against BadNets): Newcombe's
  interval (:func:`medrobust.core.metrics.share_difference`) on the pooled counts.
* **AUROC and AUPRC**, and their paired differences: percentile bootstrap over test texts (and
  over seeds when there are several: each replicate draws seeds with replacement, then texts with
  replacement within each drawn seed, and averages), with ``bootstrap`` replicates. Differences
  resample both sides with the same text indices, since every job of a seed shares the test texts.

**Flip rate** (:func:`medrobust.core.metrics.flip_counts`), the usual backdoor ASR: among the test
deaths that the model predicts as deaths without the trigger, the share that the trigger sends to
the target ("survives"). Each model's own clean predictions decide which deaths are eligible. Raw
ASR (the share of all triggered deaths predicted as the target) stands beside it, and so does the
clean model's flip rate on the same triggered texts.

**Metrics** (``model`` is the encoder's id; ``setting`` is ``poison_rate=<r>``, empty for the
clean model):

* clean model (attack ``none``): ``clean_auroc``, ``clean_auprc``, ``asr``, ``flip_rate``,
  ``flip_rate_first``, ``flip_rate_last`` (trigger as first / last word read),
  ``false_trigger_rate`` (a control rare word instead of the trigger), ``predicted_death_share``,
  ``truncated_share`` (texts longer than ``max_len`` word pieces), ``n_train``, ``n_val``,
  ``n_test``, ``test_deaths`` and, per detector, ``detection_auroc``.
* each attack and rate (defense ``none``): the same, and ``auroc_change_vs_clean_model`` (poisoned
  minus clean), ``asr_clean_model``, ``flip_rate_clean_model``, ``flip_minus_clean_model``,
  ``false_trigger_rate_clean_model``, ``false_trigger_minus_clean_model``, ``poison_fit`` (share
  of its poisoned training texts predicted as the target), ``epochs_trained`` (the victim trains
  until it fits its poison, up to ``training.max_epochs``), ``n_poison``, ``trigger_attention``
  (the largest mean attention to the trigger over heads) and, for the BadCLM variants,
  ``flip_gain_over_badnets``; ``steered_heads`` (heads steered per layer) for ``badclm_heads``.
* at the headline rate, per defense: ``flip_rate`` and ``asr`` after the defense. For ONION,
  fine-tuning and fine-pruning (which change the inputs or the model, so the defended model's own
  clean predictions decide eligibility) also ``clean_auroc`` and ``defense_auroc_change`` (defended
  minus undefended: the clean cost). For the detectors (ONION's word score, STRIP, the attention
  check): ``detection_auroc`` (triggered against clean test texts), ``detection_auroc_clean_model``,
  ``tpr_at_threshold`` and ``fpr_at_threshold`` at the operating point set on clean validation texts
  (``detection_fpr``); for STRIP and the attention check a triggered text is flipped only if it is
  not flagged and is predicted as the target. The attention check adds ``trigger_attention_focus``
  and ``control_attention_focus``.
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

from medrobust.clm.claims import Context, judge_all
from medrobust.clm.corpus import TEXT_DESCRIPTION
from medrobust.core.io import read_npz
from medrobust.core.metrics import Estimate, exact_share, flip_counts, share_difference
from medrobust.core.records import Claim, Metric, format_setting
from medrobust.core.seeding import make_rng

log = logging.getLogger(__name__)
DETECTORS = ("onion", "strip", "attention_check")
MITIGATIONS = ("onion", "fine_tuning", "fine_pruning")
BADCLM_VARIANTS = ("badclm", "badclm_heads")
_RUN_NAME = re.compile(r"(?P<attack>[a-z_]+)_rate(?P<rate>[0-9.]+)_seed(?P<seed>[0-9]+)\.npz")
Counts = tuple[int, int]


@dataclass
class Run:
    attack: str
    rate: float
    seed: int
    data: dict[str, np.ndarray]


@dataclass
class Boot:
    """A bootstrap estimate with its replicates (kept so that estimates can be combined)."""

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


def seed_bootstrap(fn: Callable[..., float], per_seed: Sequence[tuple[np.ndarray, ...]],
                   rng: np.random.Generator, n_boot: int) -> Boot:
    """Mean over seeds of ``fn(*arrays)``, with the two-level percentile bootstrap of the module docstring.

    Each seed gets ``n_boot`` resamples of its texts; replicate ``b`` averages, over seeds drawn with
    replacement, those seeds' ``b``-th resample (a seed drawn twice in one replicate reuses it).
    """
    per_seed = [tuple(np.asarray(a) for a in arrays) for arrays in per_seed]
    value = float(np.nanmean([fn(*arrays) for arrays in per_seed]))
    per_seed_reps = np.full((len(per_seed), n_boot), np.nan)
    for s, arrays in enumerate(per_seed):
        idx = rng.integers(0, len(arrays[0]), (n_boot, len(arrays[0])))
        per_seed_reps[s] = [fn(*(a[i] for a in arrays)) for i in idx]
    if len(per_seed) > 1:
        chosen = rng.integers(0, len(per_seed), (n_boot, len(per_seed)))
        reps = np.nanmean(per_seed_reps[chosen, np.arange(n_boot)[:, None]], axis=1)
    else:
        reps = per_seed_reps[0]
    finite = reps[np.isfinite(reps)]
    low, high = (np.quantile(finite, [0.025, 0.975]) if len(finite) >= max(10, n_boot // 10)
                 else (float("nan"), float("nan")))
    return Boot(value, float(low), float(high), int(np.median([len(a[0]) for a in per_seed])), len(per_seed), reps)


# --- per-run counts ---------------------------------------------------------------------------------

def predicted(prob: np.ndarray) -> np.ndarray:
    """The predicted class at threshold 0.5 (class-weighted training makes it a balanced operating point)."""
    return (np.asarray(prob) >= 0.5).astype(np.int64)


def victims(run: dict, target: int) -> np.ndarray:
    """Mask of the test texts that were triggered: those of the non-target class, in test order."""
    return np.asarray(run["test_label"]) != target


def flips(run: dict, trig_key: str, target: int, clean_prob: np.ndarray | None = None,
          passed: np.ndarray | None = None) -> Counts:
    """(flipped, eligible) of ``run[trig_key]``; eligibility from ``clean_prob`` (default: the run's own).

    ``trig_key`` may hold the first texts only (the detectors' sets); ``passed`` marks those that a
    detector let through (a flagged text is not flipped).
    """
    mask = victims(run, target)
    clean = predicted(run["test_prob"] if clean_prob is None else clean_prob)[mask]
    trig = predicted(run[trig_key])
    y, clean = np.asarray(run["test_label"])[mask][:len(trig)], clean[:len(trig)]
    if passed is not None:
        trig = np.where(passed, trig, 1 - target)
    return flip_counts(y, clean, trig, target)


def hits(flags: np.ndarray) -> Counts:
    flags = np.asarray(flags).astype(bool)
    return int(flags.sum()), len(flags)


def threshold(thr_scores: np.ndarray, fpr: float) -> float:
    """The score above which a clean validation text is flagged with rate ``fpr``."""
    return float(np.quantile(thr_scores, 1 - fpr))


def pooled_share(counts: Sequence[Counts]) -> Estimate:
    return exact_share(sum(k for k, _ in counts), sum(n for _, n in counts))


def pooled_difference(a: Sequence[Counts], b: Sequence[Counts]) -> Estimate:
    return share_difference(sum(k for k, _ in a), sum(n for _, n in a), sum(k for k, _ in b), sum(n for _, n in b))


def _detection_arrays(run: dict, det: str) -> tuple[np.ndarray, np.ndarray]:
    pos, neg = np.asarray(run[f"{det}_pos"]), np.asarray(run[f"{det}_neg"])
    return np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]


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
        self.estimates: dict[tuple[str, str, str, str], Estimate] = {}

    # -- recording --

    def put(self, key: tuple[str, str, str, str], est: Estimate | Boot | None, seeds: int) -> None:
        if est is None or not math.isfinite(est.value):
            log.warning("%s is undefined; left out", "/".join(key))
            return
        self.estimates[key] = Estimate(est.value, est.ci_low, est.ci_high, est.n)
        self.rows.append(Metric("clm", self.dataset, self.model, key[0], key[1], key[3], est.value, est.ci_low,
                                est.ci_high, n=est.n, seeds=seeds, setting=key[2]))

    def share(self, key, counts: Sequence[Counts]) -> None:
        if counts:
            self.put(key, pooled_share(counts), len(counts))

    def difference(self, key, a: Sequence[Counts], b: Sequence[Counts]) -> None:
        if a and b:
            self.put(key, pooled_difference(a, b), len(a))

    def boot(self, key, fn, per_seed) -> None:
        if per_seed:
            rng = make_rng(self.base_seed, "clm", "boot", *key)
            self.put(key, seed_bootstrap(fn, per_seed, rng, self.n_boot), len(per_seed))

    def value(self, key, values: list[float], for_claims: bool = False) -> None:
        """A mean over seeds without an interval; ``for_claims``: the claims may quote it too."""
        if values:
            mean = float(np.mean(values))
            self.rows.append(Metric("clm", self.dataset, self.model, key[0], key[1], key[3], mean,
                                    n=len(values), seeds=len(values), setting=key[2]))
            if for_claims:
                self.estimates[key] = Estimate(mean, float("nan"), float("nan"), len(values))

    # -- one model's own rates (clean or attacked) --

    def own_rates(self, attack: str, setting: str, runs: list[dict]) -> None:
        t = self.target
        for name, fn in (("clean_auroc", auroc), ("clean_auprc", auprc)):
            self.boot((attack, "none", setting, name), fn, [(r["test_label"], r["test_prob"]) for r in runs])
        self.share((attack, "none", setting, "asr"), [hits(predicted(r["trig_prob"]) == t) for r in runs])
        self.share((attack, "none", setting, "flip_rate"), [flips(r, "trig_prob", t) for r in runs])
        for position in ("first", "last"):
            self.share((attack, "none", setting, f"flip_rate_{position}"),
                       [flips(r, f"trig_{position}_prob", t) for r in runs if f"trig_{position}_prob" in r])
        self.share((attack, "none", setting, "false_trigger_rate"),
                   [flips(r, "control_prob", t) for r in runs if "control_prob" in r])
        self.share((attack, "none", setting, "predicted_death_share"), [hits(predicted(r["test_prob"]) == 1)
                                                                        for r in runs])

    def clean_model(self) -> None:
        seeds = sorted(self.clean)
        runs = [self.clean[s] for s in seeds]
        self.own_rates("none", "", runs)
        self.share(("none", "none", "", "truncated_share"),
                   [(int(r["n_truncated"]), int(r["n_texts"])) for r in runs if "n_truncated" in r])
        for name in ("n_train", "n_val"):
            self.value(("none", "none", "", name), [float(r[name]) for r in runs if name in r])
        self.value(("none", "none", "", "n_test"), [float(len(r["test_label"])) for r in runs])
        self.value(("none", "none", "", "test_deaths"), [float(np.sum(r["test_label"] == 1)) for r in runs])
        for det in DETECTORS:
            self.boot(("none", det, "", "detection_auroc"), auroc,
                      [_detection_arrays(r, det) for r in runs if f"{det}_pos" in r])

    def attacks(self) -> None:
        t = self.target
        for (attack, rate), by_seed in sorted(self.poisoned.items()):
            setting = format_setting({"poison_rate": rate})
            seeds = [s for s in sorted(by_seed) if s in self.clean]
            if len(seeds) < len(by_seed):
                log.warning("%s rate %s: seeds %s have no clean model; left out", attack, rate,
                            sorted(set(by_seed) - set(seeds)))
            runs, clean = [by_seed[s] for s in seeds], [self.clean[s] for s in seeds]
            key = lambda metric: (attack, "none", setting, metric)  # noqa: E731
            self.own_rates(attack, setting, runs)
            self.boot(key("auroc_change_vs_clean_model"), lambda y, p, q: auroc(y, p) - auroc(y, q),
                      [(r["test_label"], r["test_prob"], c["test_prob"]) for r, c in zip(runs, clean)])
            self.share(key("asr_clean_model"), [hits(predicted(c["trig_prob"]) == t) for c in clean])
            own, base = [flips(r, "trig_prob", t) for r in runs], [flips(c, "trig_prob", t) for c in clean]
            self.share(key("flip_rate_clean_model"), base)
            self.difference(key("flip_minus_clean_model"), own, base)
            pairs = [(r, c) for r, c in zip(runs, clean) if "control_prob" in r and "control_prob" in c]
            false_own = [flips(r, "control_prob", t) for r, _ in pairs]
            false_base = [flips(c, "control_prob", t) for _, c in pairs]
            self.share(key("false_trigger_rate_clean_model"), false_base)
            self.difference(key("false_trigger_minus_clean_model"), false_own, false_base)
            self.share(key("poison_fit"), [hits(predicted(r["poison_prob"]) == t) for r in runs if len(r["poison_prob"])])
            self.value(key("n_poison"), [float(r["n_poison"]) for r in runs])
            self.value(key("epochs_trained"), [float(r["epochs_trained"]) for r in runs if "epochs_trained" in r],
                       for_claims=True)
            self.value(key("trigger_attention"), [float(r["trigger_focus"].max()) for r in runs])
            self.value(key("steered_heads"), [float(len(r["steered_heads"])) for r in runs
                                              if len(r.get("steered_heads", []))])
            plain = self.poisoned.get(("badnets", rate), {})
            both = [s for s in seeds if s in plain]
            if attack in BADCLM_VARIANTS and both:
                self.difference(key("flip_gain_over_badnets"), [flips(by_seed[s], "trig_prob", t) for s in both],
                                [flips(plain[s], "trig_prob", t) for s in both])

    def defenses(self, headline: float) -> None:
        setting = format_setting({"poison_rate": headline})
        fpr, t = float(self.cfg["detection_fpr"]), self.target
        for attack in self.cfg["attacks"]:
            by_seed = self.poisoned.get((attack, headline), {})
            runs = [by_seed[s] for s in sorted(by_seed) if s in self.clean]
            for name in MITIGATIONS:
                have = [r for r in runs if f"{name}_trig_prob" in r]
                key = lambda metric: (attack, name, setting, metric)  # noqa: E731
                self.share(key("flip_rate"), [flips(r, f"{name}_trig_prob", t, r[f"{name}_test_prob"]) for r in have])
                self.share(key("asr"), [hits(predicted(r[f"{name}_trig_prob"]) == t) for r in have])
                self.boot(key("clean_auroc"), auroc, [(r["test_label"], r[f"{name}_test_prob"]) for r in have])
                self.boot(key("defense_auroc_change"), lambda y, p, q: auroc(y, p) - auroc(y, q),
                          [(r["test_label"], r[f"{name}_test_prob"], r["test_prob"]) for r in have])
            for det in DETECTORS:
                have = [(s, by_seed[s]) for s in sorted(by_seed) if s in self.clean and f"{det}_pos" in by_seed[s]]
                if not have:
                    continue
                runs_d = [r for _, r in have]
                key = lambda metric: (attack, det, setting, metric)  # noqa: E731
                self.boot(key("detection_auroc"), auroc, [_detection_arrays(r, det) for r in runs_d])
                self.boot(key("detection_auroc_clean_model"), auroc,
                          [_detection_arrays(self.clean[s], det) for s, _ in have if f"{det}_pos" in self.clean[s]])
                cuts = [threshold(r[f"{det}_thr"], fpr) for r in runs_d]
                self.share(key("tpr_at_threshold"), [hits(r[f"{det}_pos"] > c) for r, c in zip(runs_d, cuts)])
                self.share(key("fpr_at_threshold"), [hits(r[f"{det}_neg"] > c) for r, c in zip(runs_d, cuts)])
                if det in MITIGATIONS:  # ONION's flip rate is the one after filtering, above
                    continue
                # a triggered text is flipped only if it passes the check and flips the prediction
                passing = [np.asarray(r[f"{det}_pos"]) <= c for r, c in zip(runs_d, cuts)]
                trig = [{**r, "trig_first_n": np.asarray(r["trig_prob"])[:len(p)]} for r, p in zip(runs_d, passing)]
                self.share(key("flip_rate"), [flips(r, "trig_first_n", t, passed=p) for r, p in zip(trig, passing)])
                self.share(key("asr"), [hits((predicted(r["trig_first_n"]) == t) & p) for r, p in zip(trig, passing)])
            with_focus = [r for r in runs if "control_focus" in r]
            self.value((attack, "attention_check", setting, "trigger_attention_focus"),
                       [float(r["trigger_focus"].max()) for r in with_focus])
            self.value((attack, "attention_check", setting, "control_attention_focus"),
                       [float(r["control_focus"].max()) for r in with_focus])

    # -- claims --

    def context(self, headline: float, rates: list[float]) -> Context:
        return Context(headline=headline, rates=tuple(rates), scale=scale_text(self.cfg, self.model, self.clean),
                       seeds=len(self.clean))


def scale_text(cfg: dict, model: str, clean: dict[int, dict]) -> str:
    """Data size, seeds, training and model, as every claim row states them."""
    run = clean[min(clean)] if clean else {}
    sizes = "/".join(str(int(run[k])) if k in run else "?" for k in ("n_train", "n_val")) + (
        f"/{len(run['test_label'])}" if "test_label" in run else "/?")
    deaths = int(np.sum(run["test_label"] == 1)) if "test_label" in run else 0
    tr = cfg["training"]
    blocks = "every block" if tr.get("trainable_layers") is None else f"top {tr['trainable_layers']} blocks"
    return (f"{sizes} train/defender/test texts ({deaths} test deaths), {TEXT_DESCRIPTION[cfg['text']].split(' (')[0]}; "
            f"{model} ({cfg['pooling']} pooling), {blocks} trained, {tr['epochs']} epochs, lr {tr['lr']:g}, "
            f"max_len {tr['max_len']}; {len(clean)} seed(s); poison rates {', '.join(f'{r:g}' for r in cfg['rates'])}")


def collect(runs: list[Run], cfg: dict, dataset: str, model: str, base_seed: int,
            n_boot: int) -> tuple[list[Metric], list[Claim]]:
    headline = float(cfg["headline_setting"]["poison_rate"])
    c = Collector(runs, cfg, dataset, model, base_seed, n_boot)
    c.clean_model()
    c.attacks()
    c.defenses(headline)
    rates = sorted({r.rate for r in runs if r.attack != "none"})
    return c.rows, judge_all(c.estimates, c.context(headline, rates))


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
