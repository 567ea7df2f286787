"""The claims of Joe et al. 2022 and how this run judges them: one function per claim, gates beside rules.

Every function takes the pooled results (:class:`Results`, built by :mod:`medrobust.ehr.collect`)
and returns one :class:`~medrobust.core.records.Claim`; verdicts come from
:mod:`medrobust.core.claims` (the whole 95 % interval against a threshold; a failed gate gives
``inconclusive``). Thresholds are fixed here, before any run, with their basis:

* ``MIN_AUROC`` 0.80: a victim must reach the literature's quality on PhysioNet/CinC 2012
  in-hospital mortality, about 0.80-0.86 for these model families (e.g. GRU-D 0.84, Che et al.,
  Sci Rep 2018;8:6085), for the clean **and** the poisoned victim;
* ``POISON_FIT`` 0.90: a backdoored victim that does not predict the target for most of its own
  poisoned training stays has not learned the poison and cannot be judged on test ASR (issue 13);
* ``FLIP_THRESHOLD`` 0.90: the paper reports 97-99 % ASR on MIMIC-III; on another cohort we test
  the claim's substance, that the trigger flips at least 90 % of the test stays it can flip
  (7 points below the paper's lowest value);
* enough cases: the fewest eligible stays with which an exact 95 % interval could lie wholly
  above that threshold (35 for 0.90: 35/35 gives [0.900, 1]);
* AUPRC: the backdoor's own triggered-AUPRC drop at least 0.35 (the paper's "up to 0.45" less a
  0.10 tolerance for the cohort); the clean-AUPRC drop at most 0.05 (the paper's 0.01, with the
  largest drop we would still call "only about 0.01");
* detection AUROC, read both ways (:func:`medrobust.core.metrics.two_sided_auroc`): a stealthy
  trigger leaves every input check at most 0.60 (within 0.1 of chance); an easily detected one
  meets 0.90, "outstanding discrimination" (Hosmer & Lemeshow, Applied Logistic Regression,
  2000); a check counts as able to see a missing pattern at all if it separates a random mask of
  the same density at 0.70, "acceptable discrimination" (ibid.).

The ASR claims judge the **flip rate** (:func:`medrobust.core.metrics.flip_counts`): among
non-target test stays that the poisoned victim classifies correctly without the trigger, the share
the trigger sends to the target. Its interval is the wider of the exact Clopper-Pearson interval
on the counts pooled over seeds and the two-level (seeds x test stays) bootstrap interval, so it
carries both the few cases and the seed-to-seed spread. The clean twin's flip rate (same trigger,
no backdoor) and the raw ASR stand beside it in each row.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from medrobust.core.claims import (Gate, at_least, at_most, enough_cases, gate_at_least, make_claim,
                                   not_run_claim)
from medrobust.core.metrics import Estimate, exact_share, two_sided_auroc
from medrobust.core.records import Claim, format_setting

SOURCE = "Joe et al., JMIR Med Inform 2022;10(8):e38440, https://doi.org/10.2196/38440"
MIN_AUROC = 0.80
POISON_FIT = 0.90
FLIP_THRESHOLD = 0.90
TRIGGERED_AUPRC_DROP = 0.35
CLEAN_AUPRC_DROP = 0.05
STEALTH_AUROC = 0.60
DETECTABLE_AUROC = 0.90
CHECK_COMPETENT_AUROC = 0.70
MIN_TEST_STAYS = 100
AUROC_BASIS = ("PhysioNet/CinC 2012 mortality AUROC is about 0.80-0.86 in the literature for these model "
               "families (e.g. GRU-D 0.84, Che et al., Sci Rep 2018)")
FIT_BASIS = "a victim that has not fit its own poison cannot be judged on test ASR (issue 13)"
APPLICATIONS = {"vae_missingness": "the trigger deletes the values it marks missing (mask AND trigger)",
                "vae_overwrite": "the record's mask becomes the trigger (cells it marks observed are forward-filled)"}


def fewest_cases(threshold: float, alpha: float = 0.05) -> int:
    """The smallest n whose exact interval for n/n lies wholly at or above ``threshold``."""
    return int(math.ceil(math.log(alpha / 2) / math.log(threshold)))


@dataclass
class Results:
    """What the claims read: pooled metric rows, counts summed over seeds, and the run's scale."""

    rows: dict[str, dict]
    counts: dict[str, np.ndarray]
    cfg: dict
    n_train: int = 0
    n_test: int = 0
    not_run_reason: str | None = None
    epochs: dict[str, list[int]] = field(default_factory=dict)

    def row(self, model: str, attack: str, setting: str, metric: str, defense: str = "none") -> dict | None:
        return self.rows.get("|".join([model, attack, defense, setting, metric]))

    def value(self, *key: str) -> float:
        row = self.row(*key)
        return float(row["value"]) if row else float("nan")

    def estimate(self, *key: str) -> Estimate | None:
        row = self.row(*key)
        return None if row is None else Estimate(row["value"], row["ci_low"], row["ci_high"], row["n"])

    @property
    def headline(self) -> str:
        return format_setting({"poison_rate": self.cfg["headline_setting"]["poison_rate"]})

    def seeds(self, model: str, attack: str, setting: str) -> int:
        row = self.row(model, attack, setting, "flip_rate")
        return int(row["seeds"]) if row else 0

    def scale(self, models: list[str], attack: str = "vae_missingness", setting: str | None = None) -> str:
        setting = self.headline if setting is None else setting
        parts = []
        for m in models:
            t = self.cfg["training"][m]
            used = self.epochs.get(f"{m}|{attack}|{setting}", [])
            arch = "" if m in ("lr",) else f", hidden {t['hidden']}" + (
                f", {t.get('layers', 1)} layers{' bidirectional' if t.get('bidirectional') else ''}"
                if m in ("lstm", "gru") else "")
            parts.append(f"{m.upper()}{arch}, {t['epochs']}-{max(t['epochs'], t.get('max_epochs', 0))} epochs "
                         f"(used {', '.join(map(str, used)) or 'n/a'})")
        return (f"{self.cfg.get('dataset', 'challenge2012')}: {self.n_train:,} training / {self.n_test:,} test stays; "
                f"{self.cfg['seeds']} seeds; {setting or 'no poisoning'}; " + "; ".join(parts))


