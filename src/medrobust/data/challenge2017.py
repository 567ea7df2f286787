"""PhysioNet/CinC Challenge 2017: AF classification from a short single-lead ECG (Clifford et al., CinC 2017).

Source: https://physionet.org/content/challenge-2017/1.0.0/ — ``training2017.zip`` holds, per record,
``Axxxxx.mat`` (MATLAB v4, one variable ``val`` of shape (1, L), int16 ADC units, 1000 ADC units/mV)
and ``Axxxxx.hea`` (WFDB header, 300 Hz), plus ``RECORDS``; ``REFERENCE-v3.csv`` beside it holds
the updated labels: N normal, A atrial fibrillation, O other rhythm, ~ too noisy.

The records vary in length (9 s to 61 s), so they are kept concatenated with offsets, in the ADC units
the publisher stored; :func:`crop_or_pad` makes the fixed-length matrix a model wants.
"""
from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import scipy.io

from medrobust.core.io import read_npz, write_npz
from medrobust.data.archive import iter_zip_members

LABELS: tuple[str, ...] = ("N", "A", "O", "~")
FS = 300


@dataclass
class EcgSet:
    """Variable-length single-lead ECG records, concatenated.

    signal:  int16 (total samples,); record i is ``signal[offsets[i]:offsets[i + 1]]``.
    offsets: int64 (N + 1,); starts at 0, ends at ``len(signal)``.
    label:   (N,) str, one of :data:`LABELS`.
    record:  (N,) str, the publisher's record names ('A00001').
    fs:      sampling frequency in Hz.
    """

    signal: np.ndarray
    offsets: np.ndarray
    label: np.ndarray
    record: np.ndarray
    fs: int

    def __post_init__(self) -> None:
        n = len(self.record)
        if self.offsets.shape != (n + 1,) or self.label.shape != (n,):
            raise ValueError(f"ECG set: offsets {self.offsets.shape} and labels {self.label.shape} "
                             f"do not fit {n} records")
        if n and (self.offsets[0] != 0 or self.offsets[-1] != len(self.signal) or np.any(np.diff(self.offsets) < 0)):
            raise ValueError("ECG set: offsets must rise from 0 to the signal length")

    @property
    def n_records(self) -> int:
        return len(self.record)

    @property
    def lengths(self) -> np.ndarray:
        """Samples per record."""
        return np.diff(self.offsets)

    def record_signal(self, i: int) -> np.ndarray:
        return self.signal[self.offsets[i]:self.offsets[i + 1]]


def parse(zip_path: str | os.PathLike, reference_path: str | os.PathLike | None, fs: int = FS) -> EcgSet:
    """Read every ``training2017/*.mat`` with its ``.hea`` from the zip, labelled from ``reference_path``.

    Raises ValueError naming the record when a header disagrees with its signal (sampling frequency,
    sample count, file name), when a .mat lacks its .hea or the reverse, when RECORDS disagrees with
    the .mat files, or when a record has no label or a label has no record.
    """
    zip_path = Path(zip_path)
    signals, headers, listed = _read_zip(zip_path)
    _check_pairs(zip_path, signals, headers, listed)
    labels = read_reference(reference_path) if reference_path else _zip_reference(zip_path)
    reference_path = reference_path or f"{zip_path}:REFERENCE.csv"
    _check_labels(zip_path, reference_path, set(signals), labels)
    names = sorted(signals)
    for name in names:
        _check_header(zip_path, name, headers[name], signals[name], fs)
    lengths = np.array([len(signals[name]) for name in names], dtype=np.int64)
    return EcgSet(signal=np.concatenate([signals[name] for name in names]).astype(np.int16) if names
                  else np.zeros(0, np.int16),
                  offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                  label=np.array([labels[name] for name in names], dtype="U1"),
                  record=np.array(names, dtype=str), fs=int(fs))


def read_reference(path: str | os.PathLike) -> dict[str, str]:
    """``record -> label`` from a REFERENCE csv (``A00001,N`` lines, no header)."""
    return _parse_reference(Path(path).read_bytes(), str(path))


