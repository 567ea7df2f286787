"""The clm corpus: stratified split sizes, serialised text, and notes that never reach the file."""
from __future__ import annotations

import numpy as np
import pandas as pd

from medrobust.clm.corpus import TEST, TRAIN, VAL, build_corpus, corpus_texts, read_corpus, sample_split, write_corpus
from medrobust.data.cohort import Cohort
from medrobust.data.variables import CHALLENGE2012_STATIC, CHALLENGE2012_VARIABLES

NOTES_CFG = {"hours": 48, "max_chars": 1000, "exclude_categories": ["Discharge summary"]}


def test_split_keeps_the_death_rate_and_the_sizes():
    label = np.r_[np.ones(150, int), np.zeros(850, int)]
    index, split = sample_split(label, {"train": 400, "val": 100, "test": 200}, seed=3)
    assert len(set(index)) == len(index) == 700
    for code, n in ((TRAIN, 400), (VAL, 100), (TEST, 200)):
        part = index[split == code]
        assert len(part) == n and abs(label[part].mean() - 0.15) < 0.01
    again, _ = sample_split(label, {"train": 400, "val": 100, "test": 200}, seed=3)
    assert (again == index).all()


def test_split_shrinks_to_a_small_cohort():
    label = np.r_[np.ones(30, int), np.zeros(150, int)]
    index, split = sample_split(label, {"train": 1000, "val": 200, "test": 800}, seed=0)
    assert len(index) <= 180 and (split == TRAIN).sum() > (split == TEST).sum() > (split == VAL).sum() > 0


def test_serialised_corpus_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    n, v = 40, len(CHALLENGE2012_VARIABLES)
    values = np.where(rng.random((n, 48, v)) < 0.05, rng.normal(80, 10, (n, 48, v)), np.nan).astype(np.float32)
    cohort = Cohort(values=values, mask=(~np.isnan(values)).astype(np.uint8), variables=np.array(CHALLENGE2012_VARIABLES),
                    static=np.tile(np.array([60, 1, 170, 2, 80], np.float32), (n, 1)),
                    static_names=np.array(CHALLENGE2012_STATIC), label=(rng.random(n) < 0.3).astype(np.int8),
                    stay_id=np.arange(n), group=np.array(["a"] * n), dataset="challenge2012")
    from medrobust.data.cohort import write_cohort

    write_cohort(tmp_path / "cohort.npz", cohort)
    cfg = {"text": "serialised", "sizes": {"train": 20, "val": 6, "test": 10}, "detail": "compact", "max_variables": 5,
           "graded_values": False}
    corpus = build_corpus(cfg, 1, str(tmp_path / "cohort.npz"))
    write_corpus(tmp_path / "corpus.npz", corpus)
    back = read_corpus(tmp_path / "corpus.npz")
    assert back.source == "serialised" and len(back.text) == 36
    assert corpus_texts(back)[0].startswith("A 60 year old man in the Cardiac Surgery Recovery Unit.")
    assert (back.label == cohort.label[back.stay_index]).all()


def test_notes_corpus_stores_no_text_and_rereads_it(tmp_path):
    n = 12
    pd.DataFrame({"SUBJECT_ID": range(n), "GENDER": ["F"] * n, "DOB": ["2100-01-01"] * n}).to_csv(tmp_path / "PATIENTS.csv", index=False)
    pd.DataFrame({"HADM_ID": range(100, 100 + n), "HOSPITAL_EXPIRE_FLAG": [i % 3 == 0 for i in range(n)]}
                 ).astype({"HOSPITAL_EXPIRE_FLAG": int}).to_csv(tmp_path / "ADMISSIONS.csv", index=False)
    pd.DataFrame({"SUBJECT_ID": range(n), "HADM_ID": range(100, 100 + n), "ICUSTAY_ID": range(500, 500 + n),
                  "FIRST_CAREUNIT": ["MICU"] * n, "INTIME": ["2160-01-01 00:00:00"] * n,
                  "OUTTIME": ["2160-01-05 00:00:00"] * n}).to_csv(tmp_path / "ICUSTAYS.csv", index=False)
    pd.DataFrame({"HADM_ID": range(100, 100 + n), "CHARTTIME": ["2160-01-01 06:00:00"] * n,
                  "CATEGORY": ["Nursing"] * n, "ISERROR": [None] * n,
                  "TEXT": [f"secret note {i}" for i in range(n)]}).to_csv(tmp_path / "NOTEEVENTS.csv", index=False)
    cfg = {"text": "notes", "sizes": {"train": 6, "val": 2, "test": 4}, "notes": NOTES_CFG}
    corpus = build_corpus(cfg, 0, mimic3_path=str(tmp_path))
    write_corpus(tmp_path / "corpus.npz", corpus)
    raw = (tmp_path / "corpus.npz").read_bytes()
    assert b"secret" not in raw and len(read_corpus(tmp_path / "corpus.npz").text) == 0
    texts = corpus_texts(read_corpus(tmp_path / "corpus.npz"), str(tmp_path), NOTES_CFG)
    assert texts == [f"secret note {i}" for i in corpus.stay_index]
