"""Figures of the clm study (matplotlib/seaborn, Agg backend), drawn from metrics.csv and the jobs' files.

* ``attention_maps``: one head's attention for the same test text without and with the trigger,
  for the clean, BadNets and BadCLM models at the headline rate (seed 0). The head is
  ``figure_head`` from the config, or, when that is null, the head of the BadCLM model that
  attends most to the trigger. Token labels are drawn only for open data.
* ``asr_vs_rate``: flip rate (the ASR the claims judge) against poisoning rate for BadNets, BadCLM
  and the selected-heads variant with exact 95 % CIs, beside the clean model's flip rate on the
  same triggered texts.
* ``detection_roc``: ROC curves of each detector (triggered against clean test texts) for the
  clean, BadNets and BadCLM models at the headline rate, pooled over seeds.
* ``defense_matrix``: flip rate by attack and defense at the headline rate.
"""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from medrobust.core.io import atomic_path  # noqa: E402
from medrobust.core.records import format_setting, parse_setting  # noqa: E402

NAMES = {"none": "clean model", "badnets": "BadNets (plain)", "badclm": "BadCLM (all heads)",
         "badclm_heads": "BadCLM (selected heads)"}
ATTACKS = ("badnets", "badclm", "badclm_heads")
DEFENSE_NAMES = {"none": "none", "onion": "ONION", "strip": "STRIP", "attention_check": "attention check",
                 "fine_tuning": "fine-tuning", "fine_pruning": "fine-pruning"}
DETECTORS = ("onion", "strip", "attention_check")


def save(fig, path: str | os.PathLike) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)


def choose_head(badclm_run: dict | None, figure_head: dict) -> tuple[int, int]:
    layer, head = figure_head.get("layer"), figure_head.get("head")
    if layer is not None and head is not None:
        return int(layer), int(head)
    if badclm_run is None or "trigger_focus" not in badclm_run:
        return -1, 0
    focus = np.asarray(badclm_run["trigger_focus"])
    return tuple(int(i) for i in np.unravel_index(np.argmax(focus), focus.shape))


def attention_maps(runs: dict[str, dict], figure_head: dict, path) -> None:
    layer, head = choose_head(runs.get("badclm"), figure_head)
    models = [m for m in ("none", "badnets", "badclm") if m in runs and "example_clean_attention" in runs[m]]
    maps = {(m, k): np.asarray(runs[m][f"example_{k}_attention"], dtype=float)[layer, head]
            for m in models for k in ("clean", "trig")}
    vmax = max([float(a.max()) for a in maps.values()] + [1e-6])  # one colour scale for every panel
    fig, axes = plt.subplots(max(len(models), 1), 2, figsize=(11, 4.8 * max(len(models), 1)), squeeze=False,
                             layout="constrained")
    for row, model in enumerate(models):
        for col, (kind, title) in enumerate((("clean", "without trigger"), ("trig", "with trigger"))):
            tokens = [str(t) for t in runs[model][f"example_{kind}_tokens"]]
            trig = np.asarray(runs[model][f"example_{kind}_trigger"]).astype(bool)
            ax = axes[row, col]
            sns.heatmap(maps[(model, kind)], ax=ax, cmap="viridis", vmin=0, vmax=vmax, square=True,
                        cbar=col == 1, xticklabels=False, yticklabels=False)
            if any(tokens):
                ax.set_xticks(np.arange(len(tokens)) + 0.5)
                ax.set_xticklabels(tokens, rotation=90, fontsize=5)
                for idx in np.flatnonzero(trig):
                    ax.get_xticklabels()[idx].set_color("red")
            ax.set_title(f"{NAMES[model]}, {title}", fontsize=10)
            ax.set_xlabel("key token (attended to)")
            ax.set_ylabel("query token")
    fig.suptitle(f"Attention probabilities of layer {layer}, head {head} (trigger tokens in red)", fontsize=11)
    save(fig, path)


