"""The ehr study's training-length figure, and the ASR figure beside the training-length rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from medrobust.ehr import figures


def _row(model, setting, metric, value):
    return dict(study="ehr", dataset="challenge2012", model=model, attack="vae_missingness", defense="none",
                setting=setting, metric=metric, value=value, ci_low=max(value - 0.05, 0), ci_high=min(value + 0.05, 1),
                n=100, seeds=3)


def _metrics() -> pd.DataFrame:
    rows = []
    for epochs, flip in [(1, 0.2), (2, 0.3), (4, 0.5), (8, 0.8), (16, 0.9)]:
        setting = f"poison_rate=0.02;epochs={epochs}"
        rows += [_row("gru", setting, "flip_rate", flip), _row("gru", setting, "flip_rate_clean_model", 0.25),
                 _row("gru", setting, "asr", flip), _row("gru", setting, "auroc", 0.85)]
    rows += [_row("gru", "poison_rate=0.02;stop=val_auroc", "epochs", 3.0),
             _row("gru", "poison_rate=0.02;stop=val_auroc", "flip_rate", 0.35),
             _row("gru", "poison_rate=0.02", "asr", 0.6), _row("gru", "poison_rate=0.02", "asr_clean_model", 0.3)]
    return pd.DataFrame(rows)


def _ink(path) -> float:
    pixels = np.asarray(Image.open(path).convert("L"), dtype=float)
    return float((pixels < 200).mean())


def test_training_length_draws_the_curves(tmp_path):
    out = tmp_path / "training_length.png"
    figures.training_length(_metrics(), out)
    empty = tmp_path / "empty.png"
    figures.training_length(_metrics().iloc[-4:], empty)  # no epochs= rows: a labelled empty figure
    assert Image.open(out).size[0] > Image.open(empty).size[0]
    assert _ink(out) > 0.01


def test_asr_figure_draws_beside_training_length_rows(tmp_path):
    out = tmp_path / "asr.png"
    figures.asr_vs_rate(_metrics(), out)
    assert out.exists() and _ink(out) > 0.005