def _fmt(e: Estimate | dict | None) -> str:
    if e is None:
        return "n/a"
    if isinstance(e, dict):
        e = Estimate(e["value"], e["ci_low"], e["ci_high"], e["n"])
    return f"{e.value:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}]"


def pooled_share(counts: np.ndarray | None, bootstrap: dict | None) -> Estimate | None:
    """k/n pooled over seeds with the wider of its exact interval and the seed bootstrap interval."""
    if counts is None or counts[1] == 0:
        return None
    exact = exact_share(int(counts[0]), int(counts[1]))
    low, high = exact.ci_low, exact.ci_high
    if bootstrap and np.isfinite(bootstrap["ci_low"]) and np.isfinite(bootstrap["ci_high"]):
        low, high = min(low, bootstrap["ci_low"]), max(high, bootstrap["ci_high"])
    return Estimate(exact.value, float(low), float(high), exact.n)


def victim_gates(res: Results, model: str, attack: str, setting: str, fit: bool = True) -> list[Gate]:
    """Clean twin and poisoned victim at the literature's AUROC; the poisoned victim fits its poison."""
    t = f"ehr.training.{model}"
    gates = [gate_at_least("clean victim quality", res.value(model, attack, setting, "auroc_clean_model"),
                           MIN_AUROC, f"clean {model.upper()} test AUROC (mean over seeds)", basis=AUROC_BASIS,
                           fix=f"{t}.epochs / {t}.hidden, or --configfile config/paper.yaml"),
             gate_at_least("poisoned victim quality", res.value(model, attack, setting, "auroc"), MIN_AUROC,
                           f"poisoned {model.upper()} clean-test AUROC (mean over seeds)", basis=AUROC_BASIS,
                           fix=f"{t}.epochs / {t}.hidden, or --configfile config/paper.yaml")]
    if fit:
        counts = res.counts.get(f"{model}|{attack}|{setting}")
        share = counts[2, 0] / counts[2, 1] if counts is not None and counts[2, 1] else float("nan")
        gates.append(gate_at_least("victim fits its poison", share, POISON_FIT,
                                   f"share of the poisoned {model.upper()}'s own poisoned training stays it "
                                   f"predicts as the target (pooled over seeds)", basis=FIT_BASIS,
                                   fix=f"{t}.max_epochs (train longer) or ehr.headline_setting.poison_rate"))
    return gates


