"""The study's metrics.csv (and edit_magnitude.csv), pooled over the data draws from the per-draw,
per-task result files; the claims are judged in :mod:`.claims`.

Ids: dataset ``challenge2012``; model ``lr``/``svm``/``mlp`` (victims), ``mlp_vs_lr`` (a gap) or
``none`` (a property of the data, not of a model); attack ``none``/``general_enhancement``/
``pattern_injection``/``method_specific``/``method_specific_unconstrained``; defense ``none`` or a
check id (:mod:`.defenses`); setting ``target_r=<r>;task=<task>`` (``task=<task>`` alone for the
original data). Every row is pooled over the draws that ran its version (``seeds``: how many; the
targets below the headline r run in the first ``sweep_draws`` draws only) with the intervals of
:mod:`.replicates`.

Metrics:

* victims: ``cv_accuracy`` (10-fold CV) and ``external_accuracy`` (defense ``external_validation``:
  trained on the whole version, tested on the untouched external sample); ``cv_gain`` and
  ``external_gain`` (the version's accuracy minus the original release's, same victim, paired on the
  same subjects); ``cv_auroc`` and ``external_auroc`` of the victims trained on the original release
  (their quality; t interval across draws); ``mlp_minus_lr`` and ``mlp_lead_counted`` (MLP accuracy
  minus the larger of LR's and chance, 0.5: the method-specific gap that counts);
* similarity and edit size (model ``none``): ``r_mean``/``r_min``/``r_p05`` (per-subject r with the
  original), ``cells_changed``, ``edit_iqr_median``/``edit_iqr_p99`` (mean over draws),
  ``edit_iqr_max`` (max over draws), ``edit_iqr_p99_worst_variable`` (the largest per-variable 99th
  percentile), ``outside_range`` (share of cells outside their variable's observed range;
  :mod:`.edit_magnitude`), ``attack_seconds``;
* checks: ``detected`` (share of draws in which the check flags the version), ``check_seconds``,
  ``altered_rows_flagged`` / ``unaltered_rows_flagged`` (provenance: the smallest share of a
  version's altered rows flagged; unaltered rows flagged over all draws), ``manifest_seconds``, and
  ``detection_rate``: per attack and check, the share of that attack's versions (every draw x task x
  target r) the check flags, exact interval; for attack ``none`` the false-alarm rate on the untouched
  releases. ``detection_rate`` is the report's attack-by-defense matrix.

edit_magnitude.csv: per task, attack, target r and variable (feature): ``draws`` pooled,
``cells_changed``, ``median_iqr``, ``p99_iqr`` (means over draws), ``max_iqr`` (max over draws),
``outside_range`` (all in IQR units of the variable, :mod:`.edit_magnitude`).
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from medrobust.core.io import read_npz
from medrobust.core.metrics import auroc
from medrobust.core.records import Claim, Metric, format_setting
from medrobust.core.seeding import make_rng
from medrobust.enhancement.claims import judge_claims
from medrobust.enhancement.external_validation import collapsed
from medrobust.enhancement.evaluation import accuracy_estimate
from medrobust.enhancement.replicates import CHANCE, mean_over_draws, paired_difference, pooled_share

STUDY = "enhancement"
VERSION_KEYS = ["attack", "target_r"]


def setting(task: str, target: float) -> str:
    return format_setting({"task": task}) if target >= 1.0 else format_setting({"target_r": target, "task": task})


@dataclass(frozen=True)
class Scale:
    """What the run's size was, for every claim row's ``scale``."""

    n_subjects: int
    n_features: int
    draws: int
    victims: str
    folds: int
    attack_steps: int

    def words(self) -> str:
        return (f"{self.n_subjects} stays per release x {self.draws} draws (different samples of PhysioNet 2012 "
                f"set a), {self.n_features} features; victims {self.victims}, {self.folds}-fold CV; "
                f"gradient attacks {self.attack_steps} steps")


def collect_files(keys: Sequence[tuple[int, str]], manifests: Sequence[str], cv: Sequence[str],
                  checks: Sequence[str], external: Sequence[str], attacks: Sequence[str], dataset: str,
                  headline_r: float, n_boot: int, seed: int, folds: int,
                  attack_steps: int) -> tuple[list[Metric], list[Claim], pd.DataFrame]:
    """Read the per-draw, per-task files (lists in the order of ``keys``, (draw, task) pairs; ``attacks``
    any order) and :func:`collect`."""
    sweeps = [read_npz(f) for f in attacks]
    parts = {}
    for key, manifest, cv_file, check_file, external_file in zip(keys, manifests, cv, checks, external):
        draw, task = int(key[0]), str(key[1])
        with open(manifest, encoding="utf-8") as fh:
            parts[(draw, task)] = {
                "manifest": json.load(fh), "cv": _read_csv(cv_file), "checks": _read_csv(check_file),
                "external": _read_csv(external_file),
                "sweeps": [s for s in sweeps if str(s["task"]) == task and int(s["draw"]) == draw]}
    return collect(parts, dataset, headline_r, n_boot, seed, folds, attack_steps)


def _read_csv(path: str) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""])  # the id 'none' stays a string


def collect(parts: Mapping[tuple[int, str], Mapping[str, Any]], dataset: str, headline_r: float, n_boot: int,
            seed: int, folds: int = 10, attack_steps: int = 0) -> tuple[list[Metric], list[Claim], pd.DataFrame]:
    """``parts[(draw, task)]``: ``cv``, ``checks``, ``external`` (frames), ``sweeps`` (list of sweep arrays),
    ``manifest`` (the provenance manifest dict). Returns the metrics, the judged claims and the
    per-variable edit magnitudes."""
    draws = sorted({d for d, _ in parts})
    tasks = list(dict.fromkeys(t for _, t in parts))
    pooled = Pooling(dataset, len(draws), n_boot, seed)
    metrics: list[Metric] = []
    for task in tasks:
        mine = {d: p for (d, t), p in parts.items() if t == task}
        cv = _stack({d: p["cv"] for d, p in mine.items()})
        external = _stack({d: p["external"] for d, p in mine.items()})
        checks = _stack({d: p["checks"] for d, p in mine.items()})
        sweeps = [s for p in mine.values() for s in p["sweeps"]]
        metrics += pooled.victims(task, cv, "cv", "none")
        metrics += pooled.victims(task, external, "external", "external_validation")
        metrics += pooled.victim_quality(task, cv, external)
        metrics += pooled.gaps(task, cv)
        metrics += pooled.similarity(task, sweeps)
        metrics += pooled.checks(task, checks)
        metrics += pooled.external_flags(task, cv, external)
        metrics.append(pooled.metric("none", "none", "provenance", "manifest_seconds",
                                     np.mean([p["manifest"]["fit_seconds"] for p in mine.values()]),
                                     n=len(next(iter(mine.values()))["manifest"]["rows"]),
                                     where=format_setting({"task": task})))
    metrics += pooled.detection_rates(parts)
    first = next(iter(parts.values()))
    scale = Scale(n_subjects=int(first["cv"]["subject"].nunique()),
                  n_features=int(first["sweeps"][0]["x"].shape[-1]) if first["sweeps"] else 0,
                  draws=len(draws), victims="/".join(sorted(first["cv"]["model"].unique())), folds=folds,
                  attack_steps=attack_steps)
    return metrics, judge_claims(metrics, headline_r, scale.words(), len(draws)), edit_table(parts)


def _stack(frames: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([f.assign(draw=d) for d, f in sorted(frames.items())], ignore_index=True)


class Pooling:
    """Turns the per-draw rows of one task into pooled metric rows."""

    def __init__(self, dataset: str, n_draws: int, n_boot: int, seed: int):
        self.dataset, self.n_draws, self.n_boot, self.seed = dataset, n_draws, n_boot, seed

    def metric(self, model, attack, defense, metric, value, ci_low=math.nan, ci_high=math.nan, n=0,
               where="", seeds=None) -> Metric:
        return Metric(study=STUDY, dataset=self.dataset, model=model, attack=attack, defense=defense,
                      metric=metric, value=float(value), ci_low=float(ci_low), ci_high=float(ci_high), n=int(n),
                      seeds=self.n_draws if seeds is None else int(seeds), setting=where)

    def estimate_metric(self, model, attack, defense, metric, est, where, seeds=None) -> list[Metric]:
        if est.value != est.value:  # nothing to pool
            return []
        return [self.metric(model, attack, defense, metric, est.value, est.ci_low, est.ci_high, est.n, where, seeds)]

    def rng(self, *keys) -> np.random.Generator:
        return make_rng(self.seed, STUDY, *keys)

    def victims(self, task: str, rows: pd.DataFrame, kind: str, defense: str) -> list[Metric]:
        """``<kind>_accuracy`` per version and victim, and ``<kind>_gain`` over the original release."""
        out = []
        correct = rows.assign(correct=(rows["y"] == rows["pred"]).astype(float))
        original = correct[correct["attack"] == "none"]
        for (attack, target, model), part in correct.groupby(VERSION_KEYS + ["model"], sort=True):
            where = setting(task, target)
            per_draw = part.groupby("draw")["correct"]
            seeds = part["draw"].nunique()
            est = pooled_share(per_draw.sum().astype(int).tolist(), per_draw.size().tolist())
            out += self.estimate_metric(model, attack, defense, f"{kind}_accuracy", est, where, seeds)
            if attack == "none":
                continue
            base = original[original["model"] == model]
            a, b = _paired_by_draw(part, base)
            gain = paired_difference(a, b, self.rng(kind, "gain", task, attack, target, model), self.n_boot)
            out += self.estimate_metric(model, attack, defense, f"{kind}_gain", gain, where, seeds)
        return out

    def victim_quality(self, task: str, cv: pd.DataFrame, external: pd.DataFrame) -> list[Metric]:
        """AUROC of the victims trained on the original release: CV and on the external sample."""
        out = []
        for kind, rows in (("cv", cv), ("external", external)):
            original = rows[rows["attack"] == "none"]
            for model, part in original.groupby("model", sort=True):
                per_draw = [auroc(d["y"], d["score"]) for _, d in part.groupby("draw") if d["y"].nunique() == 2]
                if per_draw:
                    est = mean_over_draws(per_draw, n=len(part))
                    out += self.estimate_metric(model, "none", "none" if kind == "cv" else "external_validation",
                                                f"{kind}_auroc", est, setting(task, 1.0))
        return out

    def gaps(self, task: str, cv: pd.DataFrame) -> list[Metric]:
        """MLP minus LR, and the MLP's lead over the better of LR and chance, per version."""
        out = []
        if not {"mlp", "lr"} <= set(cv["model"]):
            return out
        correct = cv.assign(correct=(cv["y"] == cv["pred"]).astype(float))
        for (attack, target), version in correct.groupby(VERSION_KEYS, sort=True):
            where = setting(task, target)
            a, b = _paired_by_draw(version[version["model"] == "mlp"], version[version["model"] == "lr"])
            for name, floor in (("mlp_minus_lr", None), ("mlp_lead_counted", CHANCE)):
                est = paired_difference(a, b, self.rng(name, task, attack, target), self.n_boot, floor=floor)
                out += self.estimate_metric("mlp_vs_lr", attack, "none", name, est, where, len(a))
        return out

    def similarity(self, task: str, sweeps: list[Mapping[str, np.ndarray]]) -> list[Metric]:
        out = []
        for (attack, target), runs in sorted(_by_version(sweeps).items()):
            where = setting(task, target)
            r = np.concatenate([s["r"][t] for s, t in runs])
            edit = {k: np.array([s[k][t] for s, t in runs]) for k in runs[0][0] if k.startswith("edit_")}
            with warnings.catch_warnings():  # a variable no draw changed has no p99: it stays NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                worst_variable = np.nanmax(np.nanmean(edit["edit_variable_p99"], axis=0))
            values = {
                "r_mean": r.mean(), "r_min": r.min(), "r_p05": np.quantile(r, 0.05),
                "cells_changed": edit["edit_cells_changed"].mean(),
                "edit_iqr_median": np.nanmean(edit["edit_median"]), "edit_iqr_p99": np.nanmean(edit["edit_p99"]),
                "edit_iqr_max": np.nanmax(edit["edit_max"]),
                "edit_iqr_p99_worst_variable": worst_variable,
                "outside_range": edit["edit_outside_range"].mean(),
                "attack_seconds": np.mean([s["seconds"][t] for s, t in runs]),
            }
            cells = int(np.prod(runs[0][0]["x"].shape[1:])) * len(runs)
            for name, value in values.items():
                if np.isfinite(value):
                    out.append(self.metric("none", attack, "none", name, value,
                                           n=len(r) if name.startswith("r_") else cells, where=where,
                                           seeds=len(runs)))
        return out

    def checks(self, task: str, checks: pd.DataFrame) -> list[Metric]:
        out = []
        for (attack, target, defense), rows in checks.groupby(VERSION_KEYS + ["defense"], sort=True):
            where = setting(task, target)
            kw = {"n": len(rows), "where": where, "seeds": rows["draw"].nunique()}
            out.append(self.metric("none", attack, defense, "detected", rows["flagged"].astype(float).mean(), **kw))
            out.append(self.metric("none", attack, defense, "check_seconds", rows["seconds"].mean(), **kw))
            if defense.startswith("provenance"):
                if attack != "none":
                    out.append(self.metric("none", attack, defense, "altered_rows_flagged", rows["score"].min(), **kw))
                out.append(self.metric("none", attack, defense, "unaltered_rows_flagged", rows["detail"].sum(), **kw))
        return out

    def external_flags(self, task: str, cv: pd.DataFrame, external: pd.DataFrame) -> list[Metric]:
        """The external-validation detector's flag per version (share of draws flagged)."""
        flags = external_flag_rows(cv, external)
        return [self.metric("none", attack, "external_validation", "detected", rows["flagged"].mean(), n=len(rows),
                            where=setting(task, target), seeds=rows["draw"].nunique())
                for (attack, target), rows in flags.groupby(VERSION_KEYS, sort=True)]

    def detection_rates(self, parts: Mapping[tuple[int, str], Mapping[str, Any]]) -> list[Metric]:
        frames = []
        for p in parts.values():
            frames.append(p["checks"][["attack", "defense", "flagged"]])
            flags = external_flag_rows(p["cv"].assign(draw=0), p["external"].assign(draw=0))
            frames.append(flags.assign(defense="external_validation")[["attack", "defense", "flagged"]])
        frame = pd.concat(frames, ignore_index=True)
        out = []
        for (attack, defense), rows in frame.groupby(["attack", "defense"], sort=True):
            est = pooled_share([int(rows["flagged"].astype(bool).sum())], [len(rows)])
            out += self.estimate_metric("none", attack, defense, "detection_rate", est, "")
        return out


