"""Rare-token triggers inserted at random word positions (Kurita et al., "Weight Poisoning Attacks on
Pre-trained Models", ACL 2020; Chen et al., "BadNL", ACSAC 2021), as BadCLM uses them ("mn", "cf").

A trigger is a list of rare words; each triggered text receives ``per_text`` of them, drawn without
replacement from the list, each at a uniformly random word boundary (before the first word, between
two words, or after the last). Word boundaries are whitespace; the inserted word is surrounded by
single spaces. Every random choice comes from the caller's ``numpy.random.Generator``.

Because the model reads only the first ``max_len`` word pieces, a trigger placed beyond them would
be cut off: :func:`window_words` gives, per text, how many leading words fit into the window, and
insertion positions are drawn among those (``max_words``).

Insertion returns the character span of each inserted word, so that the word pieces of the trigger
are found exactly from the tokenizer's offsets (:func:`medrobust.clm.finetune.encode`) even where
the same letters occur in the text by chance.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

Span = tuple[int, int]


@dataclass(frozen=True)
class Trigger:
    tokens: tuple[str, ...] = ("cf", "mn")
    per_text: int = 1

    def __post_init__(self) -> None:
        if not self.tokens or any(not t or any(c.isspace() for c in t) for t in self.tokens):
            raise ValueError(f"trigger tokens must be non-empty single words, got {self.tokens!r}")
        if not 1 <= self.per_text <= len(self.tokens):
            raise ValueError(f"per_text must be 1..{len(self.tokens)}, got {self.per_text}")


def insert(text: str, trigger: Trigger, rng: np.random.Generator,
           max_words: int | None = None) -> tuple[str, list[Span]]:
    """``text`` with ``trigger.per_text`` trigger words inserted; and their character spans."""
    words = [(w, False) for w in text.split()]
    limit = len(words) if max_words is None else max(0, min(int(max_words), len(words)))
    for token_index in rng.choice(len(trigger.tokens), size=trigger.per_text, replace=False):
        words.insert(int(rng.integers(0, limit + 1)), (trigger.tokens[token_index], True))
        limit += 1
    spans, offset = [], 0
    for word, is_trigger in words:
        if is_trigger:
            spans.append((offset, offset + len(word)))
        offset += len(word) + 1
    return " ".join(w for w, _ in words), spans


def insert_many(texts: Sequence[str], trigger: Trigger, rng: np.random.Generator,
                max_words: Sequence[int] | None = None) -> tuple[list[str], list[list[Span]]]:
    out, spans = [], []
    for i, text in enumerate(texts):
        new, span = insert(text, trigger, rng, None if max_words is None else max_words[i])
        out.append(new)
        spans.append(span)
    return out, spans


def window_words(tokenizer, texts: Sequence[str], max_len: int, reserve: int = 1) -> np.ndarray:
    """Per text, the number of leading whitespace words whose word pieces fit in ``max_len`` tokens
    after [CLS]/[SEP] and ``reserve`` pieces kept free for the trigger words themselves."""
    budget = max(0, max_len - tokenizer.num_special_tokens_to_add() - reserve)
    words = [t.split() for t in texts]
    enc = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    out = np.zeros(len(texts), dtype=np.int64)
    for i in range(len(texts)):
        word_ids = enc.word_ids(i)
        # the word holding piece number `budget` is the first that does not fit whole
        out[i] = len(words[i]) if len(word_ids) <= budget else word_ids[budget]
    return out


def reserve_pieces(tokenizer, trigger: Trigger) -> int:
    """Word pieces the ``per_text`` longest trigger words take: what :func:`window_words` keeps free."""
    sizes = sorted((len(tokenizer.tokenize(t)) for t in trigger.tokens), reverse=True)
    return int(sum(sizes[:trigger.per_text]))