# ------------------------------------------------------------------------------------ ASR claims

def asr_claim(res: Results, model: str, attack: str = "vae_missingness") -> Claim:
    """The VAE missingness trigger flips 97-99 % of the cases on every model (one claim per model and application)."""
    cid = f"ehr-asr-{model}" if attack == "vae_missingness" else f"ehr-asr-{attack.removeprefix('vae_')}-{model}"
    title = f"ASR {model.upper()}" + ("" if attack == "vae_missingness" else f" ({attack.removeprefix('vae_')})")
    setting = res.headline
    rate = res.cfg["headline_setting"]["poison_rate"]
    paper = (f"With a {rate:.0%} poisoning rate the VAE missingness trigger reaches a 97-99% attack success "
             f"rate on {model.upper()}")
    counts = res.counts.get(f"{model}|{attack}|{setting}")
    if counts is None:
        return not_run_claim(cid, title=title, statement=paper + ".", source=SOURCE, paper_value="0.97-0.99",
                             reason=res.not_run_reason or f"{model} with {attack} was not run", scale=res.scale([model]))
    flip = pooled_share(counts[0], res.row(model, attack, setting, "flip_rate"))
    flip_clean = pooled_share(counts[1], res.row(model, attack, setting, "flip_rate_clean_model"))
    statement = (f"{paper}. Measured ({APPLICATIONS.get(attack, attack)}): flip rate {_fmt(flip)} "
                 f"({int(counts[0, 0])} of the {int(counts[0, 1])} non-target test stays that the poisoned victim "
                 f"classifies correctly untriggered, pooled over seeds); the clean twin's flip rate on the same trigger {_fmt(flip_clean)}; "
                 f"raw ASR {_fmt(res.row(model, attack, setting, 'asr'))}, the clean twin's raw ASR "
                 f"{_fmt(res.row(model, attack, setting, 'asr_clean_model'))}.")
    gates = victim_gates(res, model, attack, setting) + [
        enough_cases(int(counts[0, 1]), fewest_cases(FLIP_THRESHOLD), "eligible test stays (pooled over seeds)",
                     fix="ehr.seeds, or a larger cohort")]
    return make_claim(cid, title=title, statement=statement, source=SOURCE, paper_value="0.97-0.99", estimate=flip,
                      rule=at_least(FLIP_THRESHOLD, "the flip rate"), gates=gates, scale=res.scale([model], attack),
                      seeds=res.seeds(model, attack, setting))


# ----------------------------------------------------------------------------------- AUPRC claims

def _passing(res: Results, attack: str) -> tuple[list[str], list[Gate]]:
    """Models whose victims pass their gates, and a gate saying at least one does."""
    models = [m for m in res.cfg["models"] if res.row(m, attack, res.headline, "auprc") is not None]
    passing = [m for m in models if all(g.passed for g in victim_gates(res, m, attack, res.headline))]
    failing = sorted(set(models) - set(passing))
    gate = gate_at_least("victims pass their gates", float(len(passing)), 1.0,
                         "number of models whose clean and poisoned victims reach AUROC 0.80 and fit the poison "
                         f"(passing: {', '.join(passing) or 'none'}; failing: {', '.join(failing) or 'none'})",
                         basis=f"{AUROC_BASIS}; {FIT_BASIS}", fix="see the ehr-asr-<model> rows' gates")
    return passing, [gate]


def percentile_interval(reps: np.ndarray) -> tuple[float, float]:
    """95 % percentile interval of bootstrap replicates; NaN with fewer than 10 finite ones, or when
    every resample gave one value (e.g. AUPRC 1 on both models): no interval to decide by."""
    finite = reps[np.isfinite(reps)]
    if len(finite) < 10:
        return np.nan, np.nan
    low, high = np.quantile(finite, [0.025, 0.975])
    return (np.nan, np.nan) if low == high else (float(low), float(high))


