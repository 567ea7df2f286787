"""Pool the per-seed job results into ``metrics.csv`` and judge the paper's claims in ``claims.csv``.

The ASR under each input check is computed here (:func:`input_check_asr`) from the jobs' stored
predictions and the checks' flags. Each metric's value is the mean over seeds; its CI is the two-level bootstrap of
:func:`medrobust.ehr.evaluation.seed_bootstrap`; ``n`` is the number of test stays it was computed
on (per seed) and ``seeds`` how many seeds contributed.

Claims and their verdict rules (stated in each row's ``rule``; thresholds fixed before any run):

* ``ehr-asr-<model>`` (one per model): ASR of ``vae_missingness`` at the headline rate.
  :func:`medrobust.core.claims.at_least` with threshold 0.97 (the paper's lower bound) and
  partly-threshold 0.80. The statement gives the clean-model ASR of the same trigger and the
  difference, which is the part the backdoor adds.
* ``ehr-auprc-triggered``: the largest drop over models of AUPRC on triggered inputs (clean
  victim's clean AUPRC minus poisoned victim's triggered AUPRC) against "up to 0.45":
  :func:`within` 0.10 of 0.45 (partly within 0.20).
* ``ehr-auprc-clean``: mean over models of the clean-AUPRC drop (clean minus poisoned victim)
  against "about 0.01": :func:`medrobust.core.claims.at_most` 0.02, partly 0.05.
* ``ehr-stealth-missingness``: the best (highest) detection AUROC of any input check against the
  ``vae_missingness`` trigger; the claim "looks like normal records" is judged with ``at_most``
  0.60 (near chance), partly 0.75.
* ``ehr-value-detectable``: the best detection AUROC against ``value_perturbation``;
  ``at_least`` 0.90, partly 0.75.

A claim whose inputs are missing (a model not run, a cohort too small) is ``not_run``, with the
reason in its statement.
"""
from __future__ import annotations

import logging
import math
import warnings

import numpy as np

from medrobust.core.legacy_claims import at_least, at_most
from medrobust.core.records import Claim, Metric, format_setting
from medrobust.core.seeding import make_rng
from medrobust.ehr.evaluation import MetricSink, job_weights, predicted_target, seed_bootstrap, weighted_share

log = logging.getLogger(__name__)
SOURCE = "Joe et al., JMIR Med Inform 2022;10(8):e38440, https://doi.org/10.2196/38440"


def within(measured: float, ci_low: float, ci_high: float, target: float, tol: float,
           partly_tol: float) -> tuple[str, str]:
    """'reproduced' if |measured - target| <= tol; 'partly' if the CI comes within partly_tol."""
    rule = (f"reproduced if |measured - {target:g}| <= {tol:g}; partly if the CI reaches within "
            f"{partly_tol:g} of {target:g}; else not_reproduced")
    if measured is None or not math.isfinite(measured):
        return "not_run", rule
    if abs(measured - target) <= tol:
        return "reproduced", rule
    lo = measured if not math.isfinite(ci_low) else min(measured, ci_low)
    hi = measured if not math.isfinite(ci_high) else max(measured, ci_high)
    near = lo - partly_tol <= target <= hi + partly_tol
    return ("partly" if near else "not_reproduced"), rule


class Pooled:
    """Per-key pooled estimates with their combined bootstrap replicates."""

    def __init__(self, results: list[dict[str, np.ndarray]], seed: int):
        per_key: dict[str, dict] = {}
        for res in results:
            for key, value, reps, n in zip(res["keys"], res["values"], res["replicates"], res["n"]):
                slot = per_key.setdefault(str(key), {"values": [], "reps": [], "n": []})
                slot["values"].append(float(value))
                slot["reps"].append(reps)
                slot["n"].append(int(n))
        self.rows: dict[str, dict] = {}
        for key in sorted(per_key):
            slot = per_key[key]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                low, high, combined = seed_bootstrap(np.stack(slot["reps"]), make_rng(seed, "ehr", "pool", key))
            self.rows[key] = {"value": float(np.mean(slot["values"])), "ci_low": low, "ci_high": high,
                              "n": int(np.median(slot["n"])), "seeds": len(slot["values"]), "reps": combined}

    def get(self, model: str, attack: str, defense: str, setting: str, metric: str) -> dict | None:
        return self.rows.get("|".join([model, attack, defense, setting, metric]))

    def metrics(self, dataset: str) -> list[Metric]:
        out = []
        for key, row in self.rows.items():
            model, attack, defense, setting, metric = key.split("|")
            out.append(Metric("ehr", dataset, model, attack, defense, metric, row["value"], row["ci_low"],
                              row["ci_high"], n=row["n"], seeds=row["seeds"], setting=setting))
        return out


def _ci(reps: np.ndarray) -> tuple[float, float]:
    finite = reps[np.isfinite(reps)]
    if len(finite) < 10:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [0.025, 0.975])
    return float(low), float(high)


