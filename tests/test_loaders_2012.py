"""PhysioNet 2012 parser on fixtures in the publisher's format: exact tensor, mask and errors."""
from __future__ import annotations

import numpy as np
import pytest

from fixtures.challenge2012 import make_challenge2012, write_set
from medrobust.data import challenge2012
from medrobust.data.archive import ArchiveError

HEADER = "Time,Parameter,Value\n00:00,RecordID,{rid}\n00:00,Age,70\n00:00,Gender,1\n" \
         "00:00,Height,-1\n00:00,ICUType,3\n00:00,Weight,80\n"


def _parse_one(tmp_path, body: str, rid: int = 1, death: int = 1, hours: int = 48):
    write_set(tmp_path, "a", {rid: HEADER.format(rid=rid) + body}, {rid: death})
    report = challenge2012.ParseReport()
    cohort = challenge2012.parse({"a": tmp_path / "set-a.tar.gz"}, {"a": tmp_path / "Outcomes-a.txt"},
                                 hours=hours, report=report)
    return cohort, report


def _at(cohort, var):
    return cohort.variables.tolist().index(var)


def test_values_are_averaged_within_their_hour(tmp_path):
    body = "00:10,HR,80\n00:50,HR,90\n01:00,HR,70\n47:59,Temp,37.5\n48:00,Urine,100\n48:01,HR,60\n"
    cohort, report = _parse_one(tmp_path, body)
    assert cohort.values.shape == (1, 48, 37) and cohort.mask.shape == (1, 48, 37)
    hr, temp, urine = _at(cohort, "HR"), _at(cohort, "Temp"), _at(cohort, "Urine")
    assert cohort.values[0, 0, hr] == pytest.approx(85.0)
    assert cohort.values[0, 1, hr] == pytest.approx(70.0)
    assert cohort.values[0, 47, temp] == pytest.approx(37.5)
    assert cohort.values[0, 47, urine] == pytest.approx(100.0)  # 48:00 closes the window
    assert report.values_after_window == 1  # 48:01 is outside it, counted
    assert cohort.mask.sum() == 4
    np.testing.assert_array_equal(np.isnan(cohort.values[0]), cohort.mask[0] == 0)


def test_descriptors_and_label(tmp_path):
    cohort, _ = _parse_one(tmp_path, "01:00,HR,80\n", rid=135000, death=1)
    static = dict(zip(cohort.static_names.tolist(), cohort.static[0].tolist()))
    assert static["Age"] == 70 and static["Gender"] == 1 and static["ICUType"] == 3
    assert np.isnan(static["Height"])  # -1 is the challenge's 'unknown'
    assert cohort.label.tolist() == [1] and cohort.stay_id.tolist() == [135000]
    assert cohort.group.tolist() == ["a"]


def test_unknown_and_empty_parameters_are_counted_not_silently_dropped(tmp_path):
    cohort, report = _parse_one(tmp_path, "01:00,HR,80\n02:00,,1.9\n03:00,Foo,2\n")
    assert dict(report.unknown_parameters) == {"": 1, "Foo": 1}
    assert cohort.mask.sum() == 1


@pytest.mark.parametrize("line, problem", [
    ("01:00,HR", "expected 3 comma-separated fields"),
    ("1h,HR,80", "bad time"),
    ("01:00,HR,eighty", "non-numeric value 'eighty' for HR"),
    ("01:00,HR,nan", "non-finite value"),
])
def test_malformed_line_stops_with_file_and_line(tmp_path, line, problem):
    with pytest.raises(ValueError, match=problem) as err:
        _parse_one(tmp_path, f"00:30,HR,70\n{line}\n")
    assert "set-a.tar.gz:set-a/1.txt, line 9" in str(err.value)


def test_record_without_outcome_is_an_error(tmp_path):
    write_set(tmp_path, "a", {1: HEADER.format(rid=1)}, {1: 0})
    (tmp_path / "Outcomes-a.txt").write_text("RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n")
    with pytest.raises(ValueError, match="RecordID 1 has no row in Outcomes-a.txt"):
        challenge2012.parse({"a": tmp_path / "set-a.tar.gz"}, {"a": tmp_path / "Outcomes-a.txt"})


def test_truncated_archive_is_refused(tmp_path):
    folder = make_challenge2012(tmp_path, sets=("a",), n_per_set=5)
    archive = folder / "set-a.tar.gz"
    archive.write_bytes(archive.read_bytes()[:-200])
    with pytest.raises(ArchiveError, match="set-a.tar.gz"):
        challenge2012.parse({"a": archive}, {"a": folder / "Outcomes-a.txt"})


def test_fixture_sets_concatenate_in_order(tmp_path):
    folder = make_challenge2012(tmp_path, sets=("a", "b"), n_per_set=4)
    cohort = challenge2012.parse({s: folder / f"set-{s}.tar.gz" for s in "ab"},
                                 {s: folder / f"Outcomes-{s}.txt" for s in "ab"})
    assert cohort.n_stays == 8 and cohort.group.tolist() == ["a"] * 4 + ["b"] * 4
    assert (np.diff(cohort.stay_id) > 0).all()
