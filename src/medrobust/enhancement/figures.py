"""The enhancement study's figures, drawn from metrics.csv (and the per-subject r of the attack files).

accuracy_vs_r: CV accuracy per victim against the target r, original vs each attack.
method_gap: MLP minus LR accuracy against the target r.
r_histograms: per-subject r with the original, per attack and target.
detection_rates: share of enhanced versions each check flags (attack 'none': false alarms).
external_validation: CV accuracy on the release vs accuracy on another 2012 set, at the headline r.
edit_magnitude: distribution of the changed cells' |change| in IQR units of their variable, per attack at
the headline r (top) and per target r of general enhancement (bottom), pooled over draws.

Every number comes pooled over the data draws (metrics.csv); the histograms pool the draws' attack files.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from medrobust.core.io import atomic_path  # noqa: E402
from medrobust.core.records import parse_setting  # noqa: E402
from medrobust.enhancement.edit_magnitude import BINS  # noqa: E402

ATTACK_COLORS = {"none": "#6b7280", "general_enhancement": "#dc2626", "pattern_injection": "#2563eb",
                 "method_specific": "#16a34a", "method_specific_unconstrained": "#a16207"}


def draw_figures(metrics: pd.DataFrame, sweeps: Sequence[Mapping[str, np.ndarray]], paths: Mapping[str, str],
                 headline_r: float) -> None:
    frame = _with_setting_columns(metrics)
    drawers = {"accuracy_vs_r": lambda: _accuracy_vs_r(frame), "method_gap": lambda: _method_gap(frame),
               "r_histograms": lambda: _r_histograms(sweeps), "detection_rates": lambda: _detection_rates(frame),
               "external_validation": lambda: _external(frame, headline_r),
               "edit_magnitude": lambda: _edit_magnitude(sweeps, headline_r)}
    for name, path in paths.items():
        fig = drawers[name]()
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
        plt.close(fig)


def _with_setting_columns(metrics: pd.DataFrame) -> pd.DataFrame:
    frame = metrics.copy()
    parsed = frame["setting"].map(parse_setting)
    frame["task"] = parsed.map(lambda s: s.get("task", ""))
    frame["target_r"] = parsed.map(lambda s: float(s.get("target_r", 1.0)))
    return frame


def _positions(targets: Sequence[float]) -> dict[float, int]:
    """Original (r = 1) first, then the targets from the most to the least similar."""
    return {t: i for i, t in enumerate(sorted(set(targets), reverse=True))}


def _label(t: float) -> str:
    return "original" if t >= 1.0 else f"{t:g}"


def _line_panels(frame: pd.DataFrame, metric: str, models: Sequence[str], ylabel: str, reference: float | None):
    """One panel per task (rows) and model (columns); a single model puts the tasks side by side."""
    rows = frame[frame["metric"] == metric]
    tasks = sorted(rows["task"].unique()) or [""]
    shape = (1, len(tasks)) if len(models) == 1 else (len(tasks), len(models))
    fig, grid = plt.subplots(*shape, figsize=(3.6 * shape[1], 3.0 * shape[0]), squeeze=False, sharey=True)
    axes = grid.T if len(models) == 1 else grid
    pos = _positions(rows["target_r"]) if len(rows) else {1.0: 0}
    for i, task in enumerate(tasks):
        for j, model in enumerate(models):
            ax = axes[i][j]
            part = rows[(rows["task"] == task) & (rows["model"] == model)]
            original = part[part["attack"] == "none"]
            for attack, color in ATTACK_COLORS.items():
                if attack == "none":
                    continue
                line = pd.concat([original, part[part["attack"] == attack]]).sort_values("target_r", ascending=False)
                if len(line) <= len(original):
                    continue
                x = [pos[t] for t in line["target_r"]]
                err = np.vstack([line["value"] - line["ci_low"], line["ci_high"] - line["value"]])
                ax.errorbar(x, line["value"], yerr=np.nan_to_num(np.abs(err)), marker="o", ms=4, capsize=2,
                            color=color, label=attack)
            if reference is not None:
                ax.axhline(reference, color="#9ca3af", lw=0.8, ls="--")
            ax.set_xticks(list(pos.values()), [_label(t) for t in pos])
            ax.set_title(f"{task} / {model}", fontsize=9)
            ax.set_xlabel("target r")
            if ax in grid[:, 0]:
                ax.set_ylabel(ylabel)
    grid[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def _accuracy_vs_r(frame: pd.DataFrame):
    models = [m for m in ("lr", "svm", "mlp") if m in set(frame["model"])]
    return _line_panels(frame, "cv_accuracy", models or ["lr"], "10-fold CV accuracy", 0.5)


def _method_gap(frame: pd.DataFrame):
    return _line_panels(frame, "mlp_minus_lr", ["mlp_vs_lr"], "MLP minus LR accuracy", 0.0)


def _pooled_by(sweeps: Sequence[Mapping[str, np.ndarray]], key: str) -> dict[tuple[str, str, float], np.ndarray]:
    """``sweep[key][t]`` per (attack, task, target), pooled over the draws (concatenated or summed)."""
    pooled: dict[tuple[str, str, float], list] = {}
    for sweep in sweeps:
        for t, target in enumerate(sweep["targets"]):
            pooled.setdefault((str(sweep["attack"]), str(sweep["task"]), float(target)), []).append(sweep[key][t])
    combine = np.concatenate if key == "r" else lambda parts: np.sum(parts, axis=0)
    return {k: combine(v) for k, v in pooled.items()}


def _r_histograms(sweeps: Sequence[Mapping[str, np.ndarray]]):
    pooled = _pooled_by(sweeps, "r")
    attacks = sorted({a for a, _, _ in pooled}) or ["none"]
    targets = sorted({t for _, _, t in pooled}, reverse=True) or [1.0]
    fig, axes = plt.subplots(len(attacks), len(targets), figsize=(2.8 * len(targets), 2.2 * len(attacks)),
                             squeeze=False)
    for (attack, task, target), r in sorted(pooled.items()):
        ax = axes[attacks.index(attack)][targets.index(target)]
        # Most subjects sit exactly on the target: give the bins a width even when r hardly varies.
        low, high = min(float(r.min()), target), float(r.max())
        pad = max(1e-6, 0.02 * (high - low))
        ax.hist(r, bins=np.linspace(low - pad, high + pad, 31), alpha=0.6, label=task)
        ax.axvline(target, color="black", lw=0.8, ls="--")
        ax.set_title(f"{attack}, target {target:g}", fontsize=8)
        ax.set_xlabel("per-subject r", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(axis="x", useOffset=False)
    for row in axes:
        for ax in row:
            if not ax.has_data():
                ax.axis("off")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _edit_magnitude(sweeps: Sequence[Mapping[str, np.ndarray]], headline_r: float):
    """Share of changed cells per |change| bin (IQR units), log-log, per task."""
    pooled = _pooled_by(sweeps, "edit_histogram")
    tasks = sorted({task for _, task, _ in pooled}) or [""]
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.6 * len(tasks), 6.0), squeeze=False, sharex=True)
    centres = np.sqrt(BINS[:-1] * BINS[1:])
    general_targets = sorted({t for a, _, t in pooled if a == "general_enhancement"}, reverse=True)
    shades = plt.cm.Reds(np.linspace(0.45, 0.95, max(len(general_targets), 1)))
    for j, task in enumerate(tasks):
        top, bottom = axes[0][j], axes[1][j]
        for attack, color in ATTACK_COLORS.items():
            counts = pooled.get((attack, task, headline_r))
            if counts is not None and counts.sum() > 0:
                top.step(centres, counts / counts.sum(), where="mid", color=color, label=attack)
        for shade, target in zip(shades, general_targets):
            counts = pooled[("general_enhancement", task, target)]
            if counts.sum() > 0:
                bottom.step(centres, counts / counts.sum(), where="mid", color=shade, label=f"r = {target:g}")
        top.set_title(f"{task}: every attack at r = {headline_r:g}", fontsize=9)
        bottom.set_title(f"{task}: general enhancement by target r", fontsize=9)
        for ax in (top, bottom):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.axvline(1.0, color="#9ca3af", lw=0.8, ls="--")
            ax.set_ylabel("share of changed cells")
            ax.legend(fontsize=6)
        bottom.set_xlabel("|change| in IQR units of the variable")
    fig.tight_layout()
    return fig


def _detection_rates(frame: pd.DataFrame):
    rows = frame[frame["metric"] == "detection_rate"]
    defenses = sorted(rows["defense"].unique())
    attacks = [a for a in ATTACK_COLORS if a in set(rows["attack"])]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(defenses) + 2), 3.6))
    width = 0.8 / max(len(attacks), 1)
    for k, attack in enumerate(attacks):
        part = rows[rows["attack"] == attack].set_index("defense").reindex(defenses)
        x = np.arange(len(defenses)) + (k - (len(attacks) - 1) / 2) * width
        err = np.vstack([part["value"] - part["ci_low"], part["ci_high"] - part["value"]])
        ax.bar(x, part["value"], width, color=ATTACK_COLORS[attack],
               label=attack if attack != "none" else "none (false alarms)")
        ax.errorbar(x, part["value"], yerr=np.nan_to_num(np.abs(err)), fmt="none", ecolor="black", lw=0.7,
                    capsize=1.5)
    ax.set_xticks(np.arange(len(defenses)), defenses, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("share of versions flagged")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def _external(frame: pd.DataFrame, headline_r: float):
    keep = (frame["target_r"] == headline_r) | (frame["attack"] == "none")
    rows = frame[keep & frame["metric"].isin(["cv_accuracy", "external_accuracy"]) &
                 frame["model"].isin(["lr", "svm", "mlp"])]
    tasks = sorted(rows["task"].unique()) or [""]
    attacks = [a for a in ATTACK_COLORS if a in set(rows["attack"])]
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 3.4), squeeze=False, sharey=True)
    for j, task in enumerate(tasks):
        ax = axes[0][j]
        part = rows[rows["task"] == task]
        labels = [(a, m) for a in attacks for m in ("lr", "svm", "mlp")
                  if len(part[(part["attack"] == a) & (part["model"] == m)])]
        x = np.arange(len(labels))
        for k, (metric, hatch) in enumerate((("cv_accuracy", ""), ("external_accuracy", "//"))):
            vals = [part[(part["attack"] == a) & (part["model"] == m) & (part["metric"] == metric)] for a, m in labels]
            value = np.array([v["value"].iloc[0] if len(v) else np.nan for v in vals])
            low = np.array([v["ci_low"].iloc[0] if len(v) else np.nan for v in vals])
            high = np.array([v["ci_high"].iloc[0] if len(v) else np.nan for v in vals])
            ax.bar(x + (k - 0.5) * 0.4, value, 0.4, color=[ATTACK_COLORS[a] for a, _ in labels], hatch=hatch,
                   edgecolor="black", lw=0.4, label="CV on release" if k == 0 else "external set")
            ax.errorbar(x + (k - 0.5) * 0.4, value, yerr=np.nan_to_num(np.abs(np.vstack([value - low, high - value]))),
                        fmt="none", ecolor="black", lw=0.7, capsize=1.5)
        ax.axhline(0.5, color="#9ca3af", lw=0.8, ls="--")
        ax.set_xticks(x, [f"{a}\n{m}" for a, m in labels], rotation=60, ha="right", fontsize=6)
        ax.set_title(f"{task} (enhanced at r = {headline_r:g})", fontsize=9)
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
