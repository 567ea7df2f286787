"""The common result schema every study writes and the report reads.

``metrics.csv``: one row per measured number (tidy, long format).
``claims.csv``: one row per published claim, with the verdict computed by a stated rule.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from medrobust.core.io import write_csv

METRIC_COLUMNS = ["study", "dataset", "model", "attack", "defense", "setting", "metric",
                  "value", "ci_low", "ci_high", "n", "seeds"]
CLAIM_COLUMNS = ["claim_id", "kind", "title", "statement", "source", "paper_value", "measured", "ci_low",
                 "ci_high", "threshold", "n", "seeds", "verdict", "rule", "why", "gate", "gate_value", "gate_passed",
                 "scale"]
VERDICTS = ("reproduced", "partly", "inconclusive", "not_reproduced", "not_run")
# claim: a published claim on the scorecard; sanity: a check that cannot fail by construction
# (shown to confirm the pipeline); finding: a measured dependence the paper does not state.
CLAIM_KINDS = ("claim", "sanity", "finding")


@dataclass
class Metric:
    study: str
    dataset: str
    model: str
    attack: str
    defense: str
    metric: str
    value: float
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    n: int = 0
    seeds: int = 1
    setting: str = ""


@dataclass
class Claim:
    claim_id: str
    statement: str
    source: str
    paper_value: str
    measured: float
    verdict: str
    rule: str
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    kind: str = "claim"
    title: str = ""
    threshold: float = float("nan")  # the rule's threshold (or target), for the report's forest plot
    n: int = 0
    seeds: int = 0
    why: str = ""
    gate: str = ""
    gate_value: str = ""
    gate_passed: bool = False
    scale: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.claim_id}: verdict {self.verdict!r} is not one of {VERDICTS}")
        if self.kind not in CLAIM_KINDS:
            raise ValueError(f"claim {self.claim_id}: kind {self.kind!r} is not one of {CLAIM_KINDS}")
        if self.gate and not self.gate_passed and self.verdict not in ("inconclusive", "not_run"):
            raise ValueError(f"claim {self.claim_id}: a failed gate gives 'inconclusive', not {self.verdict!r}")
        lo, hi = self.ci_low, self.ci_high
        if lo == lo and hi == hi and lo == hi and self.n > 0:  # both finite and equal
            raise ValueError(f"claim {self.claim_id}: a zero-width interval [{lo}, {hi}] on {self.n} cases is "
                             f"not an interval; use an exact binomial interval (core.metrics.exact_share)")


def format_setting(params: Mapping[str, object] | None) -> str:
    """``{"poison_rate": 0.02, "eps": 10}`` -> ``"eps=10;poison_rate=0.02"`` (keys sorted)."""
    if not params:
        return ""
    return ";".join(f"{k}={params[k]}" for k in sorted(params))


def parse_setting(text: str) -> dict[str, str]:
    if not isinstance(text, str) or not text:
        return {}
    return dict(part.split("=", 1) for part in text.split(";"))


def metrics_frame(rows: Iterable[Metric | Mapping]) -> pd.DataFrame:
    frame = pd.DataFrame([asdict(r) if isinstance(r, Metric) else dict(r) for r in rows])
    return validate_metrics(frame.reindex(columns=METRIC_COLUMNS) if len(frame) else
                            pd.DataFrame(columns=METRIC_COLUMNS))


def claims_frame(rows: Iterable[Claim | Mapping]) -> pd.DataFrame:
    frame = pd.DataFrame([asdict(r) if isinstance(r, Claim) else dict(r) for r in rows])
    return validate_claims(frame.reindex(columns=CLAIM_COLUMNS) if len(frame) else
                           pd.DataFrame(columns=CLAIM_COLUMNS))


def validate_metrics(frame: pd.DataFrame, source: str = "metrics") -> pd.DataFrame:
    _require_columns(frame, METRIC_COLUMNS, source)
    for col in ("study", "dataset", "model", "attack", "defense", "metric"):
        bad = frame[col].astype(str).str.contains(r"[A-Z\s]", regex=True)
        if bad.any():
            raise ValueError(f"{source}: column {col!r} must hold lowercase ids without spaces, "
                             f"got {frame.loc[bad, col].iloc[0]!r}")
    if frame["value"].isna().any():
        row = frame[frame["value"].isna()].iloc[0]
        raise ValueError(f"{source}: metric {row['metric']!r} ({row['model']}/{row['attack']}/"
                         f"{row['defense']}) has no value")
    frame["setting"] = frame["setting"].fillna("")
    return frame


def validate_claims(frame: pd.DataFrame, source: str = "claims") -> pd.DataFrame:
    _require_columns(frame, CLAIM_COLUMNS, source)
    bad = ~frame["verdict"].isin(VERDICTS)
    if bad.any():
        raise ValueError(f"{source}: verdict {frame.loc[bad, 'verdict'].iloc[0]!r} is not one of {VERDICTS}")
    bad = ~frame["kind"].isin(CLAIM_KINDS)
    if bad.any():
        raise ValueError(f"{source}: kind {frame.loc[bad, 'kind'].iloc[0]!r} is not one of {CLAIM_KINDS}")
    for col in ("title", "why", "gate", "gate_value", "scale", "statement", "rule", "source", "paper_value"):
        frame[col] = frame[col].fillna("").astype(str)
    frame["gate_passed"] = frame["gate_passed"].map(_as_bool)
    return frame


def _as_bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value) if value == value else False


def write_metrics(path: str | os.PathLike, rows: Iterable[Metric | Mapping]) -> pd.DataFrame:
    frame = metrics_frame(rows)
    write_csv(path, _sorted(frame, ["study", "dataset", "model", "attack", "defense", "setting", "metric"]))
    return frame


def write_claims(path: str | os.PathLike, rows: Iterable[Claim | Mapping]) -> pd.DataFrame:
    frame = claims_frame(rows)
    write_csv(path, _sorted(frame, ["claim_id"]))
    return frame


def read_metrics(path: str | os.PathLike) -> pd.DataFrame:
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    return validate_metrics(frame, source=str(path))


def read_claims(path: str | os.PathLike) -> pd.DataFrame:
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    return validate_claims(frame, source=str(path))


def _require_columns(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{source}: missing columns {missing}; expected {columns}")


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    # A stable row order makes metrics files byte-identical between identical runs.
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True) if len(frame) else frame