def _parse_reference(data: bytes, source: str) -> dict[str, str]:
    """``source`` names the file in messages: a path, or ``archive:member`` for the zip's own list."""
    labels: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for lineno, row in enumerate(csv.reader(io.StringIO(_ascii(data, source), newline="")), start=1):
        if not row or not row[0].strip():
            continue
        if len(row) != 2 or row[1].strip() not in LABELS:
            raise ValueError(f"{source}, line {lineno}: malformed reference line {row!r}; expected "
                             f"'record,label' with a label in {LABELS}")
        record = row[0].strip()
        if record in labels:
            raise ValueError(f"{source}, line {lineno}: record {record} is labelled twice "
                             f"(first on line {first_line[record]})")
        labels[record], first_line[record] = row[1].strip(), lineno
    return labels


def _zip_reference(zip_path: Path) -> dict[str, str]:
    """The original labels: the REFERENCE.csv shipped inside training2017.zip."""
    for member, data in iter_zip_members(zip_path):
        if PurePosixPath(member).name == "REFERENCE.csv":
            return _parse_reference(data, f"{zip_path}:{member}")
    raise ValueError(f"{zip_path}: has no REFERENCE.csv (the original labels)")


def _read_zip(zip_path: Path) -> tuple[dict[str, np.ndarray], dict[str, str], set[str] | None]:
    """Signals and header texts by record name, and the RECORDS list if the zip has one."""
    signals: dict[str, np.ndarray] = {}
    headers: dict[str, str] = {}
    listed: set[str] | None = None
    for member, data in iter_zip_members(zip_path):
        path = PurePosixPath(member)
        if path.suffix == ".mat":
            _check_unique(zip_path, member, path.stem, signals)
            signals[path.stem] = _load_mat(zip_path, member, data)
        elif path.suffix == ".hea":
            _check_unique(zip_path, member, path.stem, headers)
            headers[path.stem] = _ascii(data, f"{zip_path}:{member}")
        elif path.name == "RECORDS":
            listed = set(_ascii(data, f"{zip_path}:{member}").split())
    if not signals:
        raise ValueError(f"{zip_path}: holds no .mat records")
    return signals, headers, listed


def _check_unique(zip_path: Path, member: str, name: str, seen: dict) -> None:
    # Two folders may hold a record of one name (a/A00001.mat, b/A00001.mat): one would replace the other.
    if name in seen:
        raise ValueError(f"{zip_path}: member {member!r} repeats record {name}; each record must appear once")


def _ascii(data: bytes, source: str) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source}: not ASCII text (byte {exc.start}: {data[exc.start:exc.start + 4]!r})") from None


def _load_mat(zip_path: Path, member: str, data: bytes) -> np.ndarray:
    """The record's int16 samples; refuses what int16 cannot hold exactly (NaN, fractions, overflow)."""
    where = f"{zip_path}: {member}"
    try:
        mat = scipy.io.loadmat(io.BytesIO(data))
    except Exception as exc:  # scipy raises ValueError, TypeError, MatReadError... on a damaged file
        raise ValueError(f"{where} is not a readable MATLAB file ({type(exc).__name__}: {exc})") from None
    if "val" not in mat:
        raise ValueError(f"{where} has no variable 'val' (found {sorted(k for k in mat if not k.startswith('__'))})")
    val = np.asarray(mat["val"])
    if val.ndim != 2 or val.shape[0] != 1:
        raise ValueError(f"{where} 'val' has shape {val.shape}, expected (1, L) for one lead")
    if val.shape[1] == 0:
        raise ValueError(f"{where} 'val' holds no samples")
    if not (np.issubdtype(val.dtype, np.integer) or np.issubdtype(val.dtype, np.floating)):
        raise ValueError(f"{where} 'val' has dtype {val.dtype}, expected int16 ADC units")
    values = val[0]
    if np.issubdtype(values.dtype, np.floating):
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"{where} 'val' has {int(bad.sum())} non-finite samples (NaN or inf), "
                             f"the first at sample {int(np.argmax(bad))}")
        fractional = values != np.round(values)
        if fractional.any():
            raise ValueError(f"{where} 'val' has {int(fractional.sum())} non-integer samples, the first "
                             f"{values[np.argmax(fractional)]:g} at sample {int(np.argmax(fractional))}; "
                             f"ADC units are integers")
    info = np.iinfo(np.int16)
    outside = (values < info.min) | (values > info.max)
    if outside.any():
        at = int(np.argmax(outside))
        raise ValueError(f"{where} 'val' has {int(outside.sum())} samples outside int16 "
                         f"[{info.min}, {info.max}], the first {values[at]:g} at sample {at}")
    return values.astype(np.int16)