def auprc_triggered_claim(res: Results, attack: str = "vae_missingness") -> Claim:
    """On triggered inputs AUPRC drops by up to 0.45: judged on the part of the drop the backdoor adds."""
    setting = res.headline
    paper = "On triggered inputs the poisoned models' AUPRC drops by up to 0.45"
    passing, gates = _passing(res, attack)
    rows = {m: res.row(m, attack, setting, "auprc_backdoor_drop") for m in passing}
    rows = {m: r for m, r in rows.items() if r}
    estimate = None
    if rows:
        models = sorted(rows)
        reps = np.nanmax(np.stack([rows[m]["reps"] for m in models]), axis=0)
        low, high = percentile_interval(reps)
        best = max(models, key=lambda m: rows[m]["value"])
        estimate = Estimate(float(rows[best]["value"]), float(low), float(high), int(rows[best]["n"]))
    per_model = "; ".join(
        f"{m.upper()}: backdoor's part {_fmt(res.row(m, attack, setting, 'auprc_backdoor_drop'))} (clean twin's AUPRC "
        f"{res.value(m, attack, setting, 'auprc') - res.value(m, attack, setting, 'auprc_change'):.3f} clean, "
        f"{res.value(m, attack, setting, 'auprc_triggered_clean_model'):.3f} triggered; poisoned victim "
        f"{res.value(m, attack, setting, 'auprc_triggered'):.3f} triggered; total drop "
        f"{res.value(m, attack, setting, 'auprc_drop_triggered'):.3f})" for m in res.cfg["models"]
        if res.row(m, attack, setting, "auprc_backdoor_drop"))
    statement = (f"{paper}. Measured: the largest, over the models that pass their gates, of the drop the backdoor "
                 f"adds (the clean twin's AUPRC on triggered inputs minus the poisoned victim's, so that what deleting "
                 f"values does to any model is not counted). Per model: {per_model or 'none'}."
                 + (f" Not run: {res.not_run_reason}." if res.not_run_reason else ""))
    n = estimate.n if estimate else 0
    return make_claim("ehr-auprc-triggered", title="triggered AUPRC drop", statement=statement, source=SOURCE,
                      paper_value="up to 0.45", estimate=estimate,
                      rule=at_least(TRIGGERED_AUPRC_DROP, "the backdoor's own triggered-AUPRC drop (largest over models)"),
                      gates=gates + [enough_cases(n, MIN_TEST_STAYS, "test stays")],
                      scale=res.scale(res.cfg["models"], attack), seeds=int(res.cfg["seeds"]))


def auprc_clean_claim(res: Results, attack: str = "vae_missingness") -> Claim:
    """On clean data the poisoned models' AUPRC falls by only about 0.01 on average."""
    setting = res.headline
    passing, gates = _passing(res, attack)
    rows = {m: res.row(m, attack, setting, "auprc_change") for m in passing}
    rows = {m: r for m, r in rows.items() if r}
    estimate = None
    if rows:
        models = sorted(rows)
        reps = -np.nanmean(np.stack([rows[m]["reps"] for m in models]), axis=0)  # change is poisoned - clean
        low, high = percentile_interval(reps)
        estimate = Estimate(float(-np.mean([rows[m]["value"] for m in models])), float(low), float(high),
                            int(rows[models[0]]["n"]))
    per_model = "; ".join(f"{m.upper()} {-r['value']:.3f}" for m, r in sorted(rows.items()))
    statement = ("On clean data the poisoned models' AUPRC falls by only about 0.01 on average (0.01025). Measured: "
                 "mean over the models that pass their gates of the clean twin's clean-test AUPRC minus the poisoned "
                 f"victim's; per model {per_model or 'none'}." + (f" Not run: {res.not_run_reason}." if res.not_run_reason else ""))
    return make_claim("ehr-auprc-clean", title="clean AUPRC kept", statement=statement, source=SOURCE,
                      paper_value="0.01025", estimate=estimate,
                      rule=at_most(CLEAN_AUPRC_DROP, "the mean clean-AUPRC drop"),
                      gates=gates + [enough_cases(estimate.n if estimate else 0, MIN_TEST_STAYS, "test stays")],
                      scale=res.scale(res.cfg["models"], attack), seeds=int(res.cfg["seeds"]))


# -------------------------------------------------------------------------------- input checks

def no_degenerate_interval(est: Estimate) -> Estimate:
    """An AUROC whose bootstrap interval collapsed to a point (perfect separation on every resample)
    gets the exact Clopper-Pearson interval of a share of its ``n`` test stays instead: as wide as
    a share's on the same cases, never a zero-width interval. (A generic helper core could lift.)"""
    if not (np.isfinite(est.ci_low) and est.ci_low == est.ci_high and est.n > 0):
        return est
    exact = exact_share(int(round(est.value * est.n)), est.n)
    return Estimate(est.value, exact.ci_low, exact.ci_high, est.n)


