"""The 48-hour ICU stay tensor from MIMIC-III and MIMIC-IV (the open demos, or the full credentialed sets).

Sources:
- MIMIC-III Clinical Database Demo 1.4, https://physionet.org/content/mimiciii-demo/1.4/ (Johnson et al.,
  Scientific Data 2016): ``ADMISSIONS.csv``, ``ICUSTAYS.csv``, ``PATIENTS.csv`` and event tables.
- MIMIC-IV Clinical Database Demo 2.2, https://physionet.org/content/mimic-iv-demo/2.2/ (Johnson et al.,
  Scientific Data 2023): ``hosp/*.csv.gz`` and ``icu/*.csv.gz``.

The stays are mapped onto the PhysioNet 2012 variables (:mod:`medrobust.data.variables`) through the
item ids of ``mimic_itemids.csv``, so that one model serves every source. A stay is kept when the
patient is an adult (16 or older) and the ICU stay lasted at least one hour; the window is the first
``hours`` hours after ICU ``intime``, in hourly bins holding the mean of the values charted in that hour.
Which event tables are read is the caller's choice (``files``): the public mirror lacks MIMIC-III's
CHARTEVENTS and LABEVENTS and MIMIC-IV's chartevents, and every variable a missing table would supply
is simply never observed. Event tables are streamed in chunks so that full MIMIC (CHARTEVENTS is
about 330 million rows) fits in bounded memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from medrobust.data.cohort import Cohort
from medrobust.data.variables import CHALLENGE2012_STATIC, CHALLENGE2012_VARIABLES

HOUR = pd.Timedelta(hours=1)
MIN_AGE = 16
# Ages over 89 are hidden by MIMIC (III shifts the birth date by about 300 years, IV reports 91):
# top-coding them at one value keeps them adults without inventing an age.
MAX_AGE = 90
# Item ids that feed a static descriptor or a sum are binned beside the 36 series, then folded in.
# (Should Weight join the series, as a time series of the 2012 data, it is binned once, as a series.)
INTERNAL = tuple(name for name in ("GCS.eye", "GCS.verbal", "GCS.motor", "Height", "Weight")
                 if name not in CHALLENGE2012_VARIABLES)
CONVERSIONS = {
    "": lambda v: v,
    "F_to_C": lambda v: (v - 32.0) * 5.0 / 9.0,
    # FiO2 is charted as a percentage, but some rows hold the fraction already.
    "percent_to_fraction": lambda v: np.where(v > 1.0, v / 100.0, v),
    "lb_to_kg": lambda v: v * 0.45359237,
    "in_to_cm": lambda v: v * 2.54,
    "presence": lambda v: np.where(np.isnan(v), np.nan, 1.0),
}


@dataclass(frozen=True)
class EventTable:
    """Where the stay, the time and the value sit in one event table."""

    kind: str                   # 'point' (one time) or 'interval' (start and end)
    stay_key: str | None        # ICU stay column; None: matched on subject_id and time (labs)
    time: str
    value: str | None = None    # numeric value
    text: str | None = None     # value as charted; used by 'presence' items whose value is text
    end: str | None = None      # interval end
    error: str | None = None    # optional: 1 marks a row the staff flagged as an error
    status: str | None = None   # optional: 'Rewritten' marks a superseded interval


@dataclass(frozen=True)
class Layout:
    """Table names and columns of one MIMIC version."""

    source: str
    stays: str
    admissions: str
    patients: str
    stay_id: str
    events: dict[str, EventTable]
    weights: dict[str, EventTable]  # tables with a per-row 'patientweight'


MIMIC3 = Layout(
    source="mimic3", stays="ICUSTAYS", admissions="ADMISSIONS", patients="PATIENTS", stay_id="icustay_id",
    events={
        "CHARTEVENTS": EventTable("point", "icustay_id", "charttime", "valuenum", "value", error="error"),
        "LABEVENTS": EventTable("point", None, "charttime", "valuenum", "value"),
        "OUTPUTEVENTS": EventTable("point", "icustay_id", "charttime", "value", error="iserror"),
        "PROCEDUREEVENTS_MV": EventTable("interval", "icustay_id", "starttime", end="endtime",
                                         status="statusdescription"),
    },
    weights={"INPUTEVENTS_MV": EventTable("point", "icustay_id", "starttime", "patientweight")},
)
MIMIC4 = Layout(
    source="mimic4", stays="icu/icustays", admissions="hosp/admissions", patients="hosp/patients",
    stay_id="stay_id",
    events={
        "icu/chartevents": EventTable("point", "stay_id", "charttime", "valuenum", "value"),
        "hosp/labevents": EventTable("point", None, "charttime", "valuenum", "value"),
        "icu/outputevents": EventTable("point", "stay_id", "charttime", "value"),
        "icu/procedureevents": EventTable("interval", "stay_id", "starttime", end="endtime",
                                          status="statusdescription"),
    },
    weights={"icu/inputevents": EventTable("point", "stay_id", "starttime", "patientweight")},
)

# first_careunit -> 2012 ICUType (1 Coronary Care, 2 Cardiac Surgery Recovery, 3 Medical, 4 Surgical).
# Trauma and neuro surgical ICUs are surgical ICUs; mixed or step-down units have no 2012 type.
ICU_TYPE = {
    "CCU": 1, "CSRU": 2, "MICU": 3, "SICU": 4, "TSICU": 4,
    "Coronary Care Unit (CCU)": 1,
    "Cardiac Vascular Intensive Care Unit (CVICU)": 2,
    "Medical Intensive Care Unit (MICU)": 3,
    "Surgical Intensive Care Unit (SICU)": 4,
    "Trauma SICU (TSICU)": 4,
    "Neuro Surgical Intensive Care Unit (Neuro SICU)": 4,
}


def parse_mimic3(files: dict[str, Path], hours: int = 48, open_data: bool = True, *,
                 dataset: str = "mimic3_demo", group: str = "demo", chunksize: int = 1_000_000) -> Cohort:
    """Cohort from MIMIC-III tables: ``files`` maps 'ADMISSIONS', 'ICUSTAYS', 'PATIENTS' and any of
    'CHARTEVENTS', 'LABEVENTS', 'OUTPUTEVENTS', 'PROCEDUREEVENTS_MV', 'INPUTEVENTS_MV' to paths.

    With ``open_data=False`` (credentialed MIMIC) stay ids are replaced by 0..N-1.
    """
    return _parse(MIMIC3, files, hours, open_data, dataset, group, chunksize)


def parse_mimic4(files: dict[str, Path], hours: int = 48, open_data: bool = True, *,
                 dataset: str = "mimic4_demo", group: str = "demo", chunksize: int = 1_000_000) -> Cohort:
    """Cohort from MIMIC-IV tables: ``files`` maps 'hosp/admissions', 'hosp/patients', 'icu/icustays'
    and any of 'icu/chartevents', 'hosp/labevents', 'icu/outputevents', 'icu/procedureevents',
    'icu/inputevents' to paths.

    With ``open_data=False`` (credentialed MIMIC) stay ids are replaced by 0..N-1.
    """
    return _parse(MIMIC4, files, hours, open_data, dataset, group, chunksize)


def item_map(source: str) -> pd.DataFrame:
    """Rows of ``mimic_itemids.csv`` for one source ('mimic3' or 'mimic4'), checked."""
    with resources.files("medrobust.data").joinpath("mimic_itemids.csv").open("r") as handle:
        items = pd.read_csv(handle, dtype={"itemid": "int64"}, keep_default_na=False)
    known = set(CHALLENGE2012_VARIABLES) | set(INTERNAL)
    bad = items[~items["variable"].isin(known) | ~items["conversion"].isin(list(CONVERSIONS))]
    if len(bad):
        raise ValueError(f"mimic_itemids.csv: unknown variable or conversion in row {bad.iloc[0].to_dict()}")
    twice = items[items.duplicated(["source", "table", "itemid"])]
    if len(twice):
        raise ValueError(f"mimic_itemids.csv: item id mapped twice in row {twice.iloc[0].to_dict()}")
    return items[items["source"] == source].reset_index(drop=True)


def _parse(layout: Layout, files: dict[str, Path], hours: int, open_data: bool,
           dataset: str, group: str, chunksize: int) -> Cohort:
    _check_files(layout, files)
    stays = _stays(layout, files)
    names = list(CHALLENGE2012_VARIABLES) + list(INTERNAL)
    bins = _Bins(len(stays), hours, len(names))
    items = item_map(layout.source)
    for table, spec in layout.events.items():
        if table in files:
            rules = items[items["table"] == table]
            column = rules["variable"].map({name: i for i, name in enumerate(names)}).to_numpy()
            rules = rules.assign(column=column)
            reader = _add_points if spec.kind == "point" else _add_intervals
            reader(bins, Path(files[table]), spec, rules, stays, hours, chunksize)
    values, mask = bins.means(names)
    static = _static(stays, values, names, _patient_weights(layout, files, stays, chunksize))
    n_series = len(CHALLENGE2012_VARIABLES)
    stay_id = stays["stay_id"].to_numpy(np.int64) if open_data else np.arange(len(stays), dtype=np.int64)
    return Cohort(values=values[..., :n_series].astype(np.float32), mask=mask[..., :n_series].astype(np.uint8),
                  variables=np.array(CHALLENGE2012_VARIABLES), static=static,
                  static_names=np.array(CHALLENGE2012_STATIC), label=stays["label"].to_numpy(np.int8),
                  stay_id=stay_id, group=np.full(len(stays), group), dataset=dataset)


def _check_files(layout: Layout, files: dict[str, Path]) -> None:
    for table in (layout.stays, layout.admissions, layout.patients):
        if table not in files:
            raise ValueError(f"{layout.source}: files lacks the core table {table!r}")
    known = {layout.stays, layout.admissions, layout.patients, *layout.events, *layout.weights}
    unknown = sorted(set(files) - known)
    if unknown:
        raise ValueError(f"{layout.source}: table {unknown[0]!r} is not one this parser reads; "
                         f"known: {sorted(known)}")


# --- stays ---------------------------------------------------------------------------------------

def _stays(layout: Layout, files: dict[str, Path]) -> pd.DataFrame:
    """Adult ICU stays of at least one hour, sorted by stay id, with age, gender, ICU type and label."""
    sid = layout.stay_id
    icu = _read(files[layout.stays], ["subject_id", "hadm_id", sid, "first_careunit", "intime", "outtime"])
    adm = _read(files[layout.admissions], ["hadm_id", "hospital_expire_flag"])
    if layout.source == "mimic3":
        pat = _read(files[layout.patients], ["subject_id", "gender", "dob"])
    else:
        pat = _read(files[layout.patients], ["subject_id", "gender", "anchor_age", "anchor_year"])
    stays = icu.rename(columns={sid: "stay_id"}).merge(adm, on="hadm_id").merge(pat, on="subject_id")
    stays["intime"] = _times(stays["intime"])
    stays["outtime"] = _times(stays["outtime"])
    if layout.source == "mimic3":
        # In seconds: the ~300-year gaps of shifted birth dates overflow nanosecond timedeltas.
        days = (_seconds(stays["intime"]) - _seconds(_times(stays["dob"]))) / np.timedelta64(1, "D")
        age = pd.Series(days / 365.2425, index=stays.index)
    else:
        age = stays["anchor_age"] + (stays["intime"].dt.year - stays["anchor_year"])
    stays["age"] = np.minimum(age.astype(float), MAX_AGE)
    stays["gender"] = stays["gender"].map({"F": 0.0, "M": 1.0})
    stays["icu_type"] = stays["first_careunit"].map(ICU_TYPE).astype(float)
    stays["label"] = pd.to_numeric(stays["hospital_expire_flag"])
    keep = (stays["age"] >= MIN_AGE) & (stays["outtime"] - stays["intime"] >= HOUR)
    return stays[keep].sort_values("stay_id").reset_index(drop=True)


# --- events --------------------------------------------------------------------------------------

class _Bins:
    """Running sums and counts per (stay, hour, variable); the hourly mean is sum / count."""

    def __init__(self, n: int, hours: int, width: int) -> None:
        self.sums = np.zeros((n, hours, width), dtype=np.float64)
        self.counts = np.zeros((n, hours, width), dtype=np.int32)

    def add(self, stay: np.ndarray, hour: np.ndarray, column: np.ndarray, value: np.ndarray) -> None:
        _, hours, width = self.sums.shape
        key = (stay.astype(np.int64) * hours + hour.astype(np.int64)) * width + column.astype(np.int64)
        # Aggregate within the chunk first, so that each cell is written once (fancy += drops repeats).
        grouped = pd.DataFrame({"key": key, "value": value}).groupby("key")["value"].agg(["sum", "count"])
        cells = grouped.index.to_numpy()
        self.sums.reshape(-1)[cells] += grouped["sum"].to_numpy()
        self.counts.reshape(-1)[cells] += grouped["count"].to_numpy(np.int32)

    def means(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Hourly means (NaN where unobserved) and the mask, with GCS completed from its components."""
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)
        col = {name: i for i, name in enumerate(names)}
        parts = values[..., [col["GCS.eye"], col["GCS.verbal"], col["GCS.motor"]]]
        total = parts.sum(axis=-1)  # NaN unless all three components were charted in the hour
        gcs = values[..., col["GCS"]]
        values[..., col["GCS"]] = np.where(np.isnan(gcs), total, gcs)
        return values, ~np.isnan(values)


