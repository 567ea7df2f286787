"""Pool the fedgan runs into the common metrics table; the claims are judged in :mod:`~medrobust.fedgan.claims`.

Replicates are seed indices, never checkpoints of one run. A run's own value of a quality
metric is the mean over its last ``final_checkpoints`` checkpoints (quality swings from round to
round, so one checkpoint would add noise, not information); its loss summaries are means over
the rounds those checkpoints close. A variant's value is the mean over seeds with a t interval
over seeds; with one seed there is no interval (``ci_low``/``ci_high`` NaN), and the claims that
need one are inconclusive. Differences between variants are paired by seed index, which the
common random numbers of the runs make meaningful.

Shares of inspected items get exact (Clopper-Pearson) intervals, pooled over seeds:

* ``trigger_share``: the final generator's samples (one per real test image, per seed) that the
  trigger detector judges to carry the trigger; ``trigger_share_by_class`` per conditioning class;
* FedDetect's flag rates: the client-rounds after the warm-up in which the active detector flags
  the malicious client (``feddetect_tpr``) or a benign one (``feddetect_fpr``).

The scores of every checkpoint are also kept as ``<metric>_by_round`` rows (setting
``round=<r>``, mean over seeds): the rounds-vs-quality curve.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from medrobust.core.metrics import Estimate, exact_share, mean_ci, share_difference
from medrobust.core.records import Metric
from medrobust.fedgan import downstream
from medrobust.fedgan.experiment import DETECTORS
from medrobust.fedgan.scoring import CHECKPOINT_METRICS, Evaluators, load_evaluators, score_run

STUDY = "fedgan"
MODEL = "cdcgan"
LOSS_METRICS = ("generator_loss", "generator_loss_benign", "generator_loss_attacker_client",
                "discriminator_loss_benign", "discriminator_loss_attacker_client", "discriminator_gap")
SEED_METRICS = tuple(m for m in CHECKPOINT_METRICS if m != "trigger_share") + LOSS_METRICS
CURVE_METRICS = ("label_agreement", "fid", "kid", "trigger_share")
# The range each per-seed quantity can take: its t interval is clipped to it (KID's unbiased estimate
# can fall below 0, so it has none).
SHARE = (0.0, 1.0)
BOUNDS = {"precision": SHARE, "recall": SHARE, "label_agreement": SHARE, "trigger_share": SHARE,
          "fid": (0.0, float("inf"))}
NAN_ESTIMATE = Estimate(float("nan"), float("nan"), float("nan"), 0)


def final_window_losses(run: Mapping[str, np.ndarray], final_checkpoints: int) -> dict[str, float]:
    """Loss summaries over the rounds that the last ``final_checkpoints`` checkpoints close."""
    g, d = run["generator_loss"], run["discriminator_loss"]
    ends = [int(c) for c in run["checkpoints"]]
    first = len(ends) - min(final_checkpoints, len(ends))
    start = ends[first - 1] if first > 0 else 0  # rounds (start, end] in 1-based numbers
    gw, dw = g[start:], d[start:]
    attacker = np.zeros(g.shape[1], dtype=bool)
    attacker[run["attackers"]] = True
    out = {"generator_loss": np.nanmean(gw), "generator_loss_benign": np.nanmean(gw[:, ~attacker]),
           "generator_loss_attacker_client": np.nanmean(gw[:, attacker]),
           "discriminator_loss_benign": np.nanmean(dw[:, ~attacker]),
           "discriminator_loss_attacker_client": np.nanmean(dw[:, attacker])}
    out["discriminator_gap"] = out["discriminator_loss_benign"] - out["discriminator_loss_attacker_client"]
    return {k: float(v) for k, v in out.items()}


@dataclass
class Variant:
    """The runs (one per seed index, sorted) of one attack x defense, with their scores."""

    attack: str
    defense: str
    runs: list[Mapping[str, np.ndarray]]
    scores: list[dict[str, np.ndarray]]
    final_checkpoints: int

    @property
    def seeds(self) -> list[int]:
        return [int(r["seed_index"]) for r in self.runs]

    def per_seed(self, metric: str) -> np.ndarray:
        """One value per seed: the mean over the final checkpoints, or the final-window loss."""
        if metric in LOSS_METRICS:
            return np.array([final_window_losses(r, self.final_checkpoints)[metric] for r in self.runs])
        return np.array([float(np.mean(s[metric][-self.final_checkpoints:])) for s in self.scores])

    def over_seeds(self, metric: str) -> Estimate:
        return mean_ci(self.per_seed(metric), bounds=BOUNDS.get(metric))

    def trigger_counts(self, by_class: bool = False) -> tuple[np.ndarray, np.ndarray]:
        suffix = "_by_class" if by_class else ""
        return (np.sum([s[f"trigger_hits{suffix}"] for s in self.scores], axis=0),
                np.sum([s[f"trigger_inspected{suffix}"] for s in self.scores], axis=0))

    def trigger_share(self) -> Estimate:
        hits, inspected = self.trigger_counts()
        return exact_share(int(hits), int(inspected))

    def flag_counts(self) -> dict[str, int]:
        """Flags of the active FedDetect after its warm-up, pooled over seeds (client-rounds)."""
        out = {"attacker_hits": 0, "attacker_rounds": 0, "benign_hits": 0, "benign_rounds": 0}
        for run in self.runs:
            scored = ~np.isnan(run["detector_score"]).all(axis=1)
            flagged = run["flagged"][scored]
            attacker = np.zeros(flagged.shape[1], dtype=bool)
            attacker[run["attackers"]] = True
            benign = flagged if self.attack == "none" else flagged[:, ~attacker]
            if self.attack != "none":
                out["attacker_hits"] += int(flagged[:, attacker].sum())
                out["attacker_rounds"] += int(flagged[:, attacker].size)
            out["benign_hits"] += int(benign.sum())
            out["benign_rounds"] += int(benign.size)
        return out


@dataclass
class Pooled:
    """Everything the claims read: the variants, the evaluators' checks, the config, the scale."""

    variants: dict[tuple[str, str], Variant]
    evaluators: Mapping[str, np.ndarray]
    cfg: Mapping[str, Any]
    scale: str
    n_seeds: int

    def get(self, attack: str, defense: str) -> Variant | None:
        return self.variants.get((attack, defense))

    def difference(self, a: tuple[str, str], b: tuple[str, str], metric: str) -> Estimate:
        """Mean over seeds of ``metric(a) - metric(b)``, paired by seed index, with a t interval."""
        va, vb = self.get(*a), self.get(*b)
        if va is None or vb is None:
            return NAN_ESTIMATE
        if va.seeds != vb.seeds:
            raise ValueError(f"fedgan {a} and {b} ran different seeds ({va.seeds} vs {vb.seeds}); cannot pair")
        return mean_ci(va.per_seed(metric) - vb.per_seed(metric))

    def trigger_difference(self, a: tuple[str, str], b: tuple[str, str]) -> Estimate:
        """Trigger share of ``a`` minus that of ``b`` (Newcombe interval on the pooled counts)."""
        va, vb = self.get(*a), self.get(*b)
        if va is None or vb is None:
            return NAN_ESTIMATE
        (ka, na), (kb, nb) = va.trigger_counts(), vb.trigger_counts()
        return share_difference(int(ka), int(na), int(kb), int(nb))

    def auc_gain(self, defense: str) -> Estimate:
        """Test AUC of real plus ``defense``'s synthetic images minus real only, paired by seed."""
        v = self.get("patch_trigger", defense)
        if v is None:
            return NAN_ESTIMATE
        gains = [downstream.auc(r["test_labels"], r["augmented_test_proba"])
                 - downstream.auc(r["test_labels"], self.evaluators[f"real_test_proba_{s}"])
                 for r, s in zip(v.runs, v.seeds)]
        return mean_ci(np.asarray(gains))

    def detector_share(self, key: str) -> Estimate:
        return exact_share(int(self.evaluators[key]), int(self.evaluators["detector_n"]))


