"""Figures for the report: the data summaries, and an attack-by-defense heatmap studies can reuse.

Every PNG is written atomically (a temporary file beside the target, then ``os.replace``), and
drawn on a ``matplotlib.figure.Figure`` of its own with the Agg canvas, so no pyplot state is
shared between figures or threads.

The data-summary figures read the long CSV described in :mod:`medrobust.report.build`
(``dataset, section, item, statistic, value``) and draw, per dataset:

* ``<dataset>_missingness.png`` from section ``missingness``: missing rate per variable;
* ``<dataset>_labels.png`` from section ``label``/``labels``: with several labels (ECG) the count
  per label; with one binary outcome (a cohort's ``death``) its rate overall and per group
  (the ``*_rate`` statistics of section ``group``);
* ``<dataset>_class_counts.png`` from section ``class_counts`` (or MedMNIST's per-split sections,
  gathered by :func:`medrobust.report.build.normalise_summary`): class counts, one bar per split.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from medrobust.core.io import atomic_path  # noqa: E402
from medrobust.report.build import (baseline_first, fmt_ci, fmt_metric, fmt_num, normalise_summary,
                                    read_summary)  # noqa: E402

DATA_FIGURE_CAPTIONS = {
    "missingness": ("Share of hourly slots with no observation, per variable, over all stays of "
                    "**{dataset}**. The attacks on missingness patterns exploit exactly this sparsity."),
    "labels": ("Label balance of **{dataset}**: records per label, or for a binary outcome its rate "
               "overall and per group."),
    "class_counts": "Images per class and split of **{dataset}** (the official MedMNIST splits).",
}
_RATE_WORDS = ("rate", "fraction", "prevalence", "share", "proportion")
_DPI = 110


def plot_data_summary(summary_csv: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """Draw the figures of one data-summary CSV into ``out_dir``; return their paths in drawing order.

    A dataset without a given section simply gets no figure for it.
    """
    summary = normalise_summary(read_summary(summary_csv))
    out_dir = Path(out_dir)
    written: list[Path] = []
    for dataset in dict.fromkeys(summary["dataset"].astype(str)):
        part = summary[summary["dataset"].astype(str) == dataset]
        sections = {s: g for s, g in part.groupby(part["section"].astype(str), sort=False)}
        if "missingness" in sections:
            written.append(_missingness(sections["missingness"], dataset,
                                        out_dir / f"{dataset}_missingness.png"))
        if "labels" in sections:
            written.append(_labels(sections["labels"], sections.get("group"), dataset,
                                   out_dir / f"{dataset}_labels.png"))
        if "class_counts" in sections:
            written.append(_class_counts(sections["class_counts"], dataset,
                                         out_dir / f"{dataset}_class_counts.png"))
    return written


def data_figures(paths: list[str | os.PathLike]) -> list[dict[str, Any]]:
    """Figure entries for :func:`medrobust.report.build.build_report` (study ``data``), with captions."""
    entries = []
    for path in map(Path, paths):
        kind = next((k for k in DATA_FIGURE_CAPTIONS if path.stem.endswith(f"_{k}")), None)
        dataset = path.stem[: -len(kind) - 1] if kind else path.stem
        caption = DATA_FIGURE_CAPTIONS[kind].format(dataset=dataset) if kind else ""
        entries.append({"path": str(path), "caption": caption, "study": "data"})
    return entries


def plot_defense_matrix(metrics_frame: pd.DataFrame, metric: str, out_png: str | os.PathLike,
                        title: str | None = None) -> Path:
    """Heatmap of ``metric``: attacks as rows, defenses as columns, each cell 'value [low, high]'.

    ``metrics_frame`` is in the tidy metrics schema and must hold one row per attack x defense
    for ``metric``: filter it to one dataset, model and setting first. Two rows for a cell raise
    ``ValueError`` naming the columns that tell them apart (the helper never averages).
    """
    rows = metrics_frame[metrics_frame["metric"] == metric]
    if not len(rows):
        raise ValueError(f"plot_defense_matrix: no rows with metric {metric!r}")
    dup = rows.duplicated(["attack", "defense"], keep=False)
    if dup.any():
        varying = [c for c in ("study", "dataset", "model", "setting")
                   if c in rows.columns and rows.loc[dup, c].nunique() > 1]
        raise ValueError(f"plot_defense_matrix: metric {metric!r} has several rows per attack x defense "
                         f"cell (they differ in {varying or 'nothing: exact duplicates'}); filter first")
    attacks, defenses = baseline_first(rows["attack"]), baseline_first(rows["defense"])
    values = rows.pivot(index="attack", columns="defense", values="value").reindex(index=attacks,
                                                                                   columns=defenses)
    labels = pd.DataFrame("", index=attacks, columns=defenses)
    for _, r in rows.iterrows():
        ci = fmt_ci(r["ci_low"], r["ci_high"])
        labels.loc[r["attack"], r["defense"]] = fmt_metric(r["value"]) + (f"\n{ci}" if ci else "")

    longest = max(len(d) for d in defenses)
    fig = Figure(figsize=(2.2 + 1.5 * len(defenses), 1.4 + 0.8 * len(attacks) + 0.06 * longest), dpi=_DPI)
    ax = fig.add_subplot()
    sns.heatmap(values.astype(float), annot=labels.to_numpy(), fmt="", cmap="Blues", ax=ax,
                cbar_kws={"label": metric}, linewidths=0.5, linecolor="white",
                annot_kws={"fontsize": 8})
    ax.set_xlabel("defense")
    ax.set_ylabel("attack")
    ax.tick_params(axis="y", rotation=0)
    ax.set_xticks(ax.get_xticks(), labels=defenses, rotation=25, ha="right", rotation_mode="anchor")
    if title is None:
        context = [f"{c} {rows[c].iloc[0]}" for c in ("dataset", "model", "setting")
                   if c in rows.columns and rows[c].nunique() == 1 and str(rows[c].iloc[0])]
        title = metric + (f" ({', '.join(context)})" if context else "")
    ax.set_title(title, fontsize=10)
    return _save(fig, out_png)


def _missingness(part: pd.DataFrame, dataset: str, out_png: Path) -> Path:
    stat = _pick_statistic(part, prefer=("missing_rate",))
    frame = part[part["statistic"].astype(str) == stat].copy()
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame = frame.sort_values("value", ascending=False, kind="mergesort")
    fig = Figure(figsize=(7.5, 1.2 + 0.21 * len(frame)), dpi=_DPI)
    ax = fig.add_subplot()
    sns.barplot(data=frame, x="value", y="item", color="#4c72b0", ax=ax, orient="h")
    ax.set_xlim(0, max(1.0, float(frame["value"].max() or 0)))
    ax.set_xlabel(stat.replace("_", " "))
    ax.set_ylabel("")
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(f"{dataset}: missing rate per variable", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, out_png)


def _labels(part: pd.DataFrame, groups: pd.DataFrame | None, dataset: str, out_png: Path) -> Path:
    """Several labels (ECG classes): count per label. One binary outcome (in-hospital death): its
    rate overall and per group, from the ``*_rate`` statistics of section ``group``."""
    frame = part.copy()
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["item"] = frame["item"].astype(str)
    frame["statistic"] = frame["statistic"].astype(str)
    items = list(dict.fromkeys(frame["item"]))
    is_rate = frame["statistic"].map(lambda s: any(w in s for w in _RATE_WORDS))
    if len(items) > 1:
        counts = frame[~is_rate] if (~is_rate).any() else frame
        stat = _pick_statistic(counts, prefer=("count",))
        bars = counts[counts["statistic"] == stat][["item", "value"]]
        value_label = stat.replace("_", " ")
        annotate = [fmt_num(v) for v in bars["value"]]
    else:
        rates = frame[is_rate]
        if not len(rates):
            rates = frame
        bars = pd.DataFrame({"item": ["all"], "value": [float(rates["value"].iloc[0])]})
        if groups is not None:
            g = groups.copy()
            g["value"] = pd.to_numeric(g["value"], errors="coerce")
            g = g[g["statistic"].astype(str).str.endswith("_rate")]
            bars = pd.concat([bars, pd.DataFrame({"item": g["item"].astype(str), "value": g["value"]})])
        value_label = f"{items[0]} rate"
        annotate = [f"{100 * v:.1f}%" for v in bars["value"]]
    order = list(bars["item"])
    if len(order) > 8:  # many labels: horizontal bars, largest first
        bars = bars.sort_values("value", ascending=False, kind="mergesort")
        fig = Figure(figsize=(7.5, 1.2 + 0.24 * len(order)), dpi=_DPI)
        ax = fig.add_subplot()
        sns.barplot(data=bars, x="value", y="item", order=list(bars["item"]), ax=ax, orient="h",
                    color="#55a868")
        ax.set_xlabel(value_label)
        ax.set_ylabel("")
        ax.tick_params(axis="y", labelsize=8)
    else:
        fig = Figure(figsize=(max(4.0, 1.6 + 0.9 * len(order)), 3.6), dpi=_DPI)
        ax = fig.add_subplot()
        sns.barplot(data=bars, x="item", y="value", order=order, ax=ax, color="#55a868")
        ax.set_ylabel(value_label)
        ax.set_xlabel("")
        ax.bar_label(ax.containers[0], labels=annotate, fontsize=8)
        ax.margins(y=0.12)
    ax.set_title(f"{dataset}: label balance", fontsize=10)
    return _save(fig, out_png)


def _class_counts(part: pd.DataFrame, dataset: str, out_png: Path) -> Path:
    frame = part.copy()
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["item"] = frame["item"].astype(str)
    frame = frame.rename(columns={"statistic": "split"})
    classes = list(dict.fromkeys(frame["item"]))
    fig = Figure(figsize=(max(5.0, 1.5 + 0.55 * len(classes) * max(1, frame["split"].nunique()) / 2), 3.8),
                 dpi=_DPI)
    ax = fig.add_subplot()
    sns.barplot(data=frame, x="item", y="value", hue="split", order=classes, ax=ax)
    ax.set_xlabel("class")
    ax.set_ylabel("images")
    if len(classes) > 12 or max(len(c) for c in classes) > 4:
        ax.set_xticks(ax.get_xticks(), labels=classes, rotation=35, ha="right", rotation_mode="anchor",
                      fontsize=8)
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), title="split", frameon=False)
    ax.set_title(f"{dataset}: class counts per split", fontsize=10)
    return _save(fig, out_png)


def _pick_statistic(part: pd.DataFrame, prefer: tuple[str, ...]) -> str:
    stats = list(dict.fromkeys(part["statistic"].astype(str)))
    return next((s for s in prefer if s in stats), stats[0])


def _save(fig: Figure, out_png: str | os.PathLike) -> Path:
    out_png = Path(out_png)
    fig.tight_layout()
    # No 'Software' tag: the PNG bytes then do not change with the matplotlib version alone.
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    return out_png