def _add_points(bins: _Bins, path: Path, spec: EventTable, rules: pd.DataFrame, stays: pd.DataFrame,
                hours: int, chunksize: int) -> None:
    """Bin a table of timed values (chart, lab and output events)."""
    wanted = [spec.stay_key or "subject_id", "itemid", spec.time, spec.value]
    if spec.text:
        wanted.append(spec.text)
    for chunk in _chunks(path, wanted, [spec.error], chunksize, itemids=rules["itemid"], text=(spec.text,)):
        if spec.error in chunk:
            chunk = chunk[pd.to_numeric(chunk[spec.error], errors="coerce").fillna(0) != 1]
        chunk = _locate(chunk, spec, stays)
        rule = rules.set_index("itemid").loc[chunk["itemid"]]
        raw = pd.to_numeric(chunk[spec.value], errors="coerce").to_numpy(np.float64)
        presence = rule["conversion"].to_numpy() == "presence"
        if spec.text:  # a presence item counts when anything was charted, text included
            raw = np.where(presence & chunk[spec.text].notna().to_numpy(), 1.0, raw)
        value = _convert(raw, rule["conversion"].to_numpy())
        hour = _hours_since(chunk[spec.time], chunk["intime"])
        keep = ~np.isnan(value) & (hour >= 0) & (hour < hours)
        bins.add(chunk["stay"].to_numpy()[keep], hour[keep], rule["column"].to_numpy()[keep], value[keep])