def scale_text(cfg: Mapping[str, Any], dataset: str, evaluators: Mapping[str, np.ndarray], n_seeds: int,
               n_samples: int) -> str:
    size = int(evaluators["size"])
    return (f"{dataset} {size} px; {cfg['clients']} clients ({cfg['attackers']} malicious, {cfg['split']} split); "
            f"{cfg['rounds']} rounds x {cfg['local_epochs']} local epoch, batch {cfg['batch_size']}; conditional "
            f"DCGAN width {cfg['width']}; {n_seeds} seed(s); {n_samples} samples per checkpoint, the last "
            f"{cfg['final_checkpoints']} of {cfg['checkpoints']} checkpoints averaged; trigger "
            f"{cfg['trigger']['size']}x{cfg['trigger']['size']} px ({100 * float(evaluators['trigger_area_share']):.2f}% "
            f"of the image)")


def pool(runs: Sequence[Mapping[str, np.ndarray]], evaluators: Mapping[str, np.ndarray], cfg: Mapping[str, Any],
         dataset: str, seed: int, device: str = "cpu") -> Pooled:
    ev: Evaluators = load_evaluators(evaluators, cfg, seed, device)
    grouped: dict[tuple[str, str], list[Mapping[str, np.ndarray]]] = {}
    for run in sorted(runs, key=lambda r: int(r["seed_index"])):
        grouped.setdefault((str(run["attack"]), str(run["defense"])), []).append(run)
    variants = {key: Variant(*key, group, [score_run(r, ev) for r in group], cfg["final_checkpoints"])
                for key, group in grouped.items()}
    n_seeds = max(len(v.runs) for v in variants.values())
    n_samples = len(runs[0]["sample_labels"])
    return Pooled(variants, evaluators, cfg, scale_text(cfg, dataset, evaluators, n_seeds, n_samples), n_seeds)


