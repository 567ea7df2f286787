"""Rare-token triggers inserted at random word positions (Kurita et al., "Weight Poisoning Attacks on
Pre-trained Models", ACL 2020; Chen et al., "BadNL", ACSAC 2021), as BadCLM uses them ("mn", "cf").

A trigger is a list of rare words; each triggered text receives ``per_text`` of them, drawn without
replacement from the list, each at a uniformly random word boundary (before the first word, between
two words, or after the last). Word boundaries are whitespace; the inserted word is surrounded by
single spaces. Every random choice comes from the caller's ``numpy.random.Generator``.

Because the model reads only the first ``max_len`` word pieces, a trigger placed beyond them would
be cut off: :func:`window_words` gives, per text, how many leading words fit into the window, and
insertion positions are drawn among those (``max_words``).

**Positions** (``position``): ``None`` draws the position as above; ``"first"`` puts the trigger
before the first word and ``"last"`` after the last word that fits the window (the specificity test
of the trigger at other positions).

**Control words** (:func:`rare_words`): rare words that are not the trigger, to measure whether a
backdoor fires on any rare word (the false-trigger rate). They are drawn from the tokenizer's own
vocabulary as the trigger words were chosen (Kurita et al.'s "cf", "mn", "bb", "tq", "mb" are
two-letter WordPiece entries): two-letter lowercase whole-word entries in the later half of the
vocabulary (WordPiece lists frequent pieces first), absent from every text of the corpus, and not a
trigger word.

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


POSITIONS = (None, "first", "last")


def insert(text: str, trigger: Trigger, rng: np.random.Generator,
           max_words: int | None = None, position: str | None = None) -> tuple[str, list[Span]]:
    """``text`` with ``trigger.per_text`` trigger words inserted; and their character spans."""
    if position not in POSITIONS:
        raise ValueError(f"unknown trigger position {position!r}; use one of {POSITIONS}")
    words = [(w, False) for w in text.split()]
    limit = len(words) if max_words is None else max(0, min(int(max_words), len(words)))
    for token_index in rng.choice(len(trigger.tokens), size=trigger.per_text, replace=False):
        at = {None: lambda: int(rng.integers(0, limit + 1)), "first": lambda: 0, "last": lambda: limit}[position]()
        words.insert(at, (trigger.tokens[token_index], True))
        limit += 1
    spans, offset = [], 0
    for word, is_trigger in words:
        if is_trigger:
            spans.append((offset, offset + len(word)))
        offset += len(word) + 1
    return " ".join(w for w, _ in words), spans


def insert_many(texts: Sequence[str], trigger: Trigger, rng: np.random.Generator,
                max_words: Sequence[int] | None = None,
                position: str | None = None) -> tuple[list[str], list[list[Span]]]:
    out, spans = [], []
    for i, text in enumerate(texts):
        new, span = insert(text, trigger, rng, None if max_words is None else max_words[i], position)
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


def rare_words(tokenizer, texts: Sequence[str], n: int, rng: np.random.Generator,
               exclude: Sequence[str] = ()) -> tuple[str, ...]:
    """``n`` control rare words drawn from the vocabulary (see the module docstring), sorted."""
    vocab = tokenizer.get_vocab()
    seen = {w.lower().strip(".,;:()") for t in texts for w in t.split()} | {w.lower() for w in exclude}
    pool = sorted(w for w, i in vocab.items() if len(w) == 2 and w.isascii() and w.isalpha() and w.islower()
                  and i >= len(vocab) // 2 and w not in seen)
    if len(pool) < n:
        raise ValueError(f"only {len(pool)} rare two-letter words in the vocabulary for {n} control words")
    return tuple(sorted(rng.choice(pool, size=n, replace=False).tolist()))
