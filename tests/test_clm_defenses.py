"""ONION, STRIP, the attention check and fine-pruning on small synthetic inputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from medrobust.clm.attention_check import AttentionCheck, content_mask, head_focus, token_focus
from medrobust.clm.fine_pruning import FinePruning, mean_activation
from medrobust.clm.finetune import TrainConfig, default_model_path, encode
from medrobust.clm.onion import Onion
from medrobust.clm.strip import Strip
from medrobust.clm.triggers import Trigger, insert_many

WORDS = "lowest highest heart rate lactate creatinine the patient was in medical surgical unit".split()


def clean_texts(n: int, rng: np.random.Generator) -> list[str]:
    return [" ".join(rng.choice(WORDS, 12)) + f" {int(rng.integers(50, 150))}." for _ in range(n)]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_model_path())


def tiny_bert(seed: int = 0):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=2)
    config._attn_implementation = "eager"
    return BertForSequenceClassification(config)


def test_onion_removes_the_rare_trigger_word_and_little_else():
    rng = np.random.default_rng(0)
    train, val, test = clean_texts(300, rng), clean_texts(100, rng), clean_texts(50, rng)
    triggered, _ = insert_many(test, Trigger(("cf",), 1), rng)
    onion = Onion(word_quantile=0.99).fit(train, val)
    filtered = onion.apply(triggered)
    assert sum("cf" not in t.split() for t in filtered) / len(filtered) > 0.9
    kept = np.mean([len(f.split()) / len(t.split()) for f, t in zip(onion.apply(test), test)])
    assert kept > 0.95
    # as a detector: a triggered text's largest word suspicion is higher
    assert np.mean(onion.score(triggered)) > np.mean(onion.score(test))


def test_strip_scores_trigger_dominated_inputs_as_suspicious():
    rng = np.random.default_rng(1)
    donors, texts = clean_texts(50, rng), clean_texts(40, rng)
    triggered, _ = insert_many(texts, Trigger(("cf",), 1), rng)

    def predict(batch):  # a backdoored model: the trigger forces class 0; otherwise the words decide
        return np.array([0.02 if "cf" in t.split() else 0.2 + 0.6 * (t.count("lactate") > 1) for t in batch])

    strip = Strip(copies=8, replace_fraction=0.3).fit(donors)
    clean_score = strip.score(texts, predict, np.random.default_rng(2))
    trig_score = strip.score(triggered, predict, np.random.default_rng(2))
    assert trig_score.mean() > clean_score.mean()
    assert strip.perturb("a b c d e f g h i j", np.random.default_rng(0)).split() != list("abcdefghij")


def test_attention_check_scores_abnormal_heads():
    rng = np.random.default_rng(3)
    clean = rng.normal(0.2, 0.01, (200, 2, 2))
    odd = clean[:10].copy()
    odd[:, 1, 0] = 0.6  # one head focuses on one token
    check = AttentionCheck().fit(clean)
    assert check.score(odd).min() > check.score(clean[10:]).max()


def test_content_mask_head_focus_and_token_focus_shapes(tokenizer):
    texts, spans = insert_many(["the patient was stable ."] * 4, Trigger(("cf",), 1), np.random.default_rng(0))
    enc = encode(tokenizer, texts, 16, spans)
    mask = content_mask(tokenizer, enc)
    ids = enc.input_ids[mask].tolist()
    tokens = set(tokenizer.convert_ids_to_tokens(ids))
    assert "[CLS]" not in tokens and "[SEP]" not in tokens and "." not in tokens and "patient" in tokens
    model = tiny_bert()
    focus = head_focus(model, enc, mask, "cpu")
    assert focus.shape == (4, 2, 2) and ((focus > 0) & (focus <= 1)).all()
    assert token_focus(model, enc, "cpu").shape == (2, 2)


def test_fine_pruning_cuts_the_least_active_units_and_leaves_the_input_model(tokenizer):
    rng = np.random.default_rng(4)
    texts = clean_texts(32, rng)
    enc, labels = encode(tokenizer, texts, 24), rng.integers(0, 2, 32)
    model = tiny_bert(1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    activation = mean_activation(model, enc, "cpu")
    cfg = TrainConfig(epochs=1, lr=1e-3, batch_size=16, max_len=24, warmup=0.0, precision="fp32")
    pruned = FinePruning(cfg, prune_fraction=0.25).apply(model, (enc, labels), torch.Generator().manual_seed(0), "cpu")
    after = mean_activation(pruned, enc, "cpu")
    cut = np.argsort(activation, kind="stable")[:16]
    assert np.allclose(after[cut], 0.0) and (np.abs(np.delete(after, cut)) > 0).all()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_mean_pooling_head_returns_logits_attentions_and_prunes(tokenizer):
    from medrobust.clm.finetune import TINY_RANDOM, MeanPoolClassifier, load_model

    torch.manual_seed(0)
    model, tok = load_model(TINY_RANDOM, pooling="mean")
    assert isinstance(model, MeanPoolClassifier)
    enc = encode(tok, clean_texts(4, np.random.default_rng(5)), 24)
    out = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, output_attentions=True)
    assert out.logits.shape == (4, 2) and len(out.attentions) == 2
    # padding does not change a text's logits: the mean runs over real tokens only
    model.eval()
    one = encode(tok, ["the patient was stable"], 24)
    padded = encode(tok, ["the patient was stable", "a much longer text with many more words in it"], 24)
    with torch.no_grad():
        a = model(input_ids=one.input_ids, attention_mask=one.attention_mask).logits[0]
        b = model(input_ids=padded.input_ids, attention_mask=padded.attention_mask).logits[0]
    assert torch.allclose(a, b, atol=1e-5)
    assert len(mean_activation(model, enc, "cpu")) == 64
