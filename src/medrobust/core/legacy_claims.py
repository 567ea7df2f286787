"""The point-estimate verdict rules that issue 13 replaces (:mod:`medrobust.core.claims`).

Kept only while each study moves its claims to ``<study>/claims.py``; deleted once none imports it.
"""
from __future__ import annotations

import math


def at_least(measured: float, ci_high: float, threshold: float, partly_threshold: float) -> tuple[str, str]:
    """'reproduced' if the estimate reaches ``threshold``; 'partly' if it (or its CI) reaches
    ``partly_threshold``; else 'not_reproduced'."""
    rule = (f"reproduced if measured >= {threshold:g}; partly if measured or its upper CI >= "
            f"{partly_threshold:g}; else not_reproduced")
    if _missing(measured):
        return "not_run", rule
    if measured >= threshold:
        return "reproduced", rule
    upper = measured if _missing(ci_high) else max(measured, ci_high)
    return ("partly" if upper >= partly_threshold else "not_reproduced"), rule


def at_most(measured: float, ci_low: float, threshold: float, partly_threshold: float) -> tuple[str, str]:
    """Mirror of :func:`at_least` for claims of the form 'the drop is at most X'."""
    rule = (f"reproduced if measured <= {threshold:g}; partly if measured or its lower CI <= "
            f"{partly_threshold:g}; else not_reproduced")
    if _missing(measured):
        return "not_run", rule
    if measured <= threshold:
        return "reproduced", rule
    lower = measured if _missing(ci_low) else min(measured, ci_low)
    return ("partly" if lower <= partly_threshold else "not_reproduced"), rule


def _missing(x: float) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))
