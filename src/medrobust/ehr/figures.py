"""Figures of the ehr study, each drawn on its own Agg ``Figure`` and written atomically.

* ``mask_heatmaps``: a real test stay's mask, the seed-0 VAE trigger, the random trigger, and the
  real stay after the VAE trigger is applied (hours x variables);
* ``asr_vs_rate``: ASR of ``vae_missingness`` against the poisoning rate, one line per model with
  its CI band, and the clean-model ASR of the same trigger dashed;
* ``auprc``: clean and triggered AUPRC per model (clean victim, poisoned victim);
* ``detection_roc``: ROC curves of each input check per trigger (seed 0);
* ``defense_matrix``: residual ASR, attacks x defenses, one panel per model, at the headline rate;
* ``training_length``: the training-length finding, flip rate (poisoned victim and clean twin),
  raw ASR and clean AUROC against training epochs, with the early-stopped victim marked.
"""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from medrobust.core.plots import DPI, empty_png, save_png  # noqa: E402
from medrobust.core.records import parse_setting  # noqa: E402


def mask_heatmaps(real_mask: np.ndarray, vae: np.ndarray, random: np.ndarray, variables: np.ndarray,
                  out_png: str | os.PathLike) -> None:
    panels = [("a real test stay", real_mask), ("VAE trigger (seed 0)", vae), ("random trigger", random),
              ("the stay with the VAE trigger", real_mask & vae)]
    fig = Figure(figsize=(14, 0.16 * len(variables) + 1.4), dpi=DPI)
    for i, (title, mask) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.imshow(mask.T, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{title}\n{mask.mean():.1%} of cells observed", fontsize=9)
        ax.set_xlabel("hour")
        ax.set_yticks(range(len(variables)), labels=variables if i == 0 else [""] * len(variables), fontsize=6)
    save_png(fig, out_png)


def asr_vs_rate(metrics: pd.DataFrame, out_png: str | os.PathLike) -> None:
    rows = metrics[(metrics["attack"] == "vae_missingness") & (metrics["defense"] == "none")
                   & metrics["metric"].isin(["asr", "asr_clean_model"])].copy()
    if not len(rows):
        return empty_png(out_png, "no ASR rows (study not run on this cohort)")
    # only the plain rate settings (the training-length points carry epochs= or stop= as well)
    rows = rows[rows["setting"].map(lambda s: set(parse_setting(s)) == {"poison_rate"})].copy()
    rows["rate"] = rows["setting"].map(lambda s: float(parse_setting(s)["poison_rate"]))
    fig = Figure(figsize=(7, 4.2), dpi=DPI)
    ax = fig.add_subplot()
    palette = dict(zip(sorted(rows["model"].unique()), sns.color_palette("tab10")))
    for (model, metric), part in rows.sort_values("rate").groupby(["model", "metric"]):
        style = "-o" if metric == "asr" else "--"
        label = f"{model} poisoned" if metric == "asr" else f"{model} clean model"
        ax.plot(part["rate"] * 100, part["value"], style, color=palette[model], label=label, ms=4)
        ax.fill_between(part["rate"] * 100, part["ci_low"], part["ci_high"], color=palette[model],
                        alpha=0.15 if metric == "asr" else 0.07)
    ax.set_xscale("log")
    ax.set_xlabel("poisoning rate (% of training stays)")
    ax.set_ylabel("attack success rate")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, ncol=2)
    save_png(fig, out_png)


def auprc_bars(metrics: pd.DataFrame, headline: str, out_png: str | os.PathLike) -> None:
    pick = [("none", "", "auprc", "clean victim, clean inputs"),
            ("vae_missingness", headline, "auprc", "poisoned victim, clean inputs"),
            ("vae_missingness", headline, "auprc_triggered_clean_model", "clean victim, triggered inputs"),
            ("vae_missingness", headline, "auprc_triggered", "poisoned victim, triggered inputs")]
    parts = []
    for attack, setting, metric, label in pick:
        part = metrics[(metrics["attack"] == attack) & (metrics["defense"] == "none")
                       & (metrics["setting"] == setting) & (metrics["metric"] == metric)].copy()
        part["condition"] = label
        parts.append(part)
    rows = pd.concat(parts)
    if not len(rows):
        return empty_png(out_png, "no AUPRC rows (study not run on this cohort)")
    fig = Figure(figsize=(8, 4), dpi=DPI)
    ax = fig.add_subplot()
    models = sorted(rows["model"].unique())
    conditions = [p[3] for p in pick]
    width = 0.8 / len(conditions)
    for j, (cond, color) in enumerate(zip(conditions, sns.color_palette("Paired", len(conditions)))):
        sub = rows[rows["condition"] == cond].set_index("model").reindex(models)
        x = np.arange(len(models)) + (j - (len(conditions) - 1) / 2) * width
        err = np.vstack([sub["value"] - sub["ci_low"], sub["ci_high"] - sub["value"]])
        ax.bar(x, sub["value"], width, yerr=np.nan_to_num(err), color=color, label=cond, capsize=2)
    ax.set_xticks(range(len(models)), labels=models)
    ax.set_ylabel("AUPRC")
    ax.legend(fontsize=7)
    save_png(fig, out_png)


