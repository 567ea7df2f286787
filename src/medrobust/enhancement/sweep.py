"""The similarity sweep: one attack applied to one release at every target r (arXiv 2301.01885 sweeps
r and reports accuracy against it; the study's default targets are 0.999, 0.99, 0.95 and 0.9).

Each target gets its own seed, derived from the config seed, the task, the attack and the target,
so a target's result does not depend on which other targets are run.
"""
from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import numpy as np

from medrobust.core.seeding import derive_seed
from medrobust.enhancement.general_enhancement import GeneralEnhancement
from medrobust.enhancement.method_specific import MethodSpecificEnhancement
from medrobust.enhancement.pattern_injection import PatternInjection

ATTACKS = {
    "general_enhancement": GeneralEnhancement,
    "pattern_injection": PatternInjection,
    "method_specific": MethodSpecificEnhancement,
}


def make_attack(name: str, target_r: float, settings: Mapping[str, Any], seed: int):
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; use one of {sorted(ATTACKS)}")
    return ATTACKS[name](target_r=target_r, seed=seed, **settings)


def run_sweep(name: str, x: np.ndarray, y: np.ndarray, targets: Sequence[float],
              settings: Mapping[str, Any], base_seed: int, task: str) -> dict[str, np.ndarray]:
    """``x`` enhanced at every target: arrays ``targets`` (T,), ``x`` (T, N, F), ``r`` (T, N), ``seconds`` (T,)."""
    xs, rs, seconds = [], [], []
    for target in targets:
        attack = make_attack(name, float(target), settings, derive_seed(base_seed, "enhancement", task, name, target))
        start = time.perf_counter()
        enhanced = attack.apply(x, y)
        seconds.append(time.perf_counter() - start)
        xs.append(enhanced.x)
        rs.append(enhanced.r)
    return {"targets": np.asarray(targets, dtype=np.float64), "x": np.stack(xs), "r": np.stack(rs),
            "seconds": np.asarray(seconds), "attack": np.array(name), "task": np.array(task)}
