"""Pool the per-seed job results into ``metrics.csv`` and hand them to :mod:`medrobust.ehr.claims`.

The ASR under each input check is computed here (:func:`input_check_asr`) from the jobs' stored
predictions and the checks' flags. Each metric's value is the mean over seeds; its CI is the
two-level bootstrap of :func:`medrobust.ehr.evaluation.seed_bootstrap`; ``n`` is the number of
cases it was computed on (per seed) and ``seeds`` how many seeds contributed. The exact counts
behind each share (``counts|...`` of the jobs) are summed over seeds for the claims' exact
intervals. The claims themselves, with their gates and rules, are in :mod:`medrobust.ehr.claims`;
this module only pools.
"""
from __future__ import annotations

import logging
import warnings

import numpy as np

from medrobust.core.records import Claim, Metric
from medrobust.core.seeding import make_rng
from medrobust.ehr.claims import Results, judge_all
from medrobust.ehr.evaluation import MetricSink, job_weights, predicted_target, seed_bootstrap, weighted_share

log = logging.getLogger(__name__)


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

    def epochs(self, results: list[dict[str, np.ndarray]]) -> dict[str, list[int]]:
        """Epochs each poisoned victim trained, per ``model|attack|setting``, in seed order."""
        out: dict[str, list[int]] = {}
        for res in sorted(results, key=lambda r: int(r["seed_index"]) if "seed_index" in r else 0):
            for key, value in zip(res["keys"], res["values"]):
                model, attack, defense, setting, metric = str(key).split("|")
                if metric == "epochs" and defense == "none":
                    out.setdefault(f"{model}|{attack}|{setting}", []).append(int(value))
        return out

    def metrics(self, dataset: str) -> list[Metric]:
        out = []
        for key, row in self.rows.items():
            model, attack, defense, setting, metric = key.split("|")
            out.append(Metric("ehr", dataset, model, attack, defense, metric, row["value"], row["ci_low"],
                              row["ci_high"], n=row["n"], seeds=row["seeds"], setting=setting))
        return out


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


def summed_counts(results: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``model|attack|setting`` -> the jobs' (3, 2) counts (flipped/eligible of the poisoned victim and of
    its clean twin, fitted/poisoned training stays) summed over seeds."""
    out: dict[str, np.ndarray] = {}
    for res in results:
        for key in res:
            if key.startswith("counts|"):
                _, attack, setting = key.split("|")
                slot = f"{res['model']}|{attack}|{setting}"
                out[slot] = out.get(slot, 0) + np.asarray(res[key], dtype=np.int64)
    return out


def pool(job_results: list[dict[str, np.ndarray]], check_results: dict[str, np.ndarray],
         flags: dict[str, np.ndarray], cfg: dict, dataset: str, seed: int) -> tuple[list[Metric], Results]:
    """metrics.csv rows and the pooled :class:`~medrobust.ehr.claims.Results` the claims read."""
    reasons = sorted({str(r["not_run_reason"]) for r in job_results if "not_run_reason" in r})
    for reason in reasons:
        log.warning("ehr: jobs not run: %s", reason)
    checks = sorted({k.split("|")[1] for k in flags if not k.startswith("roc|")})
    ran = [r for r in job_results if "not_run_reason" not in r]
    gated = [input_check_asr(r, flags, checks, seed) for r in ran]
    pooled = Pooled([*job_results, *gated, check_results], seed)
    sizes = job_results[0] if job_results else {}
    results = Results(pooled.rows, summed_counts(ran), {**cfg, "dataset": dataset},
                      n_train=int(sizes.get("n_train", 0)), n_test=int(sizes.get("n_test", 0)),
                      not_run_reason="; ".join(reasons) or None, epochs=pooled.epochs(ran))
    return pooled.metrics(dataset), results


def collect(job_results: list[dict[str, np.ndarray]], check_results: dict[str, np.ndarray],
            flags: dict[str, np.ndarray], cfg: dict, dataset: str, seed: int) -> tuple[list[Metric], list[Claim]]:
    """Metrics rows and judged claims from every job's arrays and the input checks' arrays and flags."""
    metrics, results = pool(job_results, check_results, flags, cfg, dataset, seed)
    return metrics, judge_all(results)