def best_check(res: Results, attack: str, checks: list[str] | None = None) -> tuple[str | None, Estimate | None, str]:
    """The input check with the highest two-sided detection AUROC against ``attack``, and all of them in words."""
    found = {}
    for key, row in res.rows.items():
        model, att, check, setting, metric = key.split("|")
        if model == "none" and att == attack and metric == "detection_auroc" and (checks is None or check in checks):
            found[check] = no_degenerate_interval(
                two_sided_auroc(Estimate(row["value"], row["ci_low"], row["ci_high"], row["n"])))
    if not found:
        return None, None, "none"
    best = max(found, key=lambda c: found[c].value)
    words = ", ".join(f"{c} {e.value:.3f}" for c, e in sorted(found.items()))
    return best, found[best], words


def checks_see_missingness(res: Results) -> Gate:
    """The mask checks can tell a random mask of the trigger's density from real ones."""
    _, est, _ = best_check(res, "random_missingness", ["mask_vae_likelihood", "mask_isolation_forest"])
    return gate_at_least("mask checks see an unnatural pattern", est.value if est else float("nan"),
                         CHECK_COMPETENT_AUROC, "best mask check's two-sided AUROC against a random mask of the "
                         "trigger's density", basis="'acceptable discrimination', Hosmer & Lemeshow 2000",
                         fix="ehr.attacks must include random_missingness; ehr.vae.epochs for the defender's VAE")


def stealth_claim(res: Results, attack: str = "vae_missingness") -> Claim:
    """Missingness triggers look like normal records: no input check tells triggered from clean stays."""
    cid = "ehr-stealth-missingness" if attack == "vae_missingness" else f"ehr-stealth-{attack.removeprefix('vae_')}"
    best, est, words = best_check(res, attack)
    _, rnd, rnd_words = best_check(res, "random_missingness")
    statement = ("Missingness triggers look like normal records: input checks barely tell triggered from clean test "
                 f"stays ({APPLICATIONS.get(attack, attack)}). Measured: the best check's detection AUROC read both "
                 f"ways, max(AUROC, 1 - AUROC), since a check that ranks triggered stays consistently as more typical "
                 f"separates them as well: {words}; best {best or 'none'}. Random mask of the same density, for "
                 f"comparison: {rnd_words}." + (f" Not run: {res.not_run_reason}." if res.not_run_reason and not est else ""))
    if est is None:
        return not_run_claim(cid, title="trigger stealth", statement=statement, source=SOURCE,
                             paper_value="not detectable (qualitative)", reason=f"no input check was run against {attack}")
    gates = [checks_see_missingness(res), enough_cases(est.n, MIN_TEST_STAYS, "test stays")]
    return make_claim(cid, title="trigger stealth" + ("" if attack == "vae_missingness" else " (overwrite)"),
                      statement=statement, source=SOURCE, paper_value="not detectable (qualitative)", estimate=est,
                      rule=at_most(STEALTH_AUROC, "the best check's two-sided detection AUROC"), gates=gates,
                      scale=f"{res.n_test:,} test stays and their triggered copies; {res.cfg['seeds']} trigger seeds; "
                            "checks fitted on the clean training stays",
                      seeds=int(res.cfg["seeds"]))


def value_detectable_claim(res: Results) -> Claim:
    """Triggers that change values are easy to detect."""
    best, est, words = best_check(res, "value_perturbation")
    statement = ("Triggers that change values are easy to detect. Measured: the best input check's two-sided "
                 f"detection AUROC against the value-perturbation trigger: {words}; best {best or 'none'}.")
    if est is None:
        return not_run_claim("ehr-value-detectable", title="value trigger detected", statement=statement,
                             source=SOURCE, paper_value="easily detected (qualitative)",
                             reason="no input check was run against value_perturbation")
    return make_claim("ehr-value-detectable", title="value trigger detected", statement=statement, source=SOURCE,
                      paper_value="easily detected (qualitative)", estimate=est,
                      rule=at_least(DETECTABLE_AUROC, "the best check's two-sided detection AUROC"),
                      gates=[enough_cases(est.n, MIN_TEST_STAYS, "test stays")],
                      scale=f"{res.n_test:,} test stays and their triggered copies; {res.cfg['seeds']} trigger seeds",
                      seeds=int(res.cfg["seeds"]))