def _fmt(row: dict | None) -> str:
    if row is None:
        return "n/a"
    return f"{row['value']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def judge_claims(pooled: Pooled, cfg: dict, not_run_reason: str | None) -> list[Claim]:
    rate = cfg["headline_setting"]["poison_rate"]
    setting = format_setting({"poison_rate": rate})
    why = f" Not run: {not_run_reason}." if not_run_reason else ""
    claims = []
    for model in cfg["models"]:
        asr = pooled.get(model, "vae_missingness", "none", setting, "asr")
        base = pooled.get(model, "vae_missingness", "none", setting, "asr_clean_model")
        diff = pooled.get(model, "vae_missingness", "none", setting, "asr_difference")
        measured = asr["value"] if asr else float("nan")
        verdict, rule = at_least(measured, asr["ci_high"] if asr else float("nan"), 0.97, 0.80)
        statement = (f"With a {rate:.0%} poisoning rate the VAE missingness trigger reaches a 97-99% attack "
                     f"success rate on {model.upper()}. Measured (trigger deletes the values it marks missing): "
                     f"poisoned {_fmt(asr)}; the same trigger on the clean {model.upper()} {_fmt(base)}; "
                     f"backdoor's own effect (difference) {_fmt(diff)}.{why if asr is None else ''}")
        over = pooled.get(model, "vae_overwrite", "none", setting, "asr")
        if over:
            over_base = pooled.get(model, "vae_overwrite", "none", setting, "asr_clean_model")
            statement += (f" Sensitivity, not judged: with the record's mask overwritten by the trigger "
                          f"(vae_overwrite) poisoned {_fmt(over)}, clean model {_fmt(over_base)}.")
        claims.append(Claim(f"ehr-asr-{model}", statement, SOURCE, "0.97-0.99", measured, verdict, rule,
                            asr["ci_low"] if asr else float("nan"), asr["ci_high"] if asr else float("nan")))
    claims.append(_auprc_triggered(pooled, cfg, setting, why))
    claims.append(_auprc_clean(pooled, cfg, setting, why))
    claims.extend(_stealth(pooled, cfg, why))
    return claims


def _auprc_triggered(pooled: Pooled, cfg: dict, setting: str, why: str) -> Claim:
    rows = {m: pooled.get(m, "vae_missingness", "none", setting, "auprc_drop_triggered") for m in cfg["models"]}
    rows = {m: r for m, r in rows.items() if r}
    base = {m: pooled.get(m, "vae_missingness", "none", setting, "auprc_triggered_clean_model") for m in rows}
    clean = {m: pooled.get(m, "none", "none", "", "auprc") for m in rows}
    if rows:
        models = sorted(rows)
        stacked = np.stack([rows[m]["reps"] for m in models])
        measured = float(max(rows[m]["value"] for m in models))
        low, high = _ci(np.nanmax(stacked, axis=0))
        per_model = "; ".join(
            f"{m.upper()} {rows[m]['value']:.3f} (clean AUPRC {clean[m]['value']:.3f}; the clean model on triggered "
            f"inputs {base[m]['value']:.3f})" for m in models if clean[m] and base[m])
    else:
        measured, low, high, per_model = float("nan"), float("nan"), float("nan"), "none"
    verdict, rule = within(measured, low, high, 0.45, 0.10, 0.20)
    statement = ("On triggered inputs, AUPRC drops by up to 0.45 (largest drop over models of the clean "
                 f"victim's clean AUPRC minus the poisoned victim's AUPRC on triggered inputs). Per model: {per_model}."
                 + (why if not rows else ""))
    return Claim("ehr-auprc-triggered", statement, SOURCE, "up to 0.45", measured, verdict, rule, low, high)


def _auprc_clean(pooled: Pooled, cfg: dict, setting: str, why: str) -> Claim:
    rows = {m: pooled.get(m, "vae_missingness", "none", setting, "auprc_change") for m in cfg["models"]}
    rows = {m: r for m, r in rows.items() if r}
    if rows:
        # the change is poisoned - clean; the claim speaks of a drop, clean - poisoned
        stacked = -np.stack([rows[m]["reps"] for m in sorted(rows)])
        measured = float(-np.mean([rows[m]["value"] for m in rows]))
        low, high = _ci(np.nanmean(stacked, axis=0))
        per_model = "; ".join(f"{m.upper()} {-r['value']:.3f}" for m, r in sorted(rows.items()))
    else:
        measured, low, high, per_model = float("nan"), float("nan"), float("nan"), "none"
    verdict, rule = at_most(measured, low, 0.02, 0.05)
    statement = ("On clean data the poisoned models' AUPRC falls by only about 0.01 on average (0.01025). "
                 f"Measured mean drop over models (clean minus poisoned victim): per model {per_model}."
                 + (why if not rows else ""))
    return Claim("ehr-auprc-clean", statement, SOURCE, "0.01025", measured, verdict, rule, low, high)