def detection_roc(curves: dict[str, np.ndarray], out_png: str | os.PathLike) -> None:
    keys = [k for k in curves if k.startswith("roc|")]
    if not keys:
        return empty_png(out_png, "no input checks were run")
    attacks = sorted({k.split("|")[1] for k in keys})
    checks = sorted({k.split("|")[2] for k in keys})
    fig = Figure(figsize=(3.2 * len(checks), 3.2), dpi=DPI)
    colors = dict(zip(attacks, sns.color_palette("tab10")))
    for i, check in enumerate(checks):
        ax = fig.add_subplot(1, len(checks), i + 1)
        for attack in attacks:
            key = f"roc|{attack}|{check}"
            if key in curves:
                ax.plot(curves[key][0], curves[key][1], color=colors[attack], label=attack)
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.set_title(check, fontsize=9)
        ax.set_xlabel("false-positive rate")
        if i == 0:
            ax.set_ylabel("true-positive rate")
            ax.legend(fontsize=6)
    save_png(fig, out_png)


def defense_matrix(metrics: pd.DataFrame, headline: str, out_png: str | os.PathLike) -> None:
    rows = metrics[(metrics["metric"] == "asr") & (metrics["setting"] == headline) & (metrics["model"] != "none")]
    if not len(rows):
        return empty_png(out_png, "no ASR rows (study not run on this cohort)")
    models = sorted(rows["model"].unique())
    defenses = ["none"] + sorted(d for d in rows["defense"].unique() if d != "none")
    attacks = sorted(rows["attack"].unique())
    fig = Figure(figsize=(1.0 * len(defenses) + 2.5, (0.5 * len(attacks) + 1.2) * len(models)), dpi=DPI)
    for i, model in enumerate(models):
        part = rows[rows["model"] == model]
        table = part.pivot(index="attack", columns="defense", values="value").reindex(index=attacks, columns=defenses)
        ax = fig.add_subplot(len(models), 1, i + 1)
        sns.heatmap(table.astype(float), annot=True, fmt=".2f", cmap="Reds", vmin=0, vmax=1, ax=ax,
                    cbar=i == 0, annot_kws={"fontsize": 7}, linewidths=0.5, linecolor="white")
        ax.set_title(f"{model}: attack success rate ({headline})", fontsize=9)
        ax.set_ylabel("")
        ax.set_xlabel("")
        ax.tick_params(axis="y", rotation=0, labelsize=7)
        if i < len(models) - 1:
            ax.set_xticklabels([])
        else:
            ax.set_xticks(ax.get_xticks(), labels=defenses, rotation=30, ha="right", fontsize=7)
    save_png(fig, out_png)


CURVE_METRICS = {"flip_rate": ("flip rate, poisoned victim", "-o"),
                 "flip_rate_clean_model": ("flip rate, clean twin", "--o"),
                 "asr": ("raw ASR, poisoned victim", ":s"),
                 "auroc": ("clean-test AUROC, poisoned victim", "-^"),
                 "auroc_clean_model": ("clean-test AUROC, clean twin", "--^")}


def training_length(metrics: pd.DataFrame, out_png: str | os.PathLike) -> None:
    """Flip rate, ASR and AUROC against epochs (one panel per model), early stopping marked."""
    settings = metrics["setting"].map(parse_setting)
    curve = metrics[(metrics["defense"] == "none") & (metrics["attack"] == "vae_missingness")
                    & settings.map(lambda p: "epochs" in p)].copy()
    early = metrics[(metrics["defense"] == "none") & (metrics["attack"] == "vae_missingness")
                    & settings.map(lambda p: p.get("stop") == "val_auroc")]
    if not len(curve):
        return empty_png(out_png, "training-length finding not run (ehr.training_curve.models is empty)")
    curve["epochs"] = curve["setting"].map(lambda s: int(parse_setting(s)["epochs"]))
    models = sorted(curve["model"].unique())
    fig = Figure(figsize=(7 * len(models), 4.2), dpi=DPI)
    colours = dict(zip(CURVE_METRICS, sns.color_palette("tab10")))
    for i, model in enumerate(models):
        ax = fig.add_subplot(1, len(models), i + 1)
        for metric, (label, style) in CURVE_METRICS.items():
            part = curve[(curve["model"] == model) & (curve["metric"] == metric)].sort_values("epochs")
            if len(part):
                ax.plot(part["epochs"], part["value"], style, color=colours[metric], label=label, ms=4)
                ax.fill_between(part["epochs"], part["ci_low"], part["ci_high"], color=colours[metric], alpha=0.12)
        stop = early[(early["model"] == model) & (early["metric"] == "epochs")]["value"]
        flip = early[(early["model"] == model) & (early["metric"] == "flip_rate")]["value"]
        if len(stop) and len(flip):
            ax.axvline(float(stop.iloc[0]), color="grey", lw=0.8)
            ax.plot([float(stop.iloc[0])], [float(flip.iloc[0])], "*", color=colours["flip_rate"], ms=12,
                    label=f"early stopped (epoch {float(stop.iloc[0]):.1f}, mean over seeds)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("training epochs")
        ax.set_ylim(0, 1.02)
        ax.set_title(model.upper(), fontsize=9)
        ax.legend(fontsize=7)
    save_png(fig, out_png)


def draw_all(metrics: pd.DataFrame, triggers: dict[str, np.ndarray], curves: dict[str, np.ndarray],
             headline: str, out: dict[str, str]) -> None:
    """Every figure of the study; ``out`` maps a figure name to its PNG path."""
    mask_heatmaps(triggers["example_mask"], triggers["vae_fixed"][0], triggers["random"][0],
                  triggers["variables"], out["mask_heatmaps"])
    asr_vs_rate(metrics, out["asr_vs_rate"])
    auprc_bars(metrics, headline, out["auprc"])
    detection_roc(curves, out["detection_roc"])
    defense_matrix(metrics, headline, out["defense_matrix"])
    training_length(metrics, out["training_length"])
