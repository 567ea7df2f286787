"""How a published claim is judged: its gates, its rule on the 95 % interval, and its record.

Written once here; a study's ``claims.py`` passes numbers in and never re-implements a rule.

* A **gate** is a condition under which this run can test the claim at all: the victim reaches
  its literature's quality, a backdoored model fits its own poison, there are enough cases. Each
  gate is measured in the same run against a threshold fixed in code before any run, with the
  reason for the threshold (``basis``) and the setting that would meet it (``fix``).
* A **rule** compares the claim's 95 % interval with its threshold:

  - ``reproduced``: the whole interval lies on the claim's side of the threshold;
  - ``not_reproduced``: the whole interval lies on the other side;
  - ``inconclusive``: the interval straddles the threshold, there is no interval, or a gate failed.
    A failed gate never gives ``not_reproduced``, whatever the estimate.

  ``partly`` is kept for claims with several parts (:class:`Part`) of which some hold and some do
  not; ``not_run`` for a claim whose numbers were not produced (with the reason).
* A claim that cannot fail by construction is a **sanity** check (``kind="sanity"``), and a
  measured dependence that the paper does not state (training length, say) a **finding**; the
  report lists both apart from the scorecard.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from medrobust.core.metrics import Estimate
from medrobust.core.records import Claim

NAN = float("nan")


def _finite(x: float | None) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


# ---------------------------------------------------------------------------------- rules

@dataclass(frozen=True)
class Rule:
    """A decision on the 95 % interval of ``quantity`` against ``threshold``.

    ``direction``: ``"at_least"`` (the claim holds when the quantity is >= threshold),
    ``"at_most"`` (<= threshold) or ``"within"`` (within ``tolerance`` of ``threshold``).
    """

    direction: str
    threshold: float
    quantity: str = "the measured value"
    tolerance: float = 0.0

    def __post_init__(self) -> None:
        if self.direction not in ("at_least", "at_most", "within"):
            raise ValueError(f"rule direction {self.direction!r} is not at_least, at_most or within")
        if self.direction == "within" and not self.tolerance > 0:
            raise ValueError("a 'within' rule needs a tolerance > 0")

    def decide(self, low: float, high: float) -> str:
        if not (_finite(low) and _finite(high)):
            return "inconclusive"
        t = self.threshold
        if self.direction == "at_least":
            return "reproduced" if low >= t else "not_reproduced" if high < t else "inconclusive"
        if self.direction == "at_most":
            return "reproduced" if high <= t else "not_reproduced" if low > t else "inconclusive"
        a, b = t - self.tolerance, t + self.tolerance
        if a <= low and high <= b:
            return "reproduced"
        return "not_reproduced" if high < a or low > b else "inconclusive"

    def words(self) -> str:
        q, t = self.quantity, f"{self.threshold:g}"
        if self.direction == "at_least":
            side, other = f">= {t}", f"below {t}"
        elif self.direction == "at_most":
            side, other = f"<= {t}", f"above {t}"
        else:
            side = f"within {self.tolerance:g} of {t}"
            other = f"outside [{self.threshold - self.tolerance:g}, {self.threshold + self.tolerance:g}]"
        return (f"reproduced if the whole 95% interval of {q} is {side}; not_reproduced if it is wholly "
                f"{other}; inconclusive if it straddles that line or a gate fails")


def at_least(threshold: float, quantity: str = "the measured value") -> Rule:
    return Rule("at_least", float(threshold), quantity)


def at_most(threshold: float, quantity: str = "the measured value") -> Rule:
    return Rule("at_most", float(threshold), quantity)


def within(target: float, tolerance: float, quantity: str = "the measured value") -> Rule:
    return Rule("within", float(target), quantity, float(tolerance))


# ---------------------------------------------------------------------------------- gates

@dataclass(frozen=True)
class Gate:
    """One condition under which the run can test a claim, measured in the same run.

    ``condition`` states it in words with its threshold ("clean GRU test AUROC >= 0.80");
    ``basis`` says where the threshold comes from; ``fix`` which setting would meet it.
    """

    name: str
    condition: str
    value: float
    passed: bool
    basis: str = ""
    fix: str = ""

    def summary(self) -> str:
        value = f"{self.value:.3g}" if _finite(self.value) else "not measured"
        return f"{self.name}: {value} ({'passed' if self.passed else 'FAILED'})"

    def failure(self) -> str:
        value = f"{self.value:.3g}" if _finite(self.value) else "not measured"
        text = f"gate '{self.name}' failed: {self.condition}, measured {value}"
        return text + (f"; would be met by {self.fix}" if self.fix else "")


def gate_at_least(name: str, value: float, threshold: float, what: str, *, basis: str = "",
                  fix: str = "") -> Gate:
    """Passed when ``value`` (a point measurement of ``what``) is >= ``threshold``."""
    passed = _finite(value) and value >= threshold
    return Gate(name, f"{what} >= {threshold:g}", float(value) if _finite(value) else NAN, bool(passed),
                basis, fix)


def gate_at_most(name: str, value: float, threshold: float, what: str, *, basis: str = "",
                 fix: str = "") -> Gate:
    passed = _finite(value) and value <= threshold
    return Gate(name, f"{what} <= {threshold:g}", float(value) if _finite(value) else NAN, bool(passed),
                basis, fix)


def enough_cases(n: int, minimum: int, what: str = "cases", *, fix: str = "") -> Gate:
    """At least ``minimum`` cases, so that the interval can be narrow enough to decide."""
    return gate_at_least("enough cases", float(n), float(minimum), f"number of {what}",
                         basis="fixed before the run so that an exact 95% interval on a share is at most "
                               "about +-0.1 wide" if minimum >= 100 else "fixed before the run",
                         fix=fix)


# ---------------------------------------------------------------------------------- judging

@dataclass(frozen=True)
class Part:
    """One part of a claim with several parts: its label, estimate and rule."""

    label: str
    estimate: Estimate | None
    rule: Rule


def judge(estimate: Estimate | None, rule: Rule, gates: Sequence[Gate] = ()) -> tuple[str, str]:
    """(verdict, why) for one estimate under ``rule``, given the claim's gates.

    ``why`` is empty for a decided claim; otherwise it says what is missing, which gate failed
    (by how much, and what would meet it) or that the interval straddles the threshold.
    """
    if estimate is None or not _finite(estimate.value):
        return "not_run", "the run produced no estimate"
    failed = [g for g in gates if not g.passed]
    if failed:
        return "inconclusive", "; ".join(g.failure() for g in failed)
    if not (_finite(estimate.ci_low) and _finite(estimate.ci_high)):
        return "inconclusive", "no 95% interval could be computed"
    verdict = rule.decide(estimate.ci_low, estimate.ci_high)
    if verdict == "inconclusive":
        return verdict, (f"the 95% interval [{estimate.ci_low:.3g}, {estimate.ci_high:.3g}] straddles "
                         f"{rule.threshold:g}" if rule.direction != "within" else
                         f"the 95% interval [{estimate.ci_low:.3g}, {estimate.ci_high:.3g}] is partly inside "
                         f"the tolerance")
    return verdict, ""


def combine(verdicts: Sequence[str]) -> str:
    """One verdict for a claim with several parts.

    All parts alike give that verdict; parts that hold beside parts that do not give ``partly``;
    otherwise (some part undecided) ``inconclusive``; ``not_run`` if no part ran.
    """
    ran = [v for v in verdicts if v != "not_run"]
    if not ran:
        return "not_run"
    if len(set(ran)) == 1:
        return ran[0]
    if "reproduced" in ran and ("not_reproduced" in ran or "partly" in ran):
        return "partly"
    if "partly" in ran and "not_reproduced" in ran and "inconclusive" not in ran:
        return "partly"
    return "inconclusive"


def make_claim(claim_id: str, *, title: str, statement: str, source: str, paper_value: str,
               estimate: Estimate | None, rule: Rule, gates: Sequence[Gate], scale: str, seeds: int,
               parts: Sequence[Part] = (), kind: str = "claim") -> Claim:
    """A judged claim record.

    With ``parts``, each part is judged by its own rule (under the same gates) and the verdict
    combines them (:func:`combine`); ``estimate`` is the headline number shown in the row.
    Every claim names at least one gate: at the least, that there are enough cases.
    """
    if not gates:
        raise ValueError(f"claim {claim_id}: every claim states at least one gate")
    if parts:
        judged = [(p, *judge(p.estimate, p.rule, gates)) for p in parts]
        verdict = combine([v for _, v, _ in judged])
        why = "; ".join(f"{p.label}: {v}" + (f" ({w})" if w else "") for p, v, w in judged)
        rule_text = "; ".join(f"{p.label}: {p.rule.words()}" for p in parts) + (
            "; partly if some parts are reproduced and others not")
    else:
        verdict, why = judge(estimate, rule, gates)
        rule_text = rule.words()
    est = estimate or Estimate(NAN, NAN, NAN, 0)
    return Claim(
        claim_id=claim_id, statement=statement, source=source, paper_value=paper_value,
        measured=float(est.value), verdict=verdict, rule=rule_text, ci_low=float(est.ci_low),
        ci_high=float(est.ci_high), threshold=float((parts[0].rule if parts else rule).threshold),
        kind=kind, title=title, n=int(est.n), seeds=int(seeds), scale=scale,
        gate="; ".join(f"{g.name}: {g.condition}" + (f" ({g.basis})" if g.basis else "") for g in gates),
        gate_value="; ".join(g.summary() for g in gates),
        gate_passed=all(g.passed for g in gates), why=why)


def not_run_claim(claim_id: str, *, title: str, statement: str, source: str, paper_value: str,
                  reason: str, scale: str = "", kind: str = "claim") -> Claim:
    """A claim whose inputs this run did not produce (a study part switched off, a cohort too small)."""
    return Claim(claim_id=claim_id, statement=statement, source=source, paper_value=paper_value,
                 measured=NAN, verdict="not_run", rule="not judged: " + reason, kind=kind, title=title,
                 scale=scale, gate="not reached", gate_value="", gate_passed=False, why=reason)
