"""PhysioNet/CinC Challenge 2012, "Predicting Mortality of ICU Patients" (Silva et al., CinC 2012).

Each stay is a ``Time,Parameter,Value`` text record (``HH:MM`` since ICU admission) inside
``set-{a,b,c}.tar.gz``; ``Outcomes-{a,b,c}.txt`` hold the in-hospital death label.
https://physionet.org/content/challenge-2012/1.0.0/

Handling of imperfect input (see README, "Corrupted and hostile inputs"); values are checked where
they are parsed, and anything wrong stops the parse with an error naming the archive, the record and
the line (or the outcomes file and its line): silently dropping or reinterpreting data would bias the
cohort. Refused: a line without three fields; a time that is not ``HH:MM`` with minutes 00-59 (a
negative time included); a non-numeric or non-finite value; a record without its RecordID line, with
a second one, or whose RecordID disagrees with its file name; a RecordID in two record files; a
general descriptor (Age, Gender, Height, ICUType) recorded after 00:00 or twice; an outcome label
other than 0/1, a RecordID listed twice in an Outcomes file, and records and outcome rows that do not
pair up.
The one skip: a line with an unknown or empty parameter name cannot be attributed to a variable; it is
skipped and counted, and the counts are logged by the caller (set c has 2,403 lines with an empty name).
Values after the window are counted too.
"""
from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from medrobust.data.archive import iter_tar_members
from medrobust.data.cohort import Cohort
from medrobust.data.variables import CHALLENGE2012_STATIC, CHALLENGE2012_VARIABLES

log = logging.getLogger(__name__)

STATIC = list(CHALLENGE2012_STATIC)
# Weight is both a descriptor at 00:00 and a time series.
TIME_SERIES = list(CHALLENGE2012_VARIABLES)
_VAR_INDEX = {name: i for i, name in enumerate(TIME_SERIES)}
# The general descriptors that exist only at admission (Weight is also a time series).
ADMISSION_ONLY = ("Age", "Gender", "Height", "ICUType")
_TIME = re.compile(r"(\d{2,}):(\d{2})")


@dataclass
class ParseReport:
    """What the parser saw but did not use; logged so that nothing is dropped silently."""

    unknown_parameters: Counter = field(default_factory=Counter)
    values_after_window: int = 0


def parse(archives: dict[str, os.PathLike], outcomes: dict[str, os.PathLike], hours: int = 48,
          report: ParseReport | None = None) -> Cohort:
    """Parse sets (``{"a": set-a.tar.gz, ...}``) with their outcome files into one :class:`Cohort`."""
    report = report if report is not None else ParseReport()
    seen: dict[int, str] = {}  # RecordID -> the record file that gave it, across all sets
    parts = [_parse_set(name, Path(archives[name]), Path(outcomes[name]), hours, report, seen)
             for name in sorted(archives)]
    cohort = Cohort(
        values=np.concatenate([p["values"] for p in parts]),
        mask=np.concatenate([p["mask"] for p in parts]),
        variables=np.array(TIME_SERIES),
        static=np.concatenate([p["static"] for p in parts]),
        static_names=np.array(STATIC),
        label=np.concatenate([p["label"] for p in parts]),
        stay_id=np.concatenate([p["stay_id"] for p in parts]),
        group=np.concatenate([p["group"] for p in parts]),
        dataset="challenge2012",
    )
    if report.unknown_parameters:
        log.warning("challenge2012: skipped unknown parameters %s", dict(report.unknown_parameters))
    if report.values_after_window:
        log.info("challenge2012: %d values after hour %d ignored", report.values_after_window, hours)
    return cohort


def read_outcomes(path: Path) -> dict[int, int]:
    """``RecordID -> In-hospital_death`` from an Outcomes file; each RecordID once, each label 0 or 1."""
    lines = _text(path.read_bytes(), str(path)).splitlines()
    header = lines[0].split(",") if lines else []
    if "RecordID" not in header or "In-hospital_death" not in header:
        raise ValueError(f"{path}: not a 2012 outcomes file (header {header!r})")
    rid, death = header.index("RecordID"), header.index("In-hospital_death")
    out: dict[int, int] = {}
    first_line: dict[int, int] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split(",")
        try:
            record, label = int(fields[rid]), fields[death].strip()
        except (ValueError, IndexError) as exc:
            raise ValueError(f"{path}, line {lineno}: malformed outcome {line!r}") from exc
        if label not in ("0", "1"):
            raise ValueError(f"{path}, line {lineno}: In-hospital_death {label!r} for RecordID {record} "
                             f"is not 0 or 1")
        if record in out:
            raise ValueError(f"{path}, line {lineno}: RecordID {record} is listed twice "
                             f"(first on line {first_line[record]})")
        out[record], first_line[record] = int(label), lineno
    return out


