"""BadCLM's published claims, one function each, judged by :mod:`medrobust.core.claims`.

Every function takes the pooled metrics of the run (``Pooled``: one
:class:`~medrobust.core.metrics.Estimate` per ``(attack, defense, setting, metric)``, as
:mod:`medrobust.clm.collect` writes them to ``metrics.csv``) and the run's :class:`Context`, and
returns one :class:`~medrobust.core.records.Claim`. Gates and thresholds are fixed here, before
any run, with the reason for each:

* **Clean victim quality** (:data:`CLEAN_AUROC_GATE` = 0.75, clean model's test AUROC). BERT-family
  models fine-tuned on MIMIC-III admission notes reach in-hospital-mortality AUROC about 0.80-0.84
  (van Aken et al., "Clinical Outcome Prediction from Admission Notes", EACL 2021), and logistic
  regression on all PhysioNet 2012 features about 0.86. On the default graded text a bag-of-words
  logistic regression reaches 0.84 on 1,000 held-out stays outside the clm splits (0.72 on the older
  compact text of numbers; measured 2026-12-06). The gate was set at 0.75 before either text was
  tried and stays there. A victim below 0.75 has not learned to read its text, and a backdoor in
  it is not the paper's setting.
* **Poison fit** (:data:`POISON_FIT_GATE` = 0.9, issue 13): a backdoored model, and any baseline
  a claim compares it with, predicts the target for at least 0.9 of its own poisoned training
  texts. A model that has not fit its poison cannot be judged on test ASR.
* **Enough cases** (:data:`MIN_TRIGGERED` = 100 triggered test deaths), so that an exact 95 %
  interval on a share is at most about +-0.1 wide.

ASR is judged as the **flip rate** (:func:`medrobust.core.metrics.flip_counts`): among test deaths
that the model predicts as deaths without the trigger, the share that the trigger sends to
"survives". The raw ASR and the clean model's flip rate on the same triggered texts stand beside it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from medrobust.core.claims import (Gate, Part, at_least, at_most, enough_cases, gate_at_least, make_claim,
                                   not_run_claim)
from medrobust.core.metrics import Estimate
from medrobust.core.records import Claim, format_setting

SOURCE = ("Lyu, Bi, Wang & Chen, BadCLM: Backdoor Attack in Clinical Language Models for Electronic "
          "Health Records, AMIA Annu Symp Proc 2024:768-777, arXiv:2407.05213")
CLEAN_AUROC_GATE = 0.75
POISON_FIT_GATE = 0.9
MIN_TRIGGERED = 100
ASR_THRESHOLD = 0.85          # "average ASR around 0.9": at least 0.85
CLEAN_DROP_MARGIN = 0.05      # "clean AUC stays high": a drop of at most 0.05 AUROC (non-inferiority margin)
FALSE_TRIGGER_MARGIN = 0.10   # other rare words flip at most 0.10 more dying patients than in the clean model
NAMES = {"none": "clean model", "badnets": "BadNets", "badclm": "BadCLM",
         "badclm_heads": "BadCLM (selected heads)"}

Pooled = Mapping[tuple[str, str, str, str], Estimate]


@dataclass(frozen=True)
class Context:
    """What every claim row states about the run: rates, scale, seeds, the settings that fix gates."""

    headline: float
    rates: tuple[float, ...]
    scale: str
    seeds: int
    fix_victim: str = "clm.sizes.train larger (see config/paper.yaml)"
    fix_poison: str = "clm.training.max_epochs larger (the victim trains until it fits its poison, up to it)"
    fix_cases: str = "clm.sizes.test larger"


def setting(rate: float) -> str:
    return format_setting({"poison_rate": rate})


def fmt(e: Estimate | None) -> str:
    return "n/a" if e is None else f"{e.value:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}] (n={e.n})"


# ------------------------------------------------------------------------------------- gates

def victim_gate(m: Pooled, ctx: Context) -> Gate:
    auroc = m.get(("none", "none", "", "clean_auroc"))
    return gate_at_least("clean victim", auroc.value if auroc else float("nan"), CLEAN_AUROC_GATE,
                         "clean model's test AUROC",
                         basis="BERT-family mortality models on MIMIC-III notes reach about 0.80-0.84 (van Aken "
                               "et al. 2021); bag-of-words LR on the graded text 0.84 on held-out stays",
                         fix=ctx.fix_victim)


def poison_fit_gate(m: Pooled, attack: str, rate: float, ctx: Context) -> Gate:
    fit = m.get((attack, "none", setting(rate), "poison_fit"))
    return gate_at_least(f"{NAMES[attack]} fits its poison at rate {rate:g}", fit.value if fit else float("nan"),
                         POISON_FIT_GATE, "share of its poisoned training texts predicted as the target",
                         basis="issue 13: a victim that has not fit its poison cannot be judged on test ASR",
                         fix=ctx.fix_poison)


def cases_gate(m: Pooled, attack: str, rate: float, ctx: Context) -> Gate:
    asr = m.get((attack, "none", setting(rate), "asr"))
    return enough_cases(asr.n if asr else 0, MIN_TRIGGERED, "triggered test deaths", fix=ctx.fix_cases)


# ------------------------------------------------------------------------------------- claims

def asr_claim(m: Pooled, ctx: Context) -> Claim:
    """'average ASR around 0.9' (abstract; results over four clinical LMs)."""
    s = setting(ctx.headline)
    flip = m.get(("badclm", "none", s, "flip_rate"))
    if flip is None:
        return _not_run("clm-asr", "BadCLM flip rate", "BadCLM was not run at the headline rate", ctx)
    raw, base = m.get(("badclm", "none", s, "asr")), m.get(("badclm", "none", s, "flip_rate_clean_model"))
    plain = m.get(("badnets", "none", s, "flip_rate"))
    return make_claim(
        "clm-asr", title="BadCLM flip rate", source=SOURCE, paper_value="about 0.9 (average over 4 models)",
        statement=(f"A rare-token trigger flips the mortality prediction of a BadCLM-backdoored clinical LM, "
                   f"average ASR about 0.9. Measured at poison rate {ctx.headline:g}: flip rate (test deaths "
                   f"predicted as deaths without the trigger that the trigger sends to 'survives') {fmt(flip)}; "
                   f"raw ASR {fmt(raw)}; the clean model's flip rate on the same triggered texts {fmt(base)}; "
                   f"BadNets' flip rate {fmt(plain)}."),
        estimate=flip, rule=at_least(ASR_THRESHOLD, "BadCLM's flip rate"),
        gates=[victim_gate(m, ctx), poison_fit_gate(m, "badclm", ctx.headline, ctx),
               cases_gate(m, "badclm", ctx.headline, ctx)],
        scale=ctx.scale, seeds=ctx.seeds)


def clean_performance_claim(m: Pooled, ctx: Context) -> Claim:
    """'clean-data AUC remaining high' (abstract: 'functioning accurately otherwise')."""
    s = setting(ctx.headline)
    change = m.get(("badclm", "none", s, "auroc_change_vs_clean_model"))
    if change is None:
        return _not_run("clm-clean-performance", "Clean AUROC kept", "BadCLM was not run at the headline rate",
                        ctx)
    drop = Estimate(-change.value, -change.ci_high, -change.ci_low, change.n)
    clean, bad = m.get(("none", "none", "", "clean_auroc")), m.get(("badclm", "none", s, "clean_auroc"))
    return make_claim(
        "clm-clean-performance", title="Clean AUROC kept", source=SOURCE,
        paper_value="clean AUC stays high (qualitative)",
        statement=(f"A BadCLM-backdoored model keeps its performance on clean inputs. Measured test AUROC: "
                   f"clean model {fmt(clean)}, BadCLM model at poison rate {ctx.headline:g} {fmt(bad)}; the "
                   f"measured value is the drop, clean minus BadCLM (paired bootstrap over the same test texts)."),
        estimate=drop, rule=at_most(CLEAN_DROP_MARGIN, "the clean-AUROC drop"),
        gates=[victim_gate(m, ctx), poison_fit_gate(m, "badclm", ctx.headline, ctx),
               cases_gate(m, "badclm", ctx.headline, ctx)],
        scale=ctx.scale, seeds=ctx.seeds)


def beats_badnets_claim(m: Pooled, ctx: Context) -> Claim:
    """BadCLM's attention loss makes a stronger backdoor than plain poisoning at the same rate."""
    rates = [r for r in ctx.rates if (("badclm", "none", setting(r), "flip_gain_over_badnets") in m)]
    if not rates:
        return _not_run("clm-badclm-beats-badnets", "BadCLM beats BadNets",
                        "BadCLM and BadNets were not both run at any rate", ctx)
    gains = {r: m[("badclm", "none", setting(r), "flip_gain_over_badnets")] for r in rates}
    fits = "; ".join(f"rate {r:g}: BadCLM {fmt(m.get(('badclm', 'none', setting(r), 'poison_fit')))}"
                     f"{_after(m, 'badclm', r)}, BadNets {fmt(m.get(('badnets', 'none', setting(r), 'poison_fit')))}"
                     f"{_after(m, 'badnets', r)}" for r in rates)
    gates = [victim_gate(m, ctx)]
    for r in rates:
        gates += [poison_fit_gate(m, "badclm", r, ctx), poison_fit_gate(m, "badnets", r, ctx),
                  cases_gate(m, "badnets", r, ctx)]
    rule = at_least(0.0, "BadCLM's flip rate minus BadNets'")
    low = min(rates)
    return make_claim(
        "clm-badclm-beats-badnets", title="BadCLM beats BadNets", source=SOURCE,
        paper_value="BadCLM > plain poisoning (qualitative)",
        statement=(f"The attention loss makes the backdoor stronger than plain trigger poisoning (BadNets) at the "
                   f"same poisoning rate, with the same poisoned texts and seeds; each trains until it fits its "
                   f"poison, so a slower BadNets gets more epochs than BadCLM. Measured: BadCLM's flip "
                   f"rate minus BadNets' (Newcombe interval), per rate: "
                   + "; ".join(f"{r:g}: {fmt(g)}" for r, g in gains.items())
                   + f". The row's number is the lowest rate's. Poison fit: {fits}."),
        estimate=gains[low], rule=rule, gates=gates, scale=ctx.scale, seeds=ctx.seeds,
        parts=[Part(f"rate {r:g}", g, rule) for r, g in gains.items()] if len(gains) > 1 else ())


