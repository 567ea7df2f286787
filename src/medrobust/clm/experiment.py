"""One job of the clm study: fine-tune one victim and measure it, and the defenses around it.

A job is ``(attack, poison_rate, seed)`` with attack ``none`` (the clean model, rate 0),
``badnets`` or ``badclm``. Every random choice is derived from the config seed and the job's
wildcards, and BadNets and BadCLM at the same rate and seed share them all (poisoned texts, trigger
positions, initialisation of the head, batch order), so the two differ by the attention loss only.

Per job:

1. **Victim.** The training split, poisoned unless the attack is ``none``, fine-tunes the model
   (:mod:`medrobust.clm.finetune`).
2. **Clean test.** P(death) for every test text (AUROC/AUPRC are computed in collect).
3. **Triggered test.** Every test text of the non-target class receives the trigger; the positions
   depend on the seed only, so the clean model of that seed sees the very same triggered texts
   (its ASR is the baseline that every ASR is reported beside).
4. **Attention.** Per head, the mean attention from the other tokens to the trigger over the
   triggered test texts, and every head's attention map of one example text (the
   ``example_index``-th triggered text) with and without the trigger. Token strings are kept for
   the figure only when the text is serialised from a dataset of ``data.open_datasets``; otherwise
   (notes, credentialed cohorts) they are blanked, so no credentialed text reaches results.
5. **Defenses** (clean model: detectors only; poisoned models: at the headline rate only). The
   defender's clean validation split is cut in two halves: ``fit`` (STRIP's donor texts, the
   attention check's per-head statistics, ONION's threshold) and ``threshold`` (texts that set each
   detector's operating point at ``detection_fpr``). Detection sets: ``n_detect`` triggered test
   texts (positives) and ``n_detect`` clean test texts drawn from both classes (negatives). ONION,
   fine-tuning and fine-pruning are also applied to every clean and triggered test text.
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np
import torch

from medrobust.clm.attention_check import AttentionCheck, content_mask, head_focus, token_focus
from medrobust.clm.badclm import BadCLM
from medrobust.clm.badnets import BadNets
from medrobust.clm.corpus import TEST, TRAIN, VAL, Corpus, corpus_texts, read_corpus
from medrobust.clm.fine_pruning import FinePruning
from medrobust.clm.fine_tuning import FineTuning
from medrobust.clm.finetune import (TrainConfig, attentions, encode, fit, load_model, predict_proba,
                                    resolve_precision, trained_layer_indices)
from medrobust.clm.onion import Onion
from medrobust.clm.strip import Strip
from medrobust.clm.triggers import Trigger, insert_many, reserve_pieces, window_words
from medrobust.core.seeding import make_rng, torch_generator

log = logging.getLogger(__name__)
ATTACKS = ("none", "badnets", "badclm")
DETECTORS = ("onion", "strip", "attention_check")
MITIGATIONS = ("onion", "fine_tuning", "fine_pruning")


def trigger_of(cfg: dict) -> Trigger:
    return Trigger(tuple(cfg["trigger"]["tokens"]), int(cfg["trigger"]["per_text"]))


def run_from_files(corpus_path: str, cfg: dict, attack: str, rate: float, seed_index: int, base_seed: int,
                   device: str, mimic3_path: str | None = None,
                   open_datasets: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """:func:`run_job` on the corpus file (notes are re-read from ``mimic3_path`` into memory)."""
    corpus = read_corpus(corpus_path)
    return run_job(corpus, corpus_texts(corpus, mimic3_path, cfg["notes"]), cfg, attack, rate, seed_index,
                   base_seed, device, open_datasets)


def run_job(corpus: Corpus, texts: list[str], cfg: dict, attack: str, rate: float, seed_index: int,
            base_seed: int, device: str, open_datasets: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; use one of {ATTACKS}")
    defend = attack == "none" or math.isclose(rate, float(cfg["headline_setting"]["poison_rate"]))
    keys = (rate, seed_index)
    trigger, train_cfg, target = trigger_of(cfg), TrainConfig.from_config(cfg["training"]), int(cfg["target_label"])
    model, tok = load_model(cfg["model"], pooling=cfg["pooling"])
    max_len, y = train_cfg.max_len, corpus.label.astype(np.int64)
    tr, va, te = corpus.part(TRAIN), corpus.part(VAL), corpus.part(TEST)
    fits = window_words(tok, texts, max_len, reserve_pieces(tok, trigger))
    pick = lambda idx: [texts[i] for i in idx]  # noqa: E731

    victims = te[y[te] != target]
    trig_texts, trig_spans = insert_many(pick(victims), trigger, make_rng(base_seed, "clm", "test_trigger", seed_index),
                                         fits[victims])
    train_texts, train_labels, spans, n_poison = pick(tr), y[tr], None, 0
    if attack != "none":
        poisoned = BadNets(trigger, rate, target, cfg["poison_source"]).apply(
            train_texts, train_labels, make_rng(base_seed, "clm", "poison", *keys), fits[tr])
        train_texts, train_labels, spans, n_poison = poisoned.texts, poisoned.labels, poisoned.spans, poisoned.n_poison
        wanted = int(round(rate * len(tr)))
        if n_poison < wanted:
            log.warning("only %d non-target training texts: %d poisoned instead of %d", n_poison, n_poison, wanted)
    # Unset layers steer every trained block (frozen blocks' attention cannot move).
    steered = _tuple(cfg["badclm"]["layers"]) or trained_layer_indices(model, train_cfg.trainable_layers)
    badclm = BadCLM(cfg["badclm"]["lam"], steered, _tuple(cfg["badclm"]["heads"])) if attack == "badclm" else None
    log.info("%s rate %s seed %d: %d training texts (%d poisoned), %d test, %d triggered test, device %s, %s",
             attack, rate, seed_index, len(tr), n_poison, len(te), len(victims), device,
             resolve_precision(train_cfg.precision, device))
    started = time.perf_counter()
    history = fit(model, encode(tok, train_texts, max_len, spans), train_labels, train_cfg,
                  torch_generator(base_seed, "clm", "order", *keys), device, badclm)
    train_seconds = time.perf_counter() - started

    def predict(m, batch_texts):
        return predict_proba(m, encode(tok, batch_texts, max_len), device, train_cfg.precision)

    enc_trig = encode(tok, trig_texts, max_len, trig_spans)
    out = {"test_label": y[te], "test_prob": predict(model, pick(te)), "trig_prob": predict(model, trig_texts),
           "trigger_focus": token_focus(model, enc_trig, device),
           "history_ce": np.array(history["ce"]), "history_attention": np.array(history["attention"]),
           "n_poison": np.array(n_poison), "n_train": np.array(len(tr)), "train_seconds": np.array(train_seconds)}
    example = int(cfg["example_index"]) % max(len(victims), 1)
    if len(victims):
        out.update(example_maps(model, tok, texts[victims[example]], trig_texts[example], trig_spans[example],
                                max_len, device, corpus.source == "serialised" and corpus.dataset in open_datasets))
    if defend:
        out.update(run_defenses(model, tok, corpus, texts, trig_texts, trig_spans, cfg, attack, train_cfg,
                                seed_index, base_seed, device, predict))
    return out


def example_maps(model, tok, clean_text: str, trig_text: str, spans, max_len: int, device: str,
                 open_text: bool) -> dict[str, np.ndarray]:
    """Every head's attention map (layers, heads, L, L) of one text without and with the trigger."""
    out = {}
    for name, text, span in (("clean", clean_text, []), ("trig", trig_text, spans)):
        enc = encode(tok, [text], max_len, [span])
        _, att = next(attentions(model, enc, device))
        out[f"example_{name}_attention"] = torch.stack(att, dim=1)[0].cpu().numpy().astype(np.float16)
        tokens = tok.convert_ids_to_tokens(enc.input_ids[0].tolist())
        out[f"example_{name}_tokens"] = np.asarray(tokens if open_text else [""] * len(tokens), dtype=str)
        out[f"example_{name}_trigger"] = enc.trigger_mask[0].numpy()
    return out


