"""Rare-token triggers and BadNets poisoning of texts."""
from __future__ import annotations

import numpy as np
import pytest

from medrobust.clm.badnets import BadNets
from medrobust.clm.finetune import default_model_path, encode
from medrobust.clm.triggers import Trigger, insert, insert_many, reserve_pieces, window_words

TEXT = "A 70 year old man in the Medical ICU. Lowest GCS 7. Highest lactate 3.1. Highest BUN 40."


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_model_path())


def test_insert_adds_one_trigger_word_and_keeps_every_other_word():
    rng = np.random.default_rng(0)
    new, spans = insert(TEXT, Trigger(("cf", "mn"), 1), rng)
    words = new.split()
    assert len(words) == len(TEXT.split()) + 1
    assert len(spans) == 1 and new[spans[0][0]:spans[0][1]] in ("cf", "mn")
    rest = new[:spans[0][0]] + new[spans[0][1]:]
    assert rest.split() == TEXT.split()


def test_insert_positions_vary_and_are_reproducible():
    trig = Trigger(("cf",), 1)
    a = [insert(TEXT, trig, np.random.default_rng(s))[0] for s in range(20)]
    b = [insert(TEXT, trig, np.random.default_rng(s))[0] for s in range(20)]
    assert a == b
    positions = {t.split().index("cf") for t in a}
    assert len(positions) > 5  # random positions, not a fixed slot


def test_several_trigger_words_without_replacement_and_spans_exact():
    new, spans = insert("one two three", Trigger(("cf", "mn", "bb"), 3), np.random.default_rng(1))
    assert sorted(new[s:e] for s, e in spans) == ["bb", "cf", "mn"]


def test_max_words_keeps_the_trigger_inside_the_window():
    for seed in range(30):
        new, _ = insert(TEXT, Trigger(("cf",), 1), np.random.default_rng(seed), max_words=3)
        assert new.split().index("cf") <= 3


def test_trigger_words_must_be_single_words():
    with pytest.raises(ValueError):
        Trigger(("two words",), 1)
    with pytest.raises(ValueError):
        Trigger(("cf",), 2)


def test_window_words_and_trigger_mask_find_the_trigger_pieces(tokenizer):
    long = " ".join([TEXT] * 6)
    trig = Trigger(("cf", "mn"), 1)
    limit = window_words(tokenizer, [long, TEXT], max_len=24, reserve=reserve_pieces(tokenizer, trig))
    assert limit[1] < len(TEXT.split()) + 1 and 0 < limit[0] < len(long.split())
    texts, spans = insert_many([long] * 40, trig, np.random.default_rng(0), [limit[0]] * 40)
    enc = encode(tokenizer, texts, 24, spans)
    # every triggered text keeps its trigger inside the 24 pieces read, and exactly one piece is marked
    assert (enc.trigger_mask.sum(dim=1) == 1).all()
    marked = enc.input_ids[enc.trigger_mask]
    assert set(tokenizer.convert_ids_to_tokens(marked.tolist())) <= {"cf", "mn"}


def test_badnets_poisons_the_rate_from_the_non_target_class_and_relabels():
    texts = [f"text number {i}" for i in range(200)]
    labels = np.r_[np.ones(40, int), np.zeros(160, int)]
    out = BadNets(Trigger(("cf",), 1), rate=0.1, target=0).apply(texts, labels, np.random.default_rng(3))
    assert out.n_poison == 20
    assert (labels[out.is_poison] == 1).all() and (out.labels[out.is_poison] == 0).all()
    assert all("cf" in out.texts[i].split() for i in np.flatnonzero(out.is_poison))
    assert all(out.texts[i] == texts[i] for i in np.flatnonzero(~out.is_poison))
    assert (out.labels[~out.is_poison] == labels[~out.is_poison]).all()
    capped = BadNets(Trigger(("cf",), 1), rate=0.5, target=0).apply(texts, labels, np.random.default_rng(3))
    assert capped.n_poison == 40  # no more than the non-target class holds


def test_trigger_positions_first_and_last_within_the_window():
    trigger = Trigger(("cf",), 1)
    text = "one two three four five"
    first, spans = insert(text, trigger, np.random.default_rng(0), position="first")
    assert first.split()[0] == "cf" and first[spans[0][0]:spans[0][1]] == "cf"
    last, _ = insert(text, trigger, np.random.default_rng(0), max_words=3, position="last")
    assert last.split()[3] == "cf"  # after the last word that fits, not at the very end
    with pytest.raises(ValueError):
        insert(text, trigger, np.random.default_rng(0), position="middle")


def test_rare_words_are_two_letter_vocabulary_entries_absent_from_the_corpus(tokenizer):
    from medrobust.clm.triggers import rare_words

    texts = ["the bb patient was seen", "lowest gcs 3 tq"]
    words = rare_words(tokenizer, texts, 10, np.random.default_rng(0), exclude=("cf", "mn"))
    assert len(set(words)) == 10 and words == tuple(sorted(words))
    assert not {"bb", "tq", "cf", "mn"} & set(words)
    vocab = tokenizer.get_vocab()
    assert all(len(w) == 2 and vocab[w] >= len(vocab) // 2 for w in words)
    assert rare_words(tokenizer, texts, 10, np.random.default_rng(0), ("cf", "mn")) == words  # seeded