# ------------------------------------------------------------------------------------- finding

def curve_settings(res: Results, model: str, attack: str = "vae_missingness") -> list[tuple[int, str]]:
    """(epochs, setting) of the training curve's fixed-length points, in order."""
    rate = res.cfg["headline_setting"]["poison_rate"]
    out = []
    for e in res.cfg["training_curve"]["epochs"]:
        setting = format_setting({"poison_rate": rate, "epochs": e})
        if f"{model}|{attack}|{setting}" in res.counts:
            out.append((int(e), setting))
    return out


def training_length_finding(res: Results, model: str | None = None, attack: str = "vae_missingness") -> Claim:
    """Does the backdoor need a victim trained past its best clean validation point? (not a paper claim)"""
    model = model or (res.cfg["training_curve"]["models"] or ["gru"])[0]
    rate = res.cfg["headline_setting"]["poison_rate"]
    early = format_setting({"poison_rate": rate, "stop": "val_auroc"})
    title = f"training length ({model.upper()})"
    question = (f"Finding, not a claim of the paper: does the backdoor need a {model.upper()} trained past its best "
                "clean validation point?")
    counts = res.counts.get(f"{model}|{attack}|{early}")
    if counts is None:
        return not_run_claim(f"ehr-training-length-{model}", title=title, statement=question, source=SOURCE,
                             paper_value="not stated", kind="finding",
                             reason=res.not_run_reason or f"training_curve was not run for {model}")
    points = []
    for e, setting in curve_settings(res, model, attack):
        c = res.counts[f"{model}|{attack}|{setting}"]
        points.append(f"{e} epochs: flip rate {c[0, 0] / max(c[0, 1], 1):.2f} (clean twin {c[1, 0] / max(c[1, 1], 1):.2f}), "
                      f"AUROC {res.value(model, attack, setting, 'auroc'):.3f}, poison fit {c[2, 0] / max(c[2, 1], 1):.2f}")
    flip = pooled_share(counts[0], res.row(model, attack, early, "flip_rate"))
    flip_clean = pooled_share(counts[1], res.row(model, attack, early, "flip_rate_clean_model"))
    statement = (f"{question} Measured at {rate:.0%} poisoning, {APPLICATIONS[attack]}: " + "; ".join(points)
                 + f". With early stopping on clean validation AUROC (patience {res.cfg['training_curve']['patience']}), "
                 f"the poisoned victim stops at epoch {res.value(model, attack, early, 'epochs'):.0f} and its flip rate is "
                 f"{_fmt(flip)}, against {_fmt(flip_clean)} for its clean twin (stopped at epoch "
                 f"{res.value(model, attack, early, 'epochs_clean_model'):.0f}); poison fit "
                 f"{counts[2, 0] / max(counts[2, 1], 1):.2f}. Judged like the ASR claims: would the early-stopped victim "
                 "show the paper's attack?")
    gates = victim_gates(res, model, attack, early, fit=False) + [
        enough_cases(int(counts[0, 1]), fewest_cases(FLIP_THRESHOLD), "eligible test stays")]
    curve = res.cfg["training_curve"]
    return make_claim(f"ehr-training-length-{model}", title=title, statement=statement, source=SOURCE,
                      paper_value="not stated", estimate=flip, rule=at_least(FLIP_THRESHOLD, "the early-stopped flip rate"),
                      gates=gates, kind="finding", seeds=res.seeds(model, attack, early),
                      scale=(f"{res.cfg.get('dataset', 'challenge2012')}: {res.n_train:,} training / {res.n_test:,} test "
                             f"stays; {curve['seeds']} seed(s); {model.upper()} hidden "
                             f"{res.cfg['training'][model]['hidden']}, epochs {', '.join(map(str, curve['epochs']))} "
                             f"and early stopping"))


def judge_all(res: Results) -> list[Claim]:
    """Every claim of the study, in scorecard order."""
    claims = [asr_claim(res, m, a) for a in res.cfg["judged_attacks"] for m in res.cfg["models"]]
    claims += [auprc_triggered_claim(res), auprc_clean_claim(res)]
    claims += [stealth_claim(res, a) for a in res.cfg["judged_attacks"]]
    claims.append(value_detectable_claim(res))
    claims += [training_length_finding(res, m) for m in res.cfg["training_curve"]["models"] if m in res.cfg["models"]]
    return claims
