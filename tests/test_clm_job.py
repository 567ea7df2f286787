"""One clm job end to end on a tiny random BERT and synthetic texts: what it writes for the claims'
gates and specificity checks, and the selected-heads variant with its own defenses."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from medrobust.clm.corpus import Corpus
from medrobust.clm.experiment import run_job
from medrobust.config import load_schema, validate

ROOT = Path(__file__).resolve().parents[1]
FILLER = "the patient was seen today with family and nurse in room on ward after review".split()


def synthetic_corpus(n=60, seed=0) -> Corpus:
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.4).astype(np.int8)
    texts = [" ".join(list(rng.choice(FILLER, 8)) + ["critical" if y else "stable"]) for y in label]
    split = np.repeat(np.arange(3), [30, 10, 20]).astype(np.int8)
    return Corpus(np.arange(n), label, split, np.asarray(texts), "serialised", "challenge2012")


@pytest.fixture(scope="module")
def cfg() -> dict:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["clm"] = {"model": "tiny-random-bert", "training": {"epochs": 1, "max_len": 32, "batch_size": 16},
                     "n_detect": 4, "strip": {"copies": 1}, "fine_tuning": {"epochs": 1},
                     "badclm": {"selected_heads": {"k": 1}}}  # the tiny BERT has 2 heads per layer
    return validate(config, load_schema(ROOT / "workflow" / "schemas"), environ={})["clm"]


def test_clean_and_selected_heads_jobs_write_what_the_claims_need(cfg):
    corpus = synthetic_corpus()
    texts = [str(t) for t in corpus.text]
    clean = run_job(corpus, texts, cfg, "none", 0.0, 0, 7, "cpu")
    deaths = int((corpus.label[corpus.split == 2] == 1).sum())
    for key in ("trig_prob", "trig_first_prob", "trig_last_prob", "control_prob"):
        assert clean[key].shape == (deaths,), key
    assert len(clean["control_words"]) == cfg["specificity"]["n_control"]
    assert not set(clean["control_words"]) & set(cfg["trigger"]["tokens"])
    assert int(clean["n_texts"]) == len(texts) and 0 <= int(clean["n_truncated"]) <= len(texts)
    assert len(clean["poison_prob"]) == 0 and "strip_pos" in clean  # the clean model gets the detectors

    heads = run_job(corpus, texts, cfg, "badclm_heads", 0.1, 0, 7, "cpu")
    assert len(heads["steered_heads"]) == 1 and 0 <= int(heads["steered_heads"][0]) < 2
    assert list(heads["steered_layers"]) == [1]  # every trained block: the top one of the tiny BERT's two
    # the clean model trains one cycle; a poisoned one until it fits its poison, within max_epochs
    assert int(clean["epochs_trained"]) == cfg["training"]["epochs"]
    assert cfg["training"]["epochs"] <= int(heads["epochs_trained"]) <= cfg["training"]["max_epochs"]
    fit_share = float((heads["poison_prob"] < 0.5).mean())
    assert fit_share >= 0.9 or int(heads["epochs_trained"]) == cfg["training"]["max_epochs"]
    assert len(heads["poison_prob"]) == int(heads["n_poison"]) == 3
    # only the variant's defenses run: ONION and the attention check
    assert "onion_trig_prob" in heads and "attention_check_pos" in heads
    assert not any(key.startswith(("strip_", "fine_tuning_", "fine_pruning_")) for key in heads)

    with pytest.raises(ValueError, match="selected_heads.k"):
        run_job(corpus, texts, {**cfg, "badclm": {**cfg["badclm"], "selected_heads": {"k": 5, "defenses": []}}},
                "badclm_heads", 0.1, 0, 7, "cpu")
