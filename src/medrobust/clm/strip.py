"""STRIP for text: the entropy of predictions under strong perturbation (Gao et al., "STRIP: A
Defence Against Trojan Attacks on Deep Neural Networks", ACSAC 2019; its text version in Gao et al.,
"Design and Evaluation of a Multi-Domain Trojan Detection Method on Deep Neural Networks", IEEE
TDSC 2021).

A trigger dominates the prediction however the rest of the input changes, so a triggered input
keeps a confident prediction (low entropy) under perturbations that make a clean input's prediction
waver. Each input gets ``copies`` perturbed versions; in each, a ``replace_fraction`` share of its
word positions (chosen at random) receive words drawn at random from a randomly chosen clean
held-out text (the defender's validation texts), which mixes the input with clean text as STRIP's
superimposition does. The score is minus the mean prediction entropy over the copies (higher = more
suspicious). ``fit(clean)`` stores the clean texts to draw words from; ``score(x)`` needs the model
through ``predict``, a function from texts to P(class 1).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np


@dataclass
class Strip:
    copies: int = 8
    replace_fraction: float = 0.3
    donors: list[list[str]] = field(default_factory=list)

    def fit(self, clean: Sequence[str]) -> "Strip":
        self.donors = [t.split() for t in clean if t.split()]
        if not self.donors:
            raise ValueError("STRIP needs at least one non-empty clean text")
        return self

    def perturb(self, text: str, rng: np.random.Generator) -> str:
        words = text.split()
        n = int(round(self.replace_fraction * len(words)))
        donor = self.donors[int(rng.integers(len(self.donors)))]
        for position in rng.choice(len(words), size=n, replace=False):
            words[position] = donor[int(rng.integers(len(donor)))]
        return " ".join(words)

    def perturbed(self, texts: Sequence[str], rng: np.random.Generator) -> list[str]:
        """``copies`` perturbed versions of each text, text by text."""
        return [self.perturb(t, rng) for t in texts for _ in range(self.copies)]

    def score(self, texts: Sequence[str], predict: Callable[[list[str]], np.ndarray],
              rng: np.random.Generator) -> np.ndarray:
        p = np.clip(predict(self.perturbed(texts, rng)), 1e-7, 1 - 1e-7).reshape(len(texts), self.copies)
        entropy = -(p * np.log(p) + (1 - p) * np.log(1 - p))
        return -entropy.mean(axis=1)
