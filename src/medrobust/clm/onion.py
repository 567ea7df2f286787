"""ONION: outlier-word removal by fluency (Qi et al., "ONION: A Simple and Effective Defense Against
Textual Backdoor Attacks", EMNLP 2021).

For a text of words ``w_1..w_n`` with perplexity ``p_0`` under a language model, the suspicion of
word ``i`` is ``f_i = p_0 - p_i``, where ``p_i`` is the perplexity with ``w_i`` removed; words with
``f_i > t`` are deleted before the text reaches the classifier. ONION uses GPT-2; offline, this
module fits a word **bigram** model on clean training text, interpolated with an add-one unigram
(Jelinek & Mercer, 1980): ``P(w | v) = a * c(v, w) / c(v) + (1 - a) * (c(w) + 1) / (N + |V| + 1)``
(``a = 0.5``; an unseen context falls back to the unigram). Words are lower-cased with surrounding
punctuation stripped, and every digit becomes ``0`` for the LM only (``7.34`` -> ``0.00``), so
that a rare measured value does not look like an inserted word; the text itself keeps its words.
Sentence boundaries are ``<s>`` and ``</s>``.

The threshold ``t`` is set on the defender's clean validation texts: the ``word_quantile``
quantile of their word suspicions (so about ``1 - word_quantile`` of clean words are removed).
Verbs: ``fit(clean)``; ``score(x)`` (the largest word suspicion of each text: ONION as a detector,
higher = more suspicious); ``apply(x)`` (the filtered texts).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")
_DIGIT = re.compile(r"\d")


def lm_word(word: str) -> str:
    return _DIGIT.sub("0", _PUNCT.sub("", word.lower())) or word


@dataclass
class BigramLM:
    mix: float = 0.5
    unigram: Counter = field(default_factory=Counter)
    bigram: Counter = field(default_factory=Counter)
    context: Counter = field(default_factory=Counter)

    def fit(self, texts: Sequence[str]) -> "BigramLM":
        for text in texts:
            words = ["<s>", *map(lm_word, text.split()), "</s>"]
            self.unigram.update(words[1:])
            self.context.update(words[:-1])
            self.bigram.update(zip(words[:-1], words[1:]))
        self._total = sum(self.unigram.values())
        self._vocab = len(self.unigram)
        return self

    def logp(self, prev: str, word: str) -> float:
        uni = (self.unigram.get(word, 0) + 1) / (self._total + self._vocab + 1)
        seen = self.context.get(prev, 0)
        if not seen:
            return math.log(uni)
        return math.log(self.mix * self.bigram.get((prev, word), 0) / seen + (1 - self.mix) * uni)


@dataclass
class Onion:
    word_quantile: float = 0.99
    lm: BigramLM = field(default_factory=BigramLM)
    threshold: float = float("inf")

    def fit(self, clean_train: Sequence[str], clean_val: Sequence[str]) -> "Onion":
        """Fit the LM on clean training text and set ``t`` on clean validation text."""
        self.lm = BigramLM().fit(clean_train)
        scores = np.concatenate([self.suspicion(t) for t in clean_val] or [np.zeros(0)])
        self.threshold = float(np.quantile(scores, self.word_quantile)) if len(scores) else float("inf")
        return self

    def suspicion(self, text: str) -> np.ndarray:
        """``f_i = p_0 - p_i`` for every word of ``text`` (perplexities over words plus </s>)."""
        words = ["<s>", *map(lm_word, text.split()), "</s>"]
        n = len(words) - 2
        if n < 2:
            return np.zeros(n)
        steps = np.array([self.lm.logp(a, b) for a, b in zip(words[:-1], words[1:])])
        total = steps.sum()
        p0 = math.exp(-total / (n + 1))
        out = np.empty(n)
        for i in range(1, n + 1):
            # removing word i replaces log P(w_i | w_{i-1}) + log P(w_{i+1} | w_i) by log P(w_{i+1} | w_{i-1})
            without = total - steps[i - 1] - steps[i] + self.lm.logp(words[i - 1], words[i + 1])
            out[i - 1] = p0 - math.exp(-without / n)
        return out

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([float(s.max()) if len(s) else 0.0 for s in map(self.suspicion, texts)])

    def apply(self, texts: Sequence[str]) -> list[str]:
        out = []
        for text in texts:
            words, scores = text.split(), self.suspicion(text)
            kept = [w for w, s in zip(words, scores) if not s > self.threshold] if len(scores) == len(words) else words
            out.append(" ".join(kept) if kept else text)
        return out