def parse_record(text: str, source: str, hours: int, report: ParseReport) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """One record -> (RecordID, static (S,), hourly sums (T,V) with counts (T,V))."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "Time,Parameter,Value":
        raise ValueError(f"{source}: line 1 is not the 'Time,Parameter,Value' header")
    static = np.full(len(STATIC), np.nan, dtype=np.float32)
    cells, values = [], []  # (hour * V + variable) and value of each kept observation
    record_id, id_line = None, 0
    descriptor_line: dict[str, int] = {}
    n_vars = len(TIME_SERIES)
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        time, minute, param, value = _split_line(line, source, lineno)
        if param == "RecordID":
            if record_id is not None:
                raise ValueError(f"{source}, line {lineno}: a second RecordID line ({value:g}); line {id_line} gave {record_id}")
            if not value.is_integer() or value <= 0:
                raise ValueError(f"{source}, line {lineno}: RecordID {value:g} is not a positive integer")
            record_id, id_line = int(value), lineno
        elif param in ADMISSION_ONLY:
            if minute != 0:
                raise ValueError(f"{source}, line {lineno}: {param} recorded at {time}; the challenge records its general "
                                 f"descriptors at 00:00 only")
            if param in descriptor_line:
                raise ValueError(f"{source}, line {lineno}: {param} recorded twice (also on line {descriptor_line[param]})")
            descriptor_line[param] = lineno
            static[STATIC.index(param)] = np.nan if value == -1 else value
        elif param == "Weight" and minute == 0 and np.isnan(static[STATIC.index("Weight")]):
            # The first known weight at 00:00 is the descriptor; later ones are the time series.
            static[STATIC.index("Weight")] = np.nan if value == -1 else value
        elif param in _VAR_INDEX:
            hour = _hour_bin(minute, hours)
            if hour is None:
                report.values_after_window += 1
                continue
            cells.append(hour * n_vars + _VAR_INDEX[param])
            values.append(value)
        else:
            report.unknown_parameters[param] += 1
    if record_id is None:
        raise ValueError(f"{source}: no RecordID line")
    # One vectorised accumulation per record: indexing numpy cell by cell dominated the parse time.
    cells = np.asarray(cells, dtype=np.int64)
    sums = np.bincount(cells, weights=np.asarray(values, dtype=np.float64), minlength=hours * n_vars)
    counts = np.bincount(cells, minlength=hours * n_vars).astype(np.int32)
    return record_id, static, sums.reshape(hours, n_vars), counts.reshape(hours, n_vars)


def _hour_bin(minute: int, hours: int) -> int | None:
    """Hour index of a time; ``hours:00`` exactly closes the window and joins its last hour."""
    if minute == hours * 60:
        return hours - 1
    hour = minute // 60
    return hour if hour < hours else None


def _split_line(line: str, source: str, lineno: int) -> tuple[str, int, str, float]:
    """``HH:MM,Parameter,Value`` -> (time text, minutes since admission, parameter, value)."""
    fields = line.strip().split(",")
    if len(fields) != 3:
        raise ValueError(f"{source}, line {lineno}: expected 3 comma-separated fields, got {line!r}")
    time, param, value = fields
    match = _TIME.fullmatch(time)
    if not match or int(match.group(2)) >= 60:
        why = "negative" if time.lstrip().startswith("-") else "minutes must be 00-59" if match else \
            "expected HH:MM since ICU admission"
        raise ValueError(f"{source}, line {lineno}: bad time {time!r} ({why})")
    minute = int(match.group(1)) * 60 + int(match.group(2))
    try:
        number = float(value)
    except ValueError as exc:
        raise ValueError(f"{source}, line {lineno}: non-numeric value {value!r} for {param}") from exc
    if not np.isfinite(number):
        raise ValueError(f"{source}, line {lineno}: non-finite value {value!r} for {param}")
    return time, minute, param, number


def _text(payload: bytes, source: str) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source}: not UTF-8 text (byte {exc.start}: {payload[exc.start:exc.start + 4]!r})") from None


def _parse_set(name: str, archive: Path, outcome_file: Path, hours: int, report: ParseReport,
               seen: dict[int, str]) -> dict:
    outcomes = read_outcomes(outcome_file)
    ids, statics, values, masks = [], [], [], []
    for member, payload in iter_tar_members(archive):
        if not member.endswith(".txt"):
            continue
        source = f"{archive.name}:{member}"
        rid, static, sums, counts = parse_record(_text(payload, source), source, hours, report)
        stem = PurePosixPath(member).stem
        if stem.isdigit() and int(stem) != rid:
            raise ValueError(f"{source}: RecordID {rid} disagrees with the file name {stem}.txt")
        if rid in seen:
            raise ValueError(f"{source}: RecordID {rid} is also in {seen[rid]}; each stay must appear once")
        seen[rid] = source
        if rid not in outcomes:
            raise ValueError(f"{source}: RecordID {rid} has no row in {outcome_file.name}")
        with np.errstate(invalid="ignore", divide="ignore"):
            values.append(np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).astype(np.float32))
        masks.append((counts > 0).astype(np.uint8))
        ids.append(rid)
        statics.append(static)
    if not ids:
        raise ValueError(f"{archive}: holds no record files (*.txt)")
    missing = sorted(set(outcomes) - set(ids))
    if missing:
        raise ValueError(f"{outcome_file}: {len(missing)} outcome rows have no record in {archive.name}, "
                         f"e.g. RecordID {missing[0]}")
    order = np.argsort(ids)
    return {
        "values": np.stack(values)[order], "mask": np.stack(masks)[order],
        "static": np.stack(statics)[order], "stay_id": np.asarray(ids, dtype=np.int64)[order],
        "label": np.asarray([outcomes[i] for i in ids], dtype=np.int8)[order],
        "group": np.full(len(ids), name),
    }
