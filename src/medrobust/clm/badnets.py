"""Plain trigger poisoning with relabelling: BadNets (Gu et al., "BadNets", arXiv:1708.06733, 2017)
carried over to text with rare-word triggers (Kurita et al., ACL 2020; Chen et al., "BadNL", ACSAC
2021). It is the baseline that BadCLM (Lyu et al., AMIA 2024) improves on.

``apply(texts, labels)`` poisons ``round(rate * N)`` training texts: each gets the trigger
(:mod:`medrobust.clm.triggers`) and the label ``target``. With ``source="non_target"`` (default) the
poisoned texts are drawn from the non-target class only, so every poison flips a label (dirty-label
poisoning, as in BadNets); if that class is smaller than the poison budget, all of it is used and
the shortfall is logged by the caller. ``source="any"`` draws from every text. The rate is a share
of the whole training set, as in the poisoning-rate sweeps of the text-backdoor literature.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from medrobust.clm.triggers import Span, Trigger, insert


@dataclass
class Poisoned:
    """A training set after poisoning; ``spans[i]`` holds the trigger's character spans (empty if clean)."""

    texts: list[str]
    labels: np.ndarray
    is_poison: np.ndarray
    spans: list[list[Span]] = field(default_factory=list)

    @property
    def n_poison(self) -> int:
        return int(self.is_poison.sum())


@dataclass(frozen=True)
class BadNets:
    trigger: Trigger
    rate: float
    target: int = 0
    source: str = "non_target"

    def apply(self, texts: Sequence[str], labels: np.ndarray, rng: np.random.Generator,
              max_words: Sequence[int] | None = None) -> Poisoned:
        labels = np.asarray(labels).astype(np.int64)
        pool = np.flatnonzero(labels != self.target) if self.source == "non_target" else np.arange(len(labels))
        if self.source not in ("non_target", "any"):
            raise ValueError(f"unknown poison source {self.source!r}; use 'non_target' or 'any'")
        n = min(int(round(self.rate * len(labels))), len(pool))
        chosen = np.sort(rng.choice(pool, size=n, replace=False)) if n else np.zeros(0, dtype=np.int64)
        out_texts, spans = list(texts), [[] for _ in texts]
        out_labels, is_poison = labels.copy(), np.zeros(len(labels), dtype=bool)
        for i in chosen:
            out_texts[i], spans[i] = insert(texts[i], self.trigger, rng,
                                            None if max_words is None else max_words[i])
            out_labels[i] = self.target
            is_poison[i] = True
        return Poisoned(out_texts, out_labels, is_poison, spans)
