"""MIMIC-III / MIMIC-IV demo loaders on generated tables (planted values listed in make_mimic3_demo)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fixtures.publishers import make_mimic3_demo, make_mimic4_demo
from medrobust.data.mimic_demo import INTERNAL, item_map, parse_mimic3, parse_mimic4
from medrobust.data.variables import CHALLENGE2012_STATIC, CHALLENGE2012_VARIABLES

KEPT = [200001, 200004, 200005, 200006, 200007]  # 200002 (child) and 200003 (30 min) are dropped
PLANTED = {  # variable -> {hour: value} in stay 200001, by hand from the fixture's documentation
    "HR": {0: 85.0, 47: 100.0},
    "Temp": {2: 37.0},
    "FiO2": {3: 0.5},
    "GCS": {4: 15.0},
    "MechVent": {5: 1.0, 10: 1.0, 11: 1.0, 12: 1.0},
    "Creatinine": {6: 1.3},
    "Urine": {3: 150.0},
}


@pytest.fixture(scope="module")
def mimic3(tmp_path_factory):
    return make_mimic3_demo(tmp_path_factory.mktemp("mimic3"))


@pytest.fixture(scope="module")
def mimic4(tmp_path_factory):
    return make_mimic4_demo(tmp_path_factory.mktemp("mimic4"))


def _observed(cohort, stay, name):
    j = list(cohort.variables).index(name)
    return {int(h): float(cohort.values[stay, h, j]) for h in np.flatnonzero(cohort.mask[stay, :, j])}


@pytest.mark.parametrize("version", ["mimic3", "mimic4"])
def test_planted_values_land_in_their_hourly_bins(version, mimic3, mimic4):
    cohort = parse_mimic3(mimic3) if version == "mimic3" else parse_mimic4(mimic4)
    assert cohort.values.shape == (5, 48, 37) and cohort.mask.shape == (5, 48, 37)
    assert cohort.values.dtype == np.float32 and cohort.mask.dtype == np.uint8
    assert cohort.variables.tolist() == list(CHALLENGE2012_VARIABLES)
    assert cohort.stay_id.tolist() == KEPT
    assert cohort.group.tolist() == ["demo"] * 5
    # the charted admission weight is also a time series, as in the 2012 records
    planted = {**PLANTED, "Weight": {1: 80.0 if version == "mimic3" else 200 * 0.45359237}}
    for name, expected in planted.items():
        got = _observed(cohort, 0, name)
        assert got.keys() == expected.keys(), name
        np.testing.assert_allclose(list(got.values()), list(expected.values()), rtol=1e-6, err_msg=name)
    # the readmission's lab goes to its own stay, not to the planted one
    assert _observed(cohort, 4, "Creatinine") == {1: 2.0}
    # values are NaN exactly where the mask is 0
    np.testing.assert_array_equal(np.isnan(cohort.values), cohort.mask == 0)
    # nothing planted in stay 200001 beyond the list above
    observed = {str(v) for v in cohort.variables[cohort.mask[0].any(axis=0).astype(bool)]}
    assert observed == set(planted)


@pytest.mark.parametrize("version", ["mimic3", "mimic4"])
def test_static_descriptors_and_label(version, mimic3, mimic4):
    cohort = parse_mimic3(mimic3) if version == "mimic3" else parse_mimic4(mimic4)
    static = pd.DataFrame(cohort.static, columns=cohort.static_names)
    assert cohort.static_names.tolist() == list(CHALLENGE2012_STATIC)
    assert static["Age"].iloc[0] == pytest.approx(60.0, abs=0.01)
    assert static["Age"].iloc[1] == 90.0  # de-identified age over 89, top-coded
    assert static["Gender"].tolist() == [1, 0, 1, 0, 1]
    height, weight = (177.8, 80.0) if version == "mimic3" else (180.0, 200 * 0.45359237)
    assert static["Height"].iloc[0] == pytest.approx(height) and static["Weight"].iloc[0] == pytest.approx(weight)
    assert static["Weight"].iloc[1] == 65.0  # no charted weight: patientweight of the input events
    # CSRU/CVICU -> 2, MICU -> 3, CCU -> 1, TSICU -> 4; IV's mixed MICU/SICU has no 2012 type
    expected_type = [2, 3, 1, 4, 2] if version == "mimic3" else [2, 3, 1, np.nan, 2]
    np.testing.assert_array_equal(static["ICUType"].to_numpy(), expected_type)
    assert cohort.label.tolist() == [1, 0, 0, 1, 0]


def test_default_mirror_tables_only(mimic3, mimic4):
    """The mirror lacks III's CHARTEVENTS/LABEVENTS and IV's chartevents: those variables are never observed."""
    core3 = {k: mimic3[k] for k in ("ADMISSIONS", "ICUSTAYS", "PATIENTS", "OUTPUTEVENTS")}
    cohort = parse_mimic3(core3)
    seen = {str(v) for v in cohort.variables[cohort.mask.any(axis=(0, 1)).astype(bool)]}
    assert seen == {"Urine"}
    assert np.isnan(cohort.static[:, list(cohort.static_names).index("Height")]).all()
    core4 = {k: mimic4[k] for k in ("hosp/admissions", "hosp/patients", "icu/icustays",
                                    "icu/outputevents", "hosp/labevents")}
    cohort = parse_mimic4(core4)
    seen = {str(v) for v in cohort.variables[cohort.mask.any(axis=(0, 1)).astype(bool)]}
    assert seen == {"Urine", "Creatinine"}
    assert _observed(cohort, 0, "Creatinine") == {6: pytest.approx(1.3)}


def test_credentialed_mode_hides_stay_ids(mimic3):
    cohort = parse_mimic3(mimic3, open_data=False, dataset="mimic3", group="full")
    assert cohort.stay_id.tolist() == [0, 1, 2, 3, 4]
    assert cohort.dataset == "mimic3" and set(cohort.group) == {"full"}


def test_shorter_window(mimic3):
    cohort = parse_mimic3(mimic3, hours=24)
    assert cohort.values.shape == (5, 24, 37)
    assert _observed(cohort, 0, "HR") == {0: 85.0}


def test_small_chunks_give_the_same_cohort(mimic4):
    whole, chunked = parse_mimic4(mimic4), parse_mimic4(mimic4, chunksize=7)
    np.testing.assert_array_equal(whole.mask, chunked.mask)
    np.testing.assert_allclose(whole.values, chunked.values, rtol=1e-6)
    np.testing.assert_array_equal(whole.static, chunked.static)


def test_upper_case_headers_of_full_mimic3(mimic3, tmp_path):
    """Full MIMIC-III writes its headers in upper case; the demo in lower case."""
    upper = {}
    for table, path in mimic3.items():
        frame = pd.read_csv(path, dtype=str)
        upper[table] = tmp_path / path.name
        frame.rename(columns=str.upper).to_csv(upper[table], index=False)
    a, b = parse_mimic3(mimic3), parse_mimic3(upper)
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-6)


def test_missing_column_is_refused_naming_file_and_column(mimic3, tmp_path):
    broken = tmp_path / "OUTPUTEVENTS.csv"
    pd.read_csv(mimic3["OUTPUTEVENTS"]).drop(columns="charttime").to_csv(broken, index=False)
    with pytest.raises(ValueError, match=r"OUTPUTEVENTS.csv: missing required column 'charttime'"):
        parse_mimic3({**mimic3, "OUTPUTEVENTS": broken})
    broken = tmp_path / "ADMISSIONS.csv"
    pd.read_csv(mimic3["ADMISSIONS"]).drop(columns="hospital_expire_flag").to_csv(broken, index=False)
    with pytest.raises(ValueError, match=r"ADMISSIONS.csv: missing required column 'hospital_expire_flag'"):
        parse_mimic3({**mimic3, "ADMISSIONS": broken})


def test_missing_core_table_and_unknown_table_are_refused(mimic3):
    with pytest.raises(ValueError, match="lacks the core table 'PATIENTS'"):
        parse_mimic3({k: v for k, v in mimic3.items() if k != "PATIENTS"})
    with pytest.raises(ValueError, match="table 'NOTEEVENTS' is not one this parser reads"):
        parse_mimic3({**mimic3, "NOTEEVENTS": mimic3["PATIENTS"]})


@pytest.mark.parametrize("source", ["mimic3", "mimic4"])
def test_item_map_covers_every_2012_variable(source):
    items = item_map(source)
    covered = set(items["variable"].str.replace(r"\.(eye|verbal|motor)$", "", regex=True))
    assert set(CHALLENGE2012_VARIABLES) <= covered
    assert covered <= set(CHALLENGE2012_VARIABLES) | set(INTERNAL) | {"GCS"}
