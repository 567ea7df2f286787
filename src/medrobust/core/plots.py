"""Writing report figures: atomically, reproducibly (no software stamp in the PNG), and a stand-in
figure with a sentence where a study has nothing to draw (the report keeps its layout)."""
from __future__ import annotations

import os

from matplotlib.figure import Figure

from medrobust.core.io import atomic_path

DPI = 110


def save_png(fig: Figure, out_png: str | os.PathLike) -> None:
    fig.tight_layout()
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})


def empty_png(out_png: str | os.PathLike, text: str) -> None:
    fig = Figure(figsize=(5, 2), dpi=DPI)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    save_png(fig, out_png)


VERDICT_COLOURS = {"reproduced": "#15803d", "partly": "#a16207", "inconclusive": "#4338ca",
                   "not_reproduced": "#b91c1c", "not_run": "#9ca3af"}


def forest_plot(claims, out_png: str | os.PathLike) -> None:
    """Each claim's estimate and 95 % interval against its threshold, grouped by study, coloured by verdict.

    ``claims``: mappings with ``study, claim_id, title, measured, ci_low, ci_high, threshold, verdict``
    (and ``kind``; only published claims are drawn). Claims are measured in different units (shares,
    AUROC, distances), so every row has its own horizontal scale spanning its interval and its
    threshold; the numbers are printed beside it.
    """
    import math

    from matplotlib.transforms import blended_transform_factory

    rows = [c for c in claims if c.get("kind", "claim") == "claim"]
    if not rows:
        empty_png(out_png, "No published claims in this run.")
        return
    rows.sort(key=lambda c: (str(c["study"]), str(c["claim_id"])))
    lines: list[tuple[str, dict | None]] = []
    for study in dict.fromkeys(str(c["study"]) for c in rows):
        lines.append((study, None))
        lines += [(study, c) for c in rows if str(c["study"]) == study]
    height = 0.5 + 0.26 * len(lines)
    fig = Figure(figsize=(10.5, height), dpi=DPI)
    left, width = 0.36, 0.30  # the strip of interval drawings, in figure fractions
    ax = fig.add_axes((0, 0.25 / height, 1, 1 - 0.4 / height))
    ax.set_xlim(0, 1)
    ax.set_ylim(len(lines) - 0.5, -0.5)
    ax.axis("off")
    at = blended_transform_factory(fig.transFigure, ax.transData)

    def fin(x) -> bool:
        return x is not None and isinstance(x, (int, float)) and math.isfinite(x)

    for i, (study, c) in enumerate(lines):
        if c is None:
            ax.text(0.01, i, study, transform=at, ha="left", va="center", fontweight="bold", fontsize=9.5)
            continue
        title = str(c.get("title") or c["claim_id"])
        ax.text(left - 0.015, i, title[:52] + ("…" if len(title) > 52 else ""), transform=at, ha="right",
                va="center", fontsize=8.5)
        v, lo, hi, thr = (c.get(k) for k in ("measured", "ci_low", "ci_high", "threshold"))
        colour = VERDICT_COLOURS.get(str(c["verdict"]), "#6b7280")
        verdict = str(c["verdict"]).replace("_", " ")
        ax.text(0.90, i, verdict, transform=at, ha="left", va="center", fontsize=8, color=colour,
                fontweight="bold")
        values = [x for x in (v, lo, hi, thr) if fin(x)]
        if not values:
            continue
        a, b = min(values), max(values)
        pad = (b - a) * 0.08 or max(abs(a), 1.0) * 0.05
        a, b = a - pad, b + pad

        def pos(x):
            return left + width * (x - a) / (b - a)

        ax.plot([left, left + width], [i, i], transform=at, color="#e5e7eb", lw=0.8, zorder=1)
        if fin(lo) and fin(hi):
            ax.plot([pos(lo), pos(hi)], [i, i], transform=at, color=colour, lw=2.2, solid_capstyle="butt",
                    zorder=2)
        if fin(thr):
            ax.plot([pos(thr)] * 2, [i - 0.32, i + 0.32], transform=at, color="#111827", lw=1.1, zorder=3)
        if fin(v):
            ax.plot([pos(v)], [i], "o", transform=at, color=colour, ms=4.5, zorder=4)
        text = f"{v:.3g}" if fin(v) else "—"
        if fin(lo) and fin(hi):
            text += f" [{lo:.3g}, {hi:.3g}]"
        if fin(thr):
            text += f"  vs {thr:.3g}"
        ax.text(left + width + 0.015, i, text, transform=at, ha="left", va="center", fontsize=8, color="#374151")
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