def metric_rows(p: Pooled, dataset: str) -> list[Metric]:
    rows: list[Metric] = []

    def add(model, attack, defense, metric, est: Estimate, seeds, setting=""):
        rows.append(Metric(STUDY, dataset, model, attack, defense, metric, est.value, est.ci_low, est.ci_high,
                           est.n, seeds, setting))

    for (attack, defense), v in p.variants.items():
        n_seeds = len(v.runs)
        for metric in SEED_METRICS:
            add(MODEL, attack, defense, metric, v.over_seeds(metric), n_seeds)
        add(MODEL, attack, defense, "trigger_share", v.trigger_share(), n_seeds, "checkpoint=final")
        hits, inspected = v.trigger_counts(by_class=True)
        for c, (k, n) in enumerate(zip(hits, inspected)):
            if n:
                add(MODEL, attack, defense, "trigger_share_by_class", exact_share(int(k), int(n)), n_seeds,
                    f"class={c}")
        for i, r in enumerate(v.runs[0]["checkpoints"]):
            for metric in CURVE_METRICS:
                values = np.array([s[metric][i] for s in v.scores])
                add(MODEL, attack, defense, f"{metric}_by_round", mean_ci(values, bounds=BOUNDS.get(metric)), n_seeds,
                    f"round={int(r)}")
        if defense in DETECTORS:
            flags = v.flag_counts()
            if attack != "none":
                add(MODEL, attack, defense, "feddetect_tpr", exact_share(flags["attacker_hits"],
                                                                          flags["attacker_rounds"]), n_seeds)
                final = np.array([float(np.sum(r["weight"][-1][r["attackers"]])) for r in v.runs])
                add(MODEL, attack, defense, "attacker_weight_final", mean_ci(final, bounds=SHARE), n_seeds)
            add(MODEL, attack, defense, "feddetect_fpr", exact_share(flags["benign_hits"], flags["benign_rounds"]),
                n_seeds)
        for name, metric in (("auc", downstream.auc), ("acc", downstream.accuracy)):
            values = np.array([metric(r["test_labels"], r["augmented_test_proba"]) for r in v.runs])
            add("cnn", attack, defense, name, mean_ci(values, bounds=SHARE), n_seeds, "training=real+synthetic")
        if attack == "patch_trigger":
            add("cnn", attack, defense, "auc_gain", p.auc_gain(defense), n_seeds, "training=real+synthetic")
    rows += evaluator_rows(p, dataset)
    return rows


def evaluator_rows(p: Pooled, dataset: str) -> list[Metric]:
    ev, cfg = p.evaluators, p.cfg
    seeds = [s for s in range(p.n_seeds) if f"real_test_proba_{s}" in ev]
    y = next(iter(p.variants.values())).runs[0]["test_labels"]
    rows = []
    for name, metric in (("auc", downstream.auc), ("acc", downstream.accuracy)):
        est = mean_ci(np.array([metric(y, ev[f"real_test_proba_{s}"]) for s in seeds]), bounds=SHARE)
        rows.append(Metric(STUDY, dataset, "cnn", "none", "none", name, est.value, est.ci_low, est.ci_high, est.n,
                           len(seeds), "training=real"))
    strength = cfg["evaluators"]["detector_min_strength"]
    for key, attack, setting in (("detector_tp", "patch_trigger", "split=test;strength=1"),
                                 ("detector_tp_faint", "patch_trigger", f"split=test;strength={strength}"),
                                 ("detector_fp", "none", "split=test")):
        est = p.detector_share(key)
        metric = "detector_fpr" if key == "detector_fp" else key.replace("_tp", "_tpr")
        rows.append(Metric(STUDY, dataset, "trigger_detector", attack, "none", metric, est.value, est.ci_low,
                           est.ci_high, est.n, 1, setting))
    size = cfg["trigger"]["size"]
    rows.append(Metric(STUDY, dataset, "trigger", "patch_trigger", "none", "trigger_area_share",
                       float(ev["trigger_area_share"]), seeds=1, setting=f"size={size}"))
    for metric in ("fid", "kid", "precision", "recall"):
        rows.append(Metric(STUDY, dataset, "real_data", "none", "none", metric, float(ev[f"{metric}_real_val"]),
                           seeds=1, setting="split=val"))
    return rows