def _add_intervals(bins: _Bins, path: Path, spec: EventTable, rules: pd.DataFrame, stays: pd.DataFrame,
                   hours: int, chunksize: int) -> None:
    """Bin a table of intervals (ventilation in procedure events): 1 in every hour an interval overlaps."""
    wanted = [spec.stay_key, "itemid", spec.time, spec.end]
    for chunk in _chunks(path, wanted, [spec.status], chunksize, itemids=rules["itemid"], text=(spec.status,)):
        if spec.status in chunk:
            chunk = chunk[chunk[spec.status].fillna("") != "Rewritten"]
        chunk = _locate(chunk, spec, stays)
        start = _hours_since(chunk[spec.time], chunk["intime"], np.floor)
        end = _hours_since(chunk[spec.end], chunk["intime"], np.ceil)
        end = np.where(np.isnan(end), start + 1, np.maximum(end, start + 1))
        first, last = np.clip(start, 0, hours), np.clip(end, 0, hours)
        ok = ~np.isnan(start) & (last > first)
        first, last = first[ok].astype(np.int64), last[ok].astype(np.int64)
        lengths = last - first
        row = np.repeat(np.arange(len(first)), lengths)
        hour = first[row] + np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        column = rules.set_index("itemid").loc[chunk["itemid"], "column"].to_numpy()[ok][row]
        bins.add(chunk["stay"].to_numpy()[ok][row], hour, column, np.ones(len(row)))