def _paired_by_draw(a_rows: pd.DataFrame, b_rows: pd.DataFrame) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per draw, the ``correct`` columns of two sets of rows aligned on the subject."""
    a_out, b_out = [], []
    for draw, a in a_rows.groupby("draw", sort=True):
        b = b_rows[b_rows["draw"] == draw]
        merged = a[["subject", "correct"]].merge(b[["subject", "correct"]], on="subject", suffixes=("_a", "_b"))
        a_out.append(merged["correct_a"].to_numpy())
        b_out.append(merged["correct_b"].to_numpy())
    return a_out, b_out


def external_flag_rows(cv: pd.DataFrame, external: pd.DataFrame) -> pd.DataFrame:
    """Per draw and version: flagged if, for any victim, the external accuracy's interval lies wholly
    below that victim's CV accuracy on the version (:func:`.external_validation.collapsed`)."""
    internal = (cv["y"] == cv["pred"]).groupby([cv["draw"], cv["attack"], cv["target_r"], cv["model"]]).mean()
    rows = []
    for (draw, attack, target), version in external.groupby(["draw"] + VERSION_KEYS, sort=True):
        flagged = any(collapsed(float(internal[(draw, attack, target, model)]),
                                accuracy_estimate(part["y"].to_numpy(), part["pred"].to_numpy()))
                      for model, part in version.groupby("model", sort=True))
        rows.append({"draw": draw, "attack": attack, "target_r": target, "flagged": float(flagged)})
    return pd.DataFrame(rows, columns=["draw", "attack", "target_r", "flagged"])


