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
