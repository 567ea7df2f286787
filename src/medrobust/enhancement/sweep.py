"""The similarity sweep: one attack applied to one release at every target r (arXiv 2301.01885 sweeps
r and reports accuracy against it; the study's default targets are 0.999, 0.99, 0.95 and 0.9), with
each version's edit magnitude (:mod:`.edit_magnitude`).

Each target gets its own seed, derived from the job's base seed (itself derived from the config seed
and the data draw), the task, the attack and the target, so a target's result does not depend on
which other targets are run.

``method_specific_unconstrained`` is :class:`~medrobust.enhancement.method_specific.MethodSpecificEnhancement`
without the stealth constraints: every cell mutable and no range limit, so r >= target is its only
budget (the paper's). It keeps the class-mean re-centring, which is the attack's mechanism rather
than a stealth constraint: without it both models separate the data (measured on the chance task at
r = 0.99 over 3 draws: MLP 0.999, LR 0.998). It shares the ``method_specific`` settings otherwise.
"""
from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import numpy as np

from medrobust.core.seeding import derive_seed
from medrobust.enhancement.edit_magnitude import measure_sweep
from medrobust.enhancement.general_enhancement import GeneralEnhancement
from medrobust.enhancement.method_specific import MethodSpecificEnhancement
from medrobust.enhancement.pattern_injection import PatternInjection

# No column has this many rows: every cell is mutable.
EVERY_CELL = 2**62
UNCONSTRAINED = {"max_shared": EVERY_CELL, "keep_range": False}

ATTACKS = {
    "general_enhancement": GeneralEnhancement,
    "pattern_injection": PatternInjection,
    "method_specific": MethodSpecificEnhancement,
    "method_specific_unconstrained": MethodSpecificEnhancement,
}


def make_attack(name: str, target_r: float, settings: Mapping[str, Any], seed: int):
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; use one of {sorted(ATTACKS)}")
    if name == "method_specific_unconstrained":
        settings = {**settings, **UNCONSTRAINED}
    return ATTACKS[name](target_r=target_r, seed=seed, **settings)


def run_sweep(name: str, x: np.ndarray, y: np.ndarray, targets: Sequence[float],
              settings: Mapping[str, Any], base_seed: int, task: str, draw: int = 1,
              names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """``x`` enhanced at every target: arrays ``targets`` (T,), ``x`` (T, N, F), ``r`` (T, N), ``seconds`` (T,),
    the edit magnitudes ``edit_*`` (T, ...), the feature ``names`` (F,) and the ids ``attack``, ``task``, ``draw``."""
    names = np.asarray([f"f{j}" for j in range(np.shape(x)[1])] if names is None else names).astype(str)
    xs, rs, seconds = [], [], []
    for target in targets:
        attack = make_attack(name, float(target), settings, derive_seed(base_seed, "enhancement", task, name, target))
        start = time.perf_counter()
        enhanced = attack.apply(x, y)
        seconds.append(time.perf_counter() - start)
        xs.append(enhanced.x)
        rs.append(enhanced.r)
    return {"targets": np.asarray(targets, dtype=np.float64), "x": np.stack(xs), "r": np.stack(rs),
            "seconds": np.asarray(seconds), **measure_sweep(x, np.stack(xs)), "attack": np.array(name),
            "task": np.array(task), "draw": np.array(int(draw)), "names": names}
