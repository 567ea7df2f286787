"""Figures of the fedgan study, each drawn on its own Agg ``Figure`` and written atomically.

* ``sample_grids``: the final global generator's samples (seed 0), one panel per variant, one
  row per class, the trigger's place outlined in red in the first image of each row;
* ``loss_curves``: per-client generator and discriminator losses over rounds in the clean and the
  attacked federation (seed 0), the malicious client in red (in the clean run, the same client);
* ``feddetect_weights``: FedAvg weights and FedDetect anomaly scores per client over rounds in
  each FedDetect federation (both variants, seed 0), flagged rounds marked;
* ``fidelity_trigger``: FID, KID and trigger share per variant with CIs;
* ``quality_by_round``: label agreement, FID and trigger share at each checkpoint (mean over
  seeds), the rounds-vs-quality curve, with the label-agreement gate;
* ``downstream_auc``: test AUC of the classifier trained on real plus each variant's synthetic
  images, the real-only classifier as a band.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from medrobust.core.plots import DPI, empty_png, save_png  # noqa: E402
from medrobust.core.records import parse_setting  # noqa: E402

DETECTORS = ("feddetect", "feddetect_authors")
LABEL_AGREEMENT_MIN = 0.8  # the gate of medrobust.fedgan.claims (not imported: it pulls in torch)

ATTACKER, BENIGN = "#d62728", "#7f7f7f"


def variant_label(attack: str, defense: str) -> str:
    if attack == "none":
        return "clean" if defense == "none" else f"clean + {defense}"
    return "attacked" if defense == "none" else f"attacked + {defense}"


def _seed0(runs: Sequence[Mapping[str, np.ndarray]]) -> dict[tuple[str, str], Mapping[str, np.ndarray]]:
    return {(str(r["attack"]), str(r["defense"])): r for r in runs if int(r["seed_index"]) == 0}


def _grid_image(run: Mapping[str, np.ndarray]) -> np.ndarray:
    images, labels = run["grid_images"], run["grid_labels"]
    rows = [np.concatenate(list(images[labels == c]), axis=1) for c in np.unique(labels)]
    return np.concatenate(rows, axis=0)


def sample_grids(runs: Sequence[Mapping[str, np.ndarray]], out_png: str | os.PathLike) -> None:
    chosen = _seed0(runs)
    if not chosen:
        return empty_png(out_png, "no federation runs")
    n = len(chosen)
    cols = min(n, 2)
    rows = int(np.ceil(n / cols))
    first = next(iter(chosen.values()))
    n_classes = len(np.unique(first["grid_labels"]))
    per_class = len(first["grid_labels"]) // n_classes
    fig = Figure(figsize=(0.75 * per_class * cols + 1, (0.75 * n_classes + 0.5) * rows), dpi=DPI)
    for i, ((attack, defense), run) in enumerate(chosen.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        grid = _grid_image(run)
        ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=255,
                  interpolation="nearest")
        size = run["grid_images"].shape[1]
        r0, r1, c0, c1 = run["trigger_box"]
        for row in range(n_classes):  # where the trigger would sit, outlined in the first column
            ax.add_patch(Rectangle((c0 - 0.5, row * size + r0 - 0.5), c1 - c0, r1 - r0, fill=False,
                                   edgecolor=ATTACKER, lw=0.8))
        ax.set_title(variant_label(attack, defense), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks(np.arange(n_classes) * size + size / 2, labels=[f"class {c}" for c in range(n_classes)],
                      fontsize=7)
    save_png(fig, out_png)


def loss_curves(runs: Sequence[Mapping[str, np.ndarray]], out_png: str | os.PathLike) -> None:
    chosen = _seed0(runs)
    panels = [(k, chosen[k]) for k in (("none", "none"), ("patch_trigger", "none")) if k in chosen]
    if not panels:
        return empty_png(out_png, "no clean or attacked federation run")
    fig = Figure(figsize=(5.2 * len(panels), 6), dpi=DPI)
    for j, ((attack, defense), run) in enumerate(panels):
        rounds = np.arange(1, len(run["generator_loss"]) + 1)
        for i, key in enumerate(("generator_loss", "discriminator_loss")):
            ax = fig.add_subplot(2, len(panels), i * len(panels) + j + 1)
            for k in range(run[key].shape[1]):
                bad = k in set(run["attackers"].tolist())
                label = ("malicious client" if attack != "none" else "client malicious in the attacked run") \
                    if bad else "benign clients"
                ax.plot(rounds, run[key][:, k], color=ATTACKER if bad else BENIGN, lw=2 if bad else 1,
                        ls="-" if attack != "none" or not bad else "--", label=label)
            handles, labels = ax.get_legend_handles_labels()
            unique = dict(zip(labels, handles))
            ax.legend(unique.values(), unique.keys(), fontsize=7)
            ax.set_title(f"{variant_label(attack, defense)}: {key.replace('_', ' ')}", fontsize=9)
            ax.set_xlabel("round")
    save_png(fig, out_png)


def feddetect_weights(runs: Sequence[Mapping[str, np.ndarray]], threshold: float,
                      out_png: str | os.PathLike) -> None:
    chosen = _seed0(runs)
    panels = [(d, chosen[("patch_trigger", d)]) for d in DETECTORS if ("patch_trigger", d) in chosen]
    if not panels:
        return empty_png(out_png, "FedDetect was not run (fedgan.defenses)")
    fig = Figure(figsize=(6.5 * len(panels), 5.5), dpi=DPI)
    for j, (defense, run) in enumerate(panels):
        rounds = np.arange(1, len(run["weight"]) + 1)
        attackers = set(run["attackers"].tolist())
        ax_w = fig.add_subplot(2, len(panels), j + 1)
        ax_s = fig.add_subplot(2, len(panels), len(panels) + j + 1)
        for k in range(run["weight"].shape[1]):
            bad = k in attackers
            style = dict(color=ATTACKER if bad else BENIGN, lw=2 if bad else 1)
            name = f"client {k}" + (" (malicious)" if bad else "")
            ax_w.plot(rounds, run["weight"][:, k], marker="o", ms=2, label=name, **style)
            ax_s.plot(rounds, run["detector_score"][:, k], marker="o", ms=2, label=name, **style)
            flagged = run["flagged"][:, k]
            ax_s.scatter(rounds[flagged], run["detector_score"][flagged, k], s=50, facecolors="none",
                         edgecolors="black", zorder=3)
        ax_s.axhline(threshold if defense == "feddetect" else 0.5, color="black", ls=":", lw=1,
                     label="score threshold")
        ax_w.set_ylabel("FedAvg weight")
        ax_w.set_title(f"aggregation weights under {defense} (seed 0)", fontsize=9)
        ax_s.set_ylabel("IsolationForest anomaly score")
        ax_s.set_title("scores after the warm-up (circled: flagged)", fontsize=9)
        ax_s.set_xlabel("round")
        ax_w.legend(fontsize=7)
    save_png(fig, out_png)


def _bar(ax, rows: pd.DataFrame, title: str, ylabel: str) -> None:
    order = list(rows["label"])
    colors = [sns.color_palette("tab10")[0] if a == "none" else ATTACKER for a in rows["attack"]]
    ax.bar(range(len(rows)), rows["value"], color=colors, alpha=0.8)
    err = np.vstack([rows["value"] - rows["ci_low"], rows["ci_high"] - rows["value"]])
    ok = np.isfinite(err).all(axis=0)
    ax.errorbar(np.arange(len(rows))[ok], rows["value"][ok], yerr=np.clip(err[:, ok], 0, None), fmt="none",
                color="black", capsize=3)
    ax.set_xticks(range(len(rows)), labels=order, rotation=30, ha="right", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(ylabel)


def _variant_rows(metrics: pd.DataFrame, metric: str, model: str, setting: str = "") -> pd.DataFrame:
    rows = metrics[(metrics["metric"] == metric) & (metrics["model"] == model)
                   & (metrics["setting"].fillna("") == setting)].copy()
    rows["label"] = [variant_label(a, d) for a, d in zip(rows["attack"], rows["defense"])]
    order = sorted(range(len(rows)), key=lambda i: _variant_order(rows["attack"].iloc[i], rows["defense"].iloc[i]))
    return rows.iloc[order].reset_index(drop=True)


def _variant_order(attack: str, defense: str) -> tuple[int, str]:
    """clean, attacked, attacked + defenses, clean + defenses."""
    group = {(True, True): 0, (False, True): 1, (False, False): 2, (True, False): 3}
    return group[(attack == "none", defense == "none")], defense


def fidelity_trigger(metrics: pd.DataFrame, out_png: str | os.PathLike) -> None:
    fid = _variant_rows(metrics, "fid", "cdcgan")
    if not len(fid):
        return empty_png(out_png, "no fidelity rows")
    fig = Figure(figsize=(14, 4), dpi=DPI)
    for i, (metric, title) in enumerate((("fid", "FID to the real test split (classifier features)"),
                                         ("kid", "KID to the real test split (classifier features)"))):
        ax = fig.add_subplot(1, 3, i + 1)
        _bar(ax, _variant_rows(metrics, metric, "cdcgan"), title, metric.upper() + " (lower = closer)")
        floor = metrics[(metrics["model"] == "real_data") & (metrics["metric"] == metric)]
        if len(floor):
            ax.axhline(float(floor["value"].iloc[0]), color="black", ls=":", lw=1, label="real val vs test")
            ax.legend(fontsize=7)
    share = _variant_rows(metrics, "trigger_share", "cdcgan", "checkpoint=final")
    _bar(fig.add_subplot(1, 3, 3), share, "share of final samples with the trigger (exact 95% CI)", "trigger share")
    save_png(fig, out_png)


def quality_by_round(metrics: pd.DataFrame, gate: float, out_png: str | os.PathLike) -> None:
    rows = metrics[metrics["metric"].str.endswith("_by_round") & (metrics["model"] == "cdcgan")].copy()
    if not len(rows):
        return empty_png(out_png, "no checkpoint rows")
    rows["round"] = [int(parse_setting(s)["round"]) for s in rows["setting"]]
    panels = [("label_agreement", "label agreement (real-data classifier)"), ("fid", "FID (classifier features)"),
              ("trigger_share", "share of samples with the trigger")]
    fig = Figure(figsize=(14, 4), dpi=DPI)
    for i, (metric, title) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        part = rows[rows["metric"] == f"{metric}_by_round"]
        for (attack, defense), g in part.groupby(["attack", "defense"], sort=False):
            g = g.sort_values("round")
            ax.plot(g["round"], g["value"], marker="o", ms=3, label=variant_label(attack, defense),
                    color=ATTACKER if (attack, defense) == ("patch_trigger", "none") else None)
        if metric == "label_agreement":
            ax.axhline(gate, color="black", ls=":", lw=1, label=f"gate {gate:g}")
        if metric == "fid":
            ax.set_yscale("log")
            floor = metrics[(metrics["model"] == "real_data") & (metrics["metric"] == "fid")]
            if len(floor):
                ax.axhline(float(floor["value"].iloc[0]), color="black", ls="--", lw=1, label="real val vs test")
        ax.set_title(title + " by round (mean over seeds)", fontsize=9)
        ax.set_xlabel("round")
        ax.legend(fontsize=7)
    save_png(fig, out_png)


def downstream_auc(metrics: pd.DataFrame, out_png: str | os.PathLike) -> None:
    rows = _variant_rows(metrics, "auc", "cnn", "training=real+synthetic")
    real = metrics[(metrics["metric"] == "auc") & (metrics["setting"] == "training=real")]
    if not len(rows):
        return empty_png(out_png, "no downstream rows")
    fig = Figure(figsize=(7, 4), dpi=DPI)
    ax = fig.add_subplot()
    _bar(ax, rows, "test AUC, classifier trained on real + synthetic images", "AUC")
    if len(real):
        r = real.iloc[0]
        ax.axhline(r["value"], color="black", lw=1, label="real images only")
        if np.isfinite(r["ci_low"]):
            ax.axhspan(r["ci_low"], r["ci_high"], color="black", alpha=0.08)
        ax.legend(fontsize=7)
    low = np.nanmin(np.r_[rows["ci_low"].to_numpy(dtype=float), rows["value"].to_numpy(dtype=float),
                          real["value"].to_numpy(dtype=float)])
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    save_png(fig, out_png)


def draw_all(metrics: pd.DataFrame, runs: Sequence[Mapping[str, np.ndarray]], threshold: float,
             outputs: Mapping[str, str]) -> None:
    sample_grids(runs, outputs["sample_grids"])
    loss_curves(runs, outputs["loss_curves"])
    feddetect_weights(runs, threshold, outputs["feddetect_weights"])
    fidelity_trigger(metrics, outputs["fidelity_trigger"])
    quality_by_round(metrics, LABEL_AGREEMENT_MIN, outputs["quality_by_round"])
    downstream_auc(metrics, outputs["downstream_auc"])