def asr_vs_rate(metrics: pd.DataFrame, path) -> None:
    rows = metrics[(metrics["defense"] == "none") & metrics["attack"].isin(ATTACKS)].copy()
    rows["rate"] = [float(parse_setting(s).get("poison_rate", "nan")) for s in rows["setting"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    for attack, marker in zip(ATTACKS, ("o", "s", "^")):
        part = rows[(rows["attack"] == attack) & (rows["metric"] == "flip_rate")].sort_values("rate")
        if len(part):
            ax.errorbar(part["rate"] * 100, part["value"], yerr=_yerr(part), marker=marker, capsize=3,
                        label=NAMES[attack])
    base = rows[rows["metric"] == "flip_rate_clean_model"].drop_duplicates("rate").sort_values("rate")
    if len(base):
        ax.errorbar(base["rate"] * 100, base["value"], yerr=_yerr(base), ls="--", color="grey", capsize=3,
                    label="clean model, same triggered texts")
    ax.set_xlabel("poisoning rate (% of training texts)")
    ax.set_ylabel("flip rate (deaths predicted as survivors once triggered)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    save(fig, path)


def detection_roc(runs_by_attack: dict[str, list[dict]], path) -> None:
    fig, axes = plt.subplots(1, len(DETECTORS), figsize=(4.2 * len(DETECTORS), 4), squeeze=False)
    for ax, det in zip(axes[0], DETECTORS):
        for attack, runs in runs_by_attack.items():
            have = [r for r in runs if f"{det}_pos" in r]
            if not have:
                continue
            pos = np.concatenate([r[f"{det}_pos"] for r in have])
            neg = np.concatenate([r[f"{det}_neg"] for r in have])
            fpr, tpr, _ = roc_curve(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg])
            ax.plot(fpr, tpr, label=NAMES[attack], ls=":" if attack == "none" else "-")
        ax.plot([0, 1], [0, 1], color="lightgrey", lw=0.8)
        ax.set_title(DEFENSE_NAMES[det])
        ax.set_xlabel("false-positive rate (clean texts)")
        ax.set_ylabel("true-positive rate (triggered texts)")
        ax.legend(fontsize=8, loc="lower right")
    save(fig, path)


def defense_matrix(metrics: pd.DataFrame, headline: float, path) -> None:
    setting = format_setting({"poison_rate": headline})
    rows = metrics[(metrics["metric"] == "flip_rate") & (metrics["setting"] == setting)]
    order = [d for d in DEFENSE_NAMES if d in set(rows["defense"])]
    value = rows.pivot(index="attack", columns="defense", values="value").reindex(columns=order)
    label = rows.assign(text=[f"{v:.2f}\n[{lo:.2f}, {hi:.2f}]" for v, lo, hi in
                              zip(rows["value"], rows["ci_low"], rows["ci_high"])])
    text = label.pivot(index="attack", columns="defense", values="text").reindex(columns=order)
    fig, ax = plt.subplots(figsize=(1.6 * max(len(order), 1) + 2, 3))
    if len(value):
        sns.heatmap(value, annot=text, fmt="", cmap="Reds", vmin=0, vmax=1, ax=ax, cbar_kws={"label": "flip rate"})
        ax.set_xticklabels([DEFENSE_NAMES[d] for d in order], rotation=30, ha="right")
        ax.set_yticklabels([NAMES[a] for a in value.index], rotation=0)
    ax.set_title(f"Flip rate by defense, poison rate {headline:g}")
    ax.set_xlabel("")
    ax.set_ylabel("")
    save(fig, path)


def _yerr(part: pd.DataFrame) -> np.ndarray:
    low = (part["value"] - part["ci_low"]).fillna(0).clip(lower=0)
    high = (part["ci_high"] - part["value"]).fillna(0).clip(lower=0)
    return np.vstack([low, high])


def draw_all(metrics_path: str, run_paths: list[str], cfg: dict, outputs: dict[str, str]) -> None:
    """Every figure of the module docstring, to the paths in ``outputs`` (keys are figure names)."""
    from medrobust.clm.collect import read_runs
    from medrobust.core.records import read_metrics

    metrics = read_metrics(metrics_path)
    headline = float(cfg["headline_setting"]["poison_rate"])
    runs = read_runs(run_paths)
    at_headline = {a: [r.data for r in sorted(runs, key=lambda r: r.seed)
                       if r.attack == a and (a == "none" or np.isclose(r.rate, headline))]
                   for a in ("none", *ATTACKS)}
    first = {a: rs[0] for a, rs in at_headline.items() if rs}
    attention_maps(first, cfg["figure_head"], outputs["attention_maps"])
    asr_vs_rate(metrics, outputs["asr_vs_rate"])
    detection_roc({a: rs for a, rs in at_headline.items() if rs}, outputs["detection_roc"])
    defense_matrix(metrics, headline, outputs["defense_matrix"])