def run_defenses(model, tok, corpus: Corpus, texts: list[str], trig_texts: list[str], trig_spans, cfg: dict,
                 attack: str, train_cfg: TrainConfig, seed_index: int, base_seed: int, device: str,
                 predict) -> dict[str, np.ndarray]:
    y, max_len = corpus.label.astype(np.int64), train_cfg.max_len
    tr, va, te = corpus.part(TRAIN), corpus.part(VAL), corpus.part(TEST)
    va_fit, va_thr = va[: len(va) // 2], va[len(va) // 2:]
    pick = lambda idx: [texts[i] for i in idx]  # noqa: E731
    n_detect = int(cfg["n_detect"])
    rng = make_rng(base_seed, "clm", "detect", seed_index)
    negatives = pick(np.sort(rng.choice(te, size=min(n_detect, len(te)), replace=False)))
    positives = trig_texts[:n_detect]
    sets = {"pos": positives, "neg": negatives, "thr": pick(va_thr)}
    out: dict[str, np.ndarray] = {}
    defenses = set(cfg["defenses"])

    if "onion" in defenses:
        onion = Onion(cfg["onion"]["word_quantile"]).fit(pick(tr), pick(va_fit))
        out.update({f"onion_{k}": onion.score(v) for k, v in sets.items()})
        if attack != "none":
            out["onion_test_prob"] = predict(model, onion.apply(pick(te)))
            out["onion_trig_prob"] = predict(model, onion.apply(trig_texts))
    if "strip" in defenses:
        strip = Strip(cfg["strip"]["copies"], cfg["strip"]["replace_fraction"]).fit(pick(va_fit))
        srng = make_rng(base_seed, "clm", "strip", seed_index)
        out.update({f"strip_{k}": strip.score(v, lambda t: predict(model, t), srng) for k, v in sets.items()})
    if "attention_check" in defenses:
        focus = {}
        for k, v in {**sets, "fit": pick(va_fit)}.items():
            enc = encode(tok, v, max_len)
            focus[k] = head_focus(model, enc, content_mask(tok, enc), device)
        check = AttentionCheck().fit(focus.pop("fit"))
        out.update({f"attention_check_{k}": check.score(f) for k, f in focus.items()})
        control = Trigger(tuple(cfg["attention_check"]["control_tokens"]), 1)
        fits = window_words(tok, negatives, max_len, reserve_pieces(tok, control))
        ctl_texts, ctl_spans = insert_many(negatives, control, make_rng(base_seed, "clm", "control", seed_index), fits)
        out["control_focus"] = token_focus(model, encode(tok, ctl_texts, max_len, ctl_spans), device)
    if attack != "none":
        defender = TrainConfig(**{**train_cfg.__dict__, "epochs": cfg["fine_tuning"]["epochs"],
                                  "lr": cfg["fine_tuning"]["lr"]})
        data = (encode(tok, pick(va), max_len), y[va])
        mitigations = {"fine_tuning": FineTuning(defender),
                       "fine_pruning": FinePruning(defender, cfg["fine_tuning"]["prune_fraction"])}
        for name, mitigation in mitigations.items():
            if name not in defenses:
                continue
            defended = mitigation.apply(model, data, torch_generator(base_seed, "clm", name, seed_index), device)
            out[f"{name}_test_prob"] = predict(defended, pick(te))
            out[f"{name}_trig_prob"] = predict(defended, trig_texts)
            del defended
    return out


def _tuple(value) -> tuple[int, ...] | None:
    return None if value is None else tuple(int(v) for v in value)

