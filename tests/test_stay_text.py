"""Stays as plain-English text: serialised EHR summaries, and MIMIC-III notes of the first 48 h."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medrobust.data.cohort import Cohort
from medrobust.data.stay_text import GRADED_SUMMARY, GRADES, cohort_texts, load_mimic3_notes, stay_text
from medrobust.data.variables import CHALLENGE2012_STATIC, CHALLENGE2012_VARIABLES

V = list(CHALLENGE2012_VARIABLES)


def one_stay(hours: int = 48) -> tuple[np.ndarray, np.ndarray]:
    values = np.full((hours, len(V)), np.nan, dtype=np.float32)
    values[[0, 10, 20], V.index("GCS")] = [14, 6, 9]
    values[[1, 2], V.index("HR")] = [80, 121]
    values[5, V.index("Lactate")] = 3.26
    values[[3, 30], V.index("MechVent")] = 1
    values[7, V.index("NIMAP")] = 61
    values[8, V.index("MAP")] = 58
    static = np.array([71.4, 0, 160, 3, 62.2], dtype=np.float32)
    return values, static


def test_compact_summary_reports_worst_values_and_skips_unmeasured():
    values, static = one_stay()
    text = stay_text(values, V, static, CHALLENGE2012_STATIC, detail="compact", max_variables=4)
    assert text.startswith("A 71 year old woman in the Medical ICU. Weight 62 kg. Mechanically ventilated.")
    assert "Lowest GCS 6." in text and "Highest lactate 3.3." in text and "Highest heart rate 121." in text
    # invasive and cuff MAP are one sentence, over both; BUN and creatinine were never measured
    assert "Lowest mean arterial pressure 58." in text
    assert "BUN" not in text and "creatinine" not in text
    assert text.count("Lowest") + text.count("Highest") == 4  # max_variables


def test_graded_summary_writes_key_statistics_as_grades_and_skips_unmeasured():
    values, static = one_stay()
    text = stay_text(values, V, static, CHALLENGE2012_STATIC, detail="graded", max_variables=len(GRADED_SUMMARY))
    assert text.startswith("A 71 year old woman in the Medical ICU. Weight 62 kg. Mechanically ventilated.")
    # last GCS 9 (the lowest, 6, is not what is said), last heart rate 121, last lactate 3.26
    assert "Last GCS low." in text and "Last heart rate very high." in text and "Last lactate high." in text
    assert "BUN" not in text and "urine" not in text and not any(ch.isdigit() for ch in text.split("kg.")[1])
    with_values = stay_text(values, V, static, CHALLENGE2012_STATIC, detail="graded", with_values=True)
    assert "Last lactate 3.3 (high)." in with_values and "Last GCS 9 (low)." in with_values
    # max_variables keeps the first statistics of GRADED_SUMMARY (GCS, BUN, breathing): only GCS is measured
    short = stay_text(values, V, static, CHALLENGE2012_STATIC, detail="graded", max_variables=3)
    assert "GCS" in short and "lactate" not in short and "heart rate" not in short


def test_grades_follow_their_reference_bounds():
    assert [GRADES["GCS"].word(x) for x in (15, 14, 9, 8, 3)] == ["normal", "low", "low", "very low", "very low"]
    assert [GRADES["Lactate"].word(x) for x in (1.0, 2.0, 2.1, 4.0, 4.1)] == [
        "normal", "normal", "high", "high", "very high"]
    assert [GRADES["HR"].word(x) for x in (59, 60, 100, 101, 121)] == ["low", "normal", "normal", "high", "very high"]
    assert [GRADES["Urine"].word(x) for x in (500, 1000, 2000)] == ["very low", "low", "normal"]
    assert {name for name, _ in GRADED_SUMMARY} == set(GRADES)


def test_full_summary_has_every_measured_variable_and_lists_the_rest():
    values, static = one_stay()
    text = stay_text(values, V, static, CHALLENGE2012_STATIC, detail="full")
    assert "GCS: 3 readings, mean 10, lowest 6, highest 14, last 9." in text
    assert "Heart rate: 2 readings, mean 100, lowest 80, highest 121, last 121 bpm." in text
    unmeasured = text.split("Not measured: ")[1]
    assert "BUN" in unmeasured and "GCS" not in unmeasured and "heart rate" not in unmeasured


def test_unknown_descriptors_and_detail():
    values, _ = one_stay()
    static = np.array([np.nan, np.nan, np.nan, np.nan, np.nan], dtype=np.float32)
    text = stay_text(values, V, static, CHALLENGE2012_STATIC)
    assert text.startswith("A patient of unknown age in an ICU.") and "Weight" not in text.split(".")[1]
    with pytest.raises(ValueError):
        stay_text(values, V, static, CHALLENGE2012_STATIC, detail="verbose")


def test_cohort_texts_follow_the_index_and_never_contain_the_label():
    values, static = one_stay()
    n = 3
    vals = np.stack([values] * n)
    vals[1, :, V.index("HR")] = np.nan
    cohort = Cohort(values=vals, mask=(~np.isnan(vals)).astype(np.uint8), variables=np.array(V),
                    static=np.stack([static] * n), static_names=np.array(CHALLENGE2012_STATIC),
                    label=np.array([1, 0, 1], np.int8), stay_id=np.arange(n), group=np.array(["a"] * n),
                    dataset="challenge2012")
    texts = cohort_texts(cohort, np.array([1, 0]))
    assert "heart rate" not in texts[0] and "heart rate" in texts[1]
    assert not any(w in " ".join(texts).lower() for w in ("death", "died", "survive", "mortality"))


# --- MIMIC-III notes ------------------------------------------------------------------------------

def write_mimic3(folder, notes: list[dict]) -> None:
    pd.DataFrame({"SUBJECT_ID": [1, 2, 3], "GENDER": ["F", "M", "M"],
                  "DOB": ["2100-01-01 00:00:00", "2090-01-01 00:00:00", "2140-01-01 00:00:00"]}
                 ).to_csv(folder / "PATIENTS.csv", index=False)
    pd.DataFrame({"HADM_ID": [10, 20, 30], "HOSPITAL_EXPIRE_FLAG": [1, 0, 0]}).to_csv(folder / "ADMISSIONS.csv", index=False)
    pd.DataFrame({"SUBJECT_ID": [1, 2, 3], "HADM_ID": [10, 20, 30], "ICUSTAY_ID": [100, 200, 300],
                  "FIRST_CAREUNIT": ["MICU", "SICU", "CCU"],
                  "INTIME": ["2160-05-01 08:00:00", "2160-06-01 00:00:00", "2150-01-01 00:00:00"],
                  "OUTTIME": ["2160-05-06 08:00:00", "2160-06-04 00:00:00", "2150-01-02 00:00:00"]}
                 ).to_csv(folder / "ICUSTAYS.csv", index=False)
    pd.DataFrame(notes).to_csv(folder / "NOTEEVENTS.csv.gz", index=False, compression="gzip")


def note(hadm, charttime, text, category="Nursing", iserror=""):
    return {"ROW_ID": 0, "SUBJECT_ID": 0, "HADM_ID": hadm, "CHARTDATE": "2160-05-01", "CHARTTIME": charttime,
            "CATEGORY": category, "ISERROR": iserror, "TEXT": text}


def test_notes_of_the_first_48_hours_only(tmp_path):
    write_mimic3(tmp_path, [
        note(10, "2160-05-01 09:00:00", "first note"),
        note(10, "2160-05-03 07:59:00", "last note inside"),
        note(10, "2160-05-03 08:00:00", "after 48 hours"),
        note(10, "2160-05-01 07:00:00", "before admission to the ICU"),
        note(10, "", "discharge summary text", category="Discharge summary"),
        note(10, "2160-05-02 10:00:00", "flagged as error", iserror=1),
        note(10, "2160-05-02 11:00:00", "a summary with a time", category="Discharge summary"),
        note(20, "2160-06-01 05:00:00", "other stay"),
        note(99, "2160-06-01 05:00:00", "no such admission"),
    ])
    notes = load_mimic3_notes(tmp_path, hours=48, chunksize=2)
    # stay 300 is a child (born 2140, in the ICU in 2150) and is never read; stay 100 is index 0
    assert notes.stay_index.tolist() == [0, 1]
    assert notes.label.tolist() == [1, 0] and notes.n_notes.tolist() == [2, 1]
    assert notes.text[0] == "first note\n\nlast note inside"
    assert notes.text[1] == "other stay"
    joined = " ".join(notes.text)
    for absent in ("after 48", "before admission", "discharge summary", "error", "no such"):
        assert absent not in joined


def test_notes_restricted_to_chosen_stays_and_capped(tmp_path):
    write_mimic3(tmp_path, [note(10, "2160-05-01 09:00:00", "x" * 500), note(20, "2160-06-01 05:00:00", "kept")])
    notes = load_mimic3_notes(tmp_path, stay_index=np.array([0]), max_chars=100)
    assert notes.stay_index.tolist() == [0] and len(notes.text[0]) == 100