def _best_detection(pooled: Pooled, attack: str, checks: list[str]) -> tuple[dict | None, str]:
    found = {c: pooled.get("none", attack, c, "", "detection_auroc") for c in checks}
    found = {c: r for c, r in found.items() if r}
    if not found:
        return None, "none"
    best = max(found, key=lambda c: found[c]["value"])
    return found[best], ", ".join(f"{c} {r['value']:.3f}" for c, r in sorted(found.items()))


def _stealth(pooled: Pooled, cfg: dict, why: str) -> list[Claim]:
    checks = sorted({key.split("|")[2] for key in pooled.rows if key.endswith("|detection_auroc")})
    vae, vae_all = _best_detection(pooled, "vae_missingness", checks)
    rnd, rnd_all = _best_detection(pooled, "random_missingness", checks)
    val, val_all = _best_detection(pooled, "value_perturbation", checks)
    over, over_all = _best_detection(pooled, "vae_overwrite", checks)
    m = vae["value"] if vae else float("nan")
    verdict, rule = at_most(m, vae["ci_low"] if vae else float("nan"), 0.60, 0.75)
    stealth = Claim("ehr-stealth-missingness",
                    "Missingness triggers look like normal records: input checks barely tell triggered from clean "
                    f"test stays (best detection AUROC over checks). VAE trigger: {vae_all}; random missingness "
                    f"trigger for comparison: {rnd_all}. An AUROC below 0.5 means triggered stays look *more* "
                    f"typical to that check than clean ones (deletion makes a mask sparser, and sparse masks are "
                    f"common); a check that flagged unusually sparse records instead would score 1 - AUROC."
                    + (f" Sensitivity, not judged: the VAE trigger overwriting the mask (vae_overwrite): {over_all}."
                       if over else "") + (why if not vae else ""),
                    SOURCE, "not detectable (qualitative)", m, verdict, rule,
                    vae["ci_low"] if vae else float("nan"), vae["ci_high"] if vae else float("nan"))
    v = val["value"] if val else float("nan")
    verdict, rule = at_least(v, val["ci_high"] if val else float("nan"), 0.90, 0.75)
    value = Claim("ehr-value-detectable",
                  "Triggers that change values are easy to detect (best detection AUROC over input checks "
                  f"against the value-perturbation trigger): {val_all}." + (why if not val else ""),
                  SOURCE, "easily detected (qualitative)", v, verdict, rule,
                  val["ci_low"] if val else float("nan"), val["ci_high"] if val else float("nan"))
    return [stealth, value]


def input_check_asr(result: dict[str, np.ndarray], flags: dict[str, np.ndarray], checks: list[str],
                    base_seed: int) -> dict[str, np.ndarray]:
    """ASR of a job's poisoned victim when each input check rejects the triggered stays it flags.

    The job stored P(death) on the triggered test stays (``p_triggered|<attack>|<setting>``); the
    flags come from ``ehr_input_checks`` for the same seed's triggers; the bootstrap resamples are
    rebuilt with :func:`~medrobust.ehr.evaluation.job_weights`, so the rows pair with the job's own.
    """
    model, s = str(result["model"]), int(result["seed_index"])
    source, target = result["source"].astype(bool), int(result["target"])
    weights = job_weights(base_seed, model, s, len(source), result["replicates"].shape[1])
    sink = MetricSink(weights.shape[0] - 1)
    for key in result:
        if not key.startswith("p_triggered|"):
            continue
        _, attack, setting = key.split("|")
        hit = predicted_target(result[key], target)
        for check in checks:
            flag_key = f"{attack}|{check}|{s}"
            if flag_key in flags:
                sink.add((model, attack, check, setting, "asr"),
                         weighted_share(hit & ~flags[flag_key].astype(bool), source, weights), int(source.sum()))
    return sink.arrays()


def collect(job_results: list[dict[str, np.ndarray]], check_results: dict[str, np.ndarray],
            flags: dict[str, np.ndarray], cfg: dict, dataset: str, seed: int) -> tuple[list[Metric], list[Claim]]:
    """Metrics rows and judged claims from every job's arrays and the input checks' arrays and flags."""
    reasons = sorted({str(r["not_run_reason"]) for r in job_results if "not_run_reason" in r})
    for reason in reasons:
        log.warning("ehr: jobs not run: %s", reason)
    checks = sorted({k.split("|")[1] for k in flags if not k.startswith("roc|")})
    gated = [input_check_asr(r, flags, checks, seed) for r in job_results if "not_run_reason" not in r]
    pooled = Pooled([*job_results, *gated, check_results], seed)
    return pooled.metrics(dataset), judge_claims(pooled, cfg, "; ".join(reasons) or None)