def _locate(chunk: pd.DataFrame, spec: EventTable, stays: pd.DataFrame) -> pd.DataFrame:
    """Attach the cohort row ('stay') and ICU intime to each event; drop events of other stays.

    Lab events carry no ICU stay, so they are matched on the patient; the time window then picks
    the stay (a patient's ICU stays do not overlap).
    """
    if spec.stay_key is None:
        index = stays[["subject_id", "intime"]].assign(stay=np.arange(len(stays)))
        chunk = chunk.assign(subject_id=pd.to_numeric(chunk["subject_id"]))
        return chunk.merge(index, on="subject_id", how="inner")
    ids = pd.Index(stays["stay_id"].to_numpy(np.int64))
    where = ids.get_indexer(pd.to_numeric(chunk[spec.stay_key]).fillna(-1).astype(np.int64))
    chunk = chunk[where >= 0].assign(stay=where[where >= 0])
    return chunk.assign(intime=stays["intime"].to_numpy()[chunk["stay"].to_numpy()])


def _convert(raw: np.ndarray, conversion: np.ndarray) -> np.ndarray:
    out = raw.copy()
    for name in np.unique(conversion):
        rows = conversion == name
        out[rows] = CONVERSIONS[name](raw[rows])
    return out


def _hours_since(times: pd.Series, origin: pd.Series, rounding=np.floor) -> np.ndarray:
    """Hours from ``origin`` (ICU intime), rounded down (a bin index) or up; NaN where time is missing."""
    delta = (_seconds(_times(times)) - _seconds(origin)) / np.timedelta64(1, "h")
    return rounding(delta.astype(np.float64))