def _check_pairs(zip_path: Path, signals: dict, headers: dict, listed: set[str] | None) -> None:
    for name in sorted(set(signals) ^ set(headers)):
        has = ".mat" if name in signals else ".hea"
        raise ValueError(f"{zip_path}: record {name} has a {has} file but not its pair")
    if listed is not None and listed != set(signals):
        odd = sorted(listed ^ set(signals))[:5]
        raise ValueError(f"{zip_path}: RECORDS and the .mat files disagree, e.g. on record {odd[0]} ({odd})")


def _check_labels(zip_path: Path, reference_path, records: set[str], labels: dict[str, str]) -> None:
    unlabelled = sorted(records - set(labels))
    if unlabelled:
        raise ValueError(f"{zip_path}: record {unlabelled[0]} has no label in {reference_path} "
                         f"({len(unlabelled)} unlabelled)")
    orphans = sorted(set(labels) - records)
    if orphans:
        raise ValueError(f"{reference_path}: record {orphans[0]} is labelled but absent from {zip_path} "
                         f"({len(orphans)} such)")


def _check_header(zip_path: Path, name: str, header: str, signal: np.ndarray, fs: int) -> None:
    """Check the WFDB record line (``name nsig fs nsamples ...``) and signal line against the .mat."""
    lines = [line for line in header.splitlines() if line.strip() and not line.startswith("#")]
    if len(lines) < 2:
        raise ValueError(f"{zip_path}: record {name}: header has {len(lines)} lines, expected 2")
    fields = lines[0].split()
    # The frequency field may carry a counter frequency and base: '300/300(0)'.
    freq = re.match(r"[0-9.]+", fields[2]) if len(fields) >= 4 else None
    if fields[0] != name or freq is None or not fields[3].isdigit():
        raise ValueError(f"{zip_path}: record {name}: malformed header record line {lines[0]!r}")
    nsig, rate, nsamples = int(fields[1]), float(freq.group()), int(fields[3])
    problems = []
    if nsig != 1:
        problems.append(f"header has {nsig} signals, the .mat one")
    if rate != fs:
        problems.append(f"header fs {rate:g} Hz, expected {fs} Hz")
    if nsamples != len(signal):
        problems.append(f"header has {nsamples} samples, the .mat {len(signal)}")
    if lines[1].split()[0] != f"{name}.mat":
        problems.append(f"header signal file {lines[1].split()[0]!r}, expected '{name}.mat'")
    if problems:
        raise ValueError(f"{zip_path}: record {name}: " + "; ".join(problems))


def write_ecgset(path: str | os.PathLike, s: EcgSet) -> None:
    """Write an ECG set as one compressed .npz (no pickle)."""
    write_npz(path, compressed=True, signal=s.signal.astype(np.int16), offsets=s.offsets.astype(np.int64),
              label=s.label.astype(str), record=s.record.astype(str), fs=np.array(s.fs, dtype=np.int64))


def read_ecgset(path: str | os.PathLike) -> EcgSet:
    data = read_npz(path)
    missing = {"signal", "offsets", "label", "record", "fs"} - set(data)
    if missing:
        raise ValueError(f"{path}: not a medrobust ECG set, missing arrays {sorted(missing)}")
    return EcgSet(signal=data["signal"], offsets=data["offsets"], label=data["label"],
                  record=data["record"], fs=int(data["fs"]))


def crop_or_pad(ecgset: EcgSet, length: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Fixed-length matrix (N, length) float32 in ADC units.

    A longer record is cropped from its start, or from a uniformly drawn start when ``rng`` is given
    (a training-time augmentation); a shorter one is padded with zeros at its end.
    """
    out = np.zeros((ecgset.n_records, length), dtype=np.float32)
    for i, n in enumerate(ecgset.lengths):
        start = int(rng.integers(0, n - length + 1)) if (rng is not None and n > length) else 0
        piece = ecgset.record_signal(i)[start:start + length]
        out[i, :len(piece)] = piece
    return out