def _by_version(sweeps: Sequence[Mapping[str, np.ndarray]]) -> dict[tuple[str, float], list]:
    """(attack, target r) -> [(sweep, index of the target in it)] over the draws that ran it."""
    grouped: dict[tuple[str, float], list] = {}
    for sweep in sweeps:
        for t, target in enumerate(sweep["targets"]):
            grouped.setdefault((str(sweep["attack"]), float(target)), []).append((sweep, t))
    return grouped


def edit_table(parts: Mapping[tuple[int, str], Mapping[str, Any]]) -> pd.DataFrame:
    """Per task, attack, target r and variable: the edit magnitude pooled over draws."""
    columns = ["task", "attack", "target_r", "variable", "draws", "cells_changed", "median_iqr", "p99_iqr",
               "max_iqr", "outside_range"]
    frames = []
    for task in dict.fromkeys(t for _, t in parts):
        sweeps = [s for (_, t), p in parts.items() if t == task for s in p["sweeps"]]
        for (attack, target), runs in sorted(_by_version(sweeps).items()):
            stack = {k: np.stack([s[f"edit_variable_{k}"][t] for s, t in runs])
                     for k in ("changed", "median", "p99", "max", "outside")}
            with warnings.catch_warnings():  # variables no draw changed stay NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                frames.append(pd.DataFrame({
                    "task": task, "attack": attack, "target_r": target, "variable": runs[0][0]["names"].astype(str),
                    "draws": len(runs), "cells_changed": stack["changed"].mean(axis=0),
                    "median_iqr": np.nanmean(stack["median"], axis=0), "p99_iqr": np.nanmean(stack["p99"], axis=0),
                    "max_iqr": np.nanmax(stack["max"], axis=0), "outside_range": stack["outside"].mean(axis=0)}))
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