def _patient_weights(layout: Layout, files: dict[str, Path], stays: pd.DataFrame, chunksize: int) -> np.ndarray:
    """Per stay, the 'patientweight' (kg) of its earliest input event; NaN without one or the table."""
    weight = np.full(len(stays), np.nan)
    earliest = np.full(len(stays), np.datetime64("NaT"), dtype="datetime64[s]")
    for table, spec in layout.weights.items():
        if table not in files:
            continue
        for chunk in _chunks(Path(files[table]), [spec.stay_key, spec.time, spec.value], [], chunksize):
            chunk = _locate(chunk, spec, stays)
            chunk = chunk.assign(time=_times(chunk[spec.time]), w=pd.to_numeric(chunk[spec.value], errors="coerce"))
            first = chunk.dropna(subset=["time", "w"]).sort_values("time").drop_duplicates("stay")
            rows, times = first["stay"].to_numpy(), first["time"].to_numpy().astype("datetime64[s]")
            better = np.isnat(earliest[rows]) | (times < earliest[rows])
            weight[rows[better]] = first["w"].to_numpy()[better]
            earliest[rows[better]] = times[better]
    return weight


def _static(stays: pd.DataFrame, values: np.ndarray, names: list[str], input_weight: np.ndarray) -> np.ndarray:
    """Age, Gender, Height, ICUType, Weight: height and weight are the first charted in the window,
    the weight falling back to the input events' patientweight."""
    col = {name: i for i, name in enumerate(names)}
    height = _first_observed(values[..., col["Height"]])
    weight = _first_observed(values[..., col["Weight"]])
    weight = np.where(np.isnan(weight), input_weight, weight)
    by_name = {"Age": stays["age"].to_numpy(float), "Gender": stays["gender"].to_numpy(float),
               "Height": height, "ICUType": stays["icu_type"].to_numpy(float), "Weight": weight}
    return np.stack([by_name[name] for name in CHALLENGE2012_STATIC], axis=1).astype(np.float32)


def _first_observed(series: np.ndarray) -> np.ndarray:
    """First non-NaN value along the hour axis of (N, T); NaN where none."""
    seen = ~np.isnan(series)
    first = seen.argmax(axis=1)
    return np.where(seen.any(axis=1), series[np.arange(len(series)), first], np.nan)


# --- reading -------------------------------------------------------------------------------------

def _columns(path: Path, required: list[str], optional: list[str | None] = ()) -> dict[str, str]:
    """Map lower-case column names to the file's own (full MIMIC-III is upper case, the demo lower)."""
    header = pd.read_csv(path, nrows=0).columns
    by_lower = {name.lower(): name for name in header}
    for column in required:
        if column not in by_lower:
            raise ValueError(f"{path}: missing required column {column!r}")
    return {c: by_lower[c] for c in [*required, *optional] if c and c in by_lower}


def _read(path: Path, required: list[str]) -> pd.DataFrame:
    """A small table (stays, admissions, patients), columns lower-cased."""
    columns = _columns(Path(path), required)
    frame = pd.read_csv(path, usecols=list(columns.values()))
    return frame.rename(columns={v: k for k, v in columns.items()})


def _chunks(path: Path, required: list[str], optional: list[str | None], chunksize: int,
            itemids: pd.Series | None = None, text: tuple[str | None, ...] = ()) -> Iterator[pd.DataFrame]:
    """Stream a large event table: only the needed columns, only the wanted item ids."""
    columns = _columns(path, required, optional)
    rename = {v: k for k, v in columns.items()}
    # Text columns ('value' of chart events) mix numbers and words: read as text so that every
    # chunk has the same dtype; numeric columns are parsed with to_numeric wherever they are used.
    dtype = {columns[key]: str for key in text if key in columns}
    for chunk in pd.read_csv(path, usecols=list(columns.values()), dtype=dtype, chunksize=chunksize):
        chunk = chunk.rename(columns=rename)
        if itemids is not None:
            chunk = chunk[chunk["itemid"].isin(itemids.to_numpy())]
        if len(chunk):
            yield chunk


def _seconds(times: pd.Series) -> np.ndarray:
    return times.to_numpy().astype("datetime64[s]")


def _times(series: pd.Series) -> pd.Series:
    # MIMIC writes 'YYYY-MM-DD HH:MM:SS'; ISO8601 also takes the date-only and fractional forms.
    return pd.to_datetime(series, format="ISO8601")