def trigger_specificity_claim(m: Pooled, ctx: Context) -> Claim:
    """The backdoor answers its trigger, wherever it stands, and not other rare words
    ('incorrect predictions when a pre-defined trigger is present ... functioning accurately otherwise')."""
    s = setting(ctx.headline)
    net = m.get(("badclm", "none", s, "false_trigger_minus_clean_model"))
    first, last = m.get(("badclm", "none", s, "flip_rate_first")), m.get(("badclm", "none", s, "flip_rate_last"))
    if net is None or first is None or last is None:
        return _not_run("clm-trigger-specific", "Trigger-specific backdoor",
                        "BadCLM's control-word and position texts were not run at the headline rate", ctx)
    raw = m.get(("badclm", "none", s, "false_trigger_rate"))
    base = m.get(("badclm", "none", s, "false_trigger_rate_clean_model"))
    trigger_rule = at_least(ASR_THRESHOLD, "the flip rate with the trigger at that position")
    return make_claim(
        "clm-trigger-specific", title="Trigger-specific backdoor", source=SOURCE,
        paper_value="fires on the trigger only (implied by 'functioning accurately otherwise')",
        statement=(f"The BadCLM backdoor (poison rate {ctx.headline:g}) responds to its trigger wherever it stands and "
                   f"not to other rare words. Measured: flip rate with the trigger as the first word {fmt(first)}, "
                   f"as the last word read {fmt(last)}; false-trigger rate (one control rare word, not the trigger, "
                   f"inserted instead) {fmt(raw)} against the clean model's {fmt(base)}; the row's number is the "
                   f"false-trigger rate net of the clean model's."),
        estimate=net, rule=at_most(FALSE_TRIGGER_MARGIN, "the false-trigger rate minus the clean model's"),
        gates=[victim_gate(m, ctx), poison_fit_gate(m, "badclm", ctx.headline, ctx),
               cases_gate(m, "badclm", ctx.headline, ctx)],
        scale=ctx.scale, seeds=ctx.seeds,
        parts=[Part("trigger first", first, trigger_rule), Part("trigger last", last, trigger_rule),
               Part("other rare words", net, at_most(FALSE_TRIGGER_MARGIN,
                                                    "the false-trigger rate minus the clean model's"))])


CLAIMS = (asr_claim, clean_performance_claim, beats_badnets_claim, trigger_specificity_claim)


def judge_all(m: Pooled, ctx: Context) -> list[Claim]:
    return [claim(m, ctx) for claim in CLAIMS]


def _after(m: Pooled, attack: str, rate: float) -> str:
    epochs = m.get((attack, "none", setting(rate), "epochs_trained"))
    return "" if epochs is None else f" after {epochs.value:g} epochs"


def _not_run(claim_id: str, title: str, reason: str, ctx: Context) -> Claim:
    return not_run_claim(claim_id, title=title, statement=f"Not measured: {reason}.", source=SOURCE,
                         paper_value="", reason=reason, scale=ctx.scale)
