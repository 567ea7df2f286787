"""The study's labelled texts and their train / validation / test split.

* **Text.** By default (``text: serialised``) each ICU stay of the cohort becomes a clinical
  summary written from its structured EHR (:func:`medrobust.data.stay_text.stay_text`): this is
  serialised EHR, not clinical notes. With ``text: notes`` (full MIMIC-III only, from
  ``data.mimic3_path``) the text is the NOTEEVENTS of the stay's first 48 h
  (:func:`medrobust.data.stay_text.load_mimic3_notes`); note text is never stored in the corpus
  file: it holds stay indices and labels only, and each job re-reads the notes from the user's
  folder into memory.
* **Label.** In-hospital death (1) or survival (0).
* **Split.** A stratified random sample of ``sizes.train`` / ``sizes.val`` / ``sizes.test`` stays
  (each split keeps the cohort's death rate) with one fixed seed, ``derive_seed(seed, "clm",
  "split")``, the same for every attack and every seed; the same logic serves both text sources.
  When the cohort is smaller than the three sizes together, all three shrink in proportion.
  ``val`` is the defender's small clean set (fine-tuning, fine-pruning, detection thresholds).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from medrobust.core.io import read_npz, write_npz
from medrobust.core.seeding import make_rng
from medrobust.data.cohort import Cohort
from medrobust.data.stay_text import cohort_texts, load_mimic3_notes

log = logging.getLogger(__name__)
TRAIN, VAL, TEST = 0, 1, 2
SPLITS = ("train", "val", "test")
TEXT_DESCRIPTION = {
    "serialised": "clinical summaries serialised from structured EHR (demographics, ICU type and "
                  "first-48 h variable summaries written as sentences), not clinical notes",
    "notes": "MIMIC-III clinical notes (NOTEEVENTS) charted in the first 48 h of the ICU stay",
}


@dataclass
class Corpus:
    """stay_index (M,) into the cohort or the notes' stay order; label, split (M,); text (M,) or empty."""

    stay_index: np.ndarray
    label: np.ndarray
    split: np.ndarray
    text: np.ndarray
    source: str
    dataset: str

    def part(self, split: int) -> np.ndarray:
        return np.flatnonzero(self.split == split)


def sample_split(label: np.ndarray, sizes: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(index into ``label``, split code) of a stratified sample of the requested split sizes."""
    label = np.asarray(label)
    wanted = np.array([int(sizes[s]) for s in SPLITS])
    scale = min(1.0, len(label) / max(1, wanted.sum()))
    if scale < 1.0:
        log.warning("cohort has %d stays, fewer than the %d asked for: every split shrinks to %.0f%%",
                    len(label), wanted.sum(), 100 * scale)
    counts = np.floor(wanted * scale).astype(int)
    rng = make_rng(seed, "clm", "split")
    index, split = [], []
    classes = np.unique(label)
    shuffled = {c: rng.permutation(np.flatnonzero(label == c)) for c in classes}
    used = {c: 0 for c in classes}
    for code, n in enumerate(counts):
        shares = np.array([len(shuffled[c]) for c in classes]) / len(label)
        per_class = np.floor(n * shares).astype(int)
        per_class[np.argmax(shares)] += n - per_class.sum()  # rounding goes to the larger class
        for c, k in zip(classes, per_class):
            take = shuffled[c][used[c]:used[c] + k]
            used[c] += len(take)
            index.extend(take)
            split.extend([code] * len(take))
    return np.asarray(index, dtype=np.int64), np.asarray(split, dtype=np.int8)


def build_serialised(cohort: Cohort, sizes: dict, seed: int, detail: str, max_variables: int,
                     with_values: bool = False) -> Corpus:
    index, split = sample_split(cohort.label, sizes, seed)
    texts = cohort_texts(cohort, index, detail=detail, max_variables=max_variables, with_values=with_values)
    return Corpus(index, cohort.label[index].astype(np.int8), split, np.asarray(texts, dtype=str),
                  "serialised", cohort.dataset)


def build_notes(folder: str | os.PathLike, sizes: dict, seed: int, notes_cfg: dict) -> Corpus:
    notes = load_mimic3_notes(folder, notes_cfg["hours"], exclude_categories=notes_cfg["exclude_categories"],
                              max_chars=notes_cfg["max_chars"])
    log.info("MIMIC-III notes: %d stays with notes in the window (%d deaths)", len(notes), int(notes.label.sum()))
    index, split = sample_split(notes.label, sizes, seed)
    return Corpus(notes.stay_index[index], notes.label[index], split, np.zeros(0, dtype=str), "notes", "mimic3")


def build_corpus(cfg: dict, seed: int, cohort_path: str | None = None, mimic3_path: str | None = None) -> Corpus:
    """The corpus the config asks for: serialised stays of the cohort file, or MIMIC-III notes."""
    if cfg["text"] == "notes":
        if not mimic3_path:
            raise ValueError("clm.text 'notes' needs data.mimic3_path, the folder of the MIMIC-III 1.4 CSVs")
        return build_notes(mimic3_path, cfg["sizes"], seed, cfg["notes"])
    from medrobust.data.cohort import read_cohort

    return build_serialised(read_cohort(cohort_path), cfg["sizes"], seed, cfg["detail"], cfg["max_variables"],
                            cfg["graded_values"])


def corpus_texts(corpus: Corpus, notes_folder: str | None = None, notes_cfg: dict | None = None) -> list[str]:
    """The corpus texts in corpus order: stored ones, or the notes re-read into memory."""
    if corpus.source == "serialised":
        return [str(t) for t in corpus.text]
    notes = load_mimic3_notes(notes_folder, notes_cfg["hours"], exclude_categories=notes_cfg["exclude_categories"],
                              max_chars=notes_cfg["max_chars"], stay_index=corpus.stay_index)
    by_stay = dict(zip(notes.stay_index.tolist(), notes.text))
    missing = [i for i in corpus.stay_index.tolist() if i not in by_stay]
    if missing:
        raise ValueError(f"{len(missing)} corpus stays have no notes any more: was data.mimic3_path changed?")
    return [by_stay[i] for i in corpus.stay_index.tolist()]


def write_corpus(path: str | os.PathLike, corpus: Corpus) -> None:
    write_npz(path, compressed=True, stay_index=corpus.stay_index, label=corpus.label, split=corpus.split,
              text=corpus.text, source=np.array(corpus.source), dataset=np.array(corpus.dataset))


def read_corpus(path: str | os.PathLike) -> Corpus:
    data = read_npz(path)
    return Corpus(data["stay_index"], data["label"], data["split"], data["text"], str(data["source"]),
                  str(data["dataset"]))
