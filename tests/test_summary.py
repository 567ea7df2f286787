"""Tidy data summaries: one row per number, aggregates only."""
from __future__ import annotations

import numpy as np
import pytest

from fixtures.publishers import make_challenge2017, make_medmnist, make_mimic3_demo
from medrobust.data import challenge2017, medmnist_npz
from medrobust.data.cohort import Cohort
from medrobust.data.mimic_demo import parse_mimic3
from medrobust.data.summary import COLUMNS, summarize_cohort, summarize_ecgset, summarize_medmnist


def _value(frame, section, item, statistic):
    row = frame[(frame.section == section) & (frame["item"] == item) & (frame.statistic == statistic)]
    assert len(row) == 1, (section, item, statistic)
    return row["value"].iloc[0]


def _toy_cohort():
    """Two 2012-style groups; HR seen in 3 of 4 stay-hours, Urine never in stay 1."""
    mask = np.zeros((2, 2, 2), np.uint8)
    mask[0, :, 0] = 1
    mask[1, 0, 0] = 1
    mask[0, 1, 1] = 1
    values = np.where(mask == 1, 1.0, np.nan).astype(np.float32)
    static = np.array([[70, 1, np.nan, 3, 80], [50, 0, 170, np.nan, 60]], np.float32)
    return Cohort(values=values, mask=mask, variables=np.array(["HR", "Urine"]), static=static,
                  static_names=np.array(["Age", "Gender", "Height", "ICUType", "Weight"]),
                  label=np.array([1, 0], np.int8), stay_id=np.array([132539, 132540]),
                  group=np.array(["a", "b"]), dataset="challenge2012")


def test_cohort_summary_by_hand():
    frame = summarize_cohort(_toy_cohort())
    assert list(frame.columns) == COLUMNS and set(frame.dataset) == {"challenge2012"}
    assert _value(frame, "cohort", "all", "n_stays") == 2
    assert _value(frame, "label", "death", "rate") == 0.5
    assert _value(frame, "group", "a", "n_stays") == 1 and _value(frame, "group", "a", "death_rate") == 1.0
    assert _value(frame, "group", "b", "deaths") == 0
    assert _value(frame, "missingness", "HR", "missing_rate") == 0.25
    assert _value(frame, "missingness", "HR", "stays_never_observed") == 0
    assert _value(frame, "missingness", "Urine", "missing_rate") == 0.75
    assert _value(frame, "missingness", "Urine", "stays_never_observed") == 1
    assert _value(frame, "static", "Height", "missing_rate") == 0.5
    assert _value(frame, "static", "Age", "median") == 60
    assert not frame.duplicated(["section", "item", "statistic"]).any()
    # aggregates only: no row names a stay
    assert not frame["item"].isin(["132539", "132540"]).any()


def test_cohort_summary_size_does_not_grow_with_stays(tmp_path):
    small = summarize_cohort(parse_mimic3(make_mimic3_demo(tmp_path / "a", n_stays=3)))
    large = summarize_cohort(parse_mimic3(make_mimic3_demo(tmp_path / "b", n_stays=6)))
    assert len(small) == len(large)
    assert _value(large, "cohort", "all", "n_stays") == 6
    assert _value(large, "missingness", "Temp", "stays_never_observed") == 5


def test_ecg_summary(tmp_path):
    files = make_challenge2017(tmp_path, n_records=8)
    ecg = challenge2017.parse(files["zip"], files["reference"])
    frame = summarize_ecgset(ecg)
    assert list(frame.columns) == COLUMNS
    assert _value(frame, "records", "all", "n_records") == 8
    assert [_value(frame, "label", c, "count") for c in "NAO~"] == [2, 2, 2, 2]
    seconds = ecg.lengths / 300
    assert _value(frame, "duration_s", "all", "median") == pytest.approx(np.median(seconds))
    assert _value(frame, "duration_s", "all", "max") == pytest.approx(seconds.max())


def test_medmnist_summary(tmp_path):
    data = medmnist_npz.load(make_medmnist(tmp_path, "breastmnist"), "breastmnist")
    frame = summarize_medmnist(data, "breastmnist")
    assert list(frame.columns) == COLUMNS and set(frame.dataset) == {"breastmnist"}
    for split, n in (("train", 546), ("val", 78), ("test", 156)):
        assert _value(frame, split, "all", "n_images") == n
        counts = frame[(frame.section == split) & (frame.statistic == "count")]
        assert set(counts["item"]) == {"malignant", "normal, benign"} and counts["value"].sum() == n
    assert _value(frame, "images", "all", "height") == 28
