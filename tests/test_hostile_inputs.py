"""Hostile-input suite: damaged files in the publishers' formats, fed to the data rules' own scripts.

Each case builds one kind of bad input from the fixtures (a 2012 set, a 2017 zip, a MedMNIST npz, a
mirror, a config), runs the rule's script (``scripts/*.py``) in-process with a ``snakemake`` object
as Snakemake would pass it, and asserts that it stops with a message naming the culprit (archive and
member, record, line or key) and that the rule's output folder holds nothing afterwards: no cohort
file, no half-written temporary. The one documented skip (a 2012 line with an unknown parameter name)
is asserted to be counted in the rule's log. The README's hostile-input table lists every case id
(``test_readme_table_lists_every_case``).
"""
from __future__ import annotations

import gzip
import io
import logging
import re
import runpy
import subprocess
import sys
import tarfile
import tracemalloc
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pytest
import scipy.io

from fixtures.challenge2012 import record_text, write_set, write_sha256sums
from fixtures.publishers import make_challenge2017, make_medmnist, wfdb_header
from medrobust.config import ConfigError, load_schema, typed_command_line, validate

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
RIDS = (132539, 132540, 132541)  # set a of the 2012 fixture; 132540 is the damaged record
BAD = "set-a.tar.gz:set-a/132540.txt"


@dataclass
class Case:
    id: str
    build: Callable[[Path], dict]  # -> the rule's script, inputs, output, params (see _run_rule)
    expect: tuple[str, ...]  # substrings of the error message that name the culprit and the problem
    error: type = Exception
    skip_logged: tuple[str, ...] = ()  # the documented skip: the rule succeeds and its log counts this
    extra: dict = field(default_factory=dict)


def _run_rule(script: str, workdir: Path, inputs: list[Path], output: str, params: dict | None = None,
              wildcards: dict | None = None, config: dict | None = None) -> tuple[Path, Path]:
    """Run ``scripts/<script>.py`` as its rule would; return (output path, log path)."""
    out, log = workdir / output, workdir / "logs" / f"{script}.log"
    out.parent.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    sm = SimpleNamespace(input=[str(p) for p in inputs], output=[output],
                         log=[str(log)], params=SimpleNamespace(**(params or {})),
                         wildcards=SimpleNamespace(**(wildcards or {})), config=config or {})
    stderr, root = sys.stderr, logging.getLogger()
    handlers = list(root.handlers)
    try:
        runpy.run_path(str(SCRIPTS / f"{script}.py"), init_globals={"snakemake": sm}, run_name="__main__")
    finally:  # the script pointed stderr and logging at its rule log
        if sys.stderr is not stderr:
            sys.stderr.close()
        sys.stderr = stderr
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
    return out, log


# === PhysioNet/CinC 2012 ==========================================================================

def _records(**replace: str) -> dict[int, str]:
    rng = np.random.default_rng(0)
    records = {rid: record_text(rid, rng, died=False) for rid in RIDS}
    records.update({int(k): v for k, v in replace.items()})
    return records


def _with_lines(*lines: str) -> dict[int, str]:
    return _records(**{"132540": record_text(132540, np.random.default_rng(1), False, extra_lines=lines)})


def _tar_gz(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], level: int = 9) -> Path:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=level) as gz, \
            tarfile.open(fileobj=gz, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    path.write_bytes(buf.getvalue())
    return path


def _member(name: str, **attrs) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def _set_a_members() -> list[tuple[tarfile.TarInfo, bytes]]:
    return [(_member(f"set-a/{rid}.txt"), text.encode()) for rid, text in _records().items()]


def _outcomes(rows: list[str]) -> str:
    return "RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n" + "\n".join(rows) + "\n"


def _c2012(records: dict[int, str] | None = None, outcomes: str | None = None,
           archive: Callable[[Path], None] | None = None, set_b: dict[int, str] | None = None) -> Callable:
    """A 2012 parse case: set a from ``records`` (or written by ``archive``), optional set b."""
    def build(tmp: Path) -> dict:
        folder = tmp / "mirror"
        folder.mkdir()
        records_a = records or _records()
        write_set(folder, "a", records_a, {rid: i % 2 for i, rid in enumerate(sorted(records_a))})
        if archive is not None:
            archive(folder / "set-a.tar.gz")
        if outcomes is not None:
            (folder / "Outcomes-a.txt").write_text(outcomes)
        sets = ["a"]
        if set_b is not None:
            write_set(folder, "b", set_b, {rid: 0 for rid in set_b})
            sets.append("b")
        inputs = [folder / f"{kind}-{s}.{ext}" for s in sets for kind, ext in (("set", "tar.gz"), ("Outcomes", "txt"))]
        return dict(script="parse_challenge2012", inputs=inputs, output="results/data/challenge2012/cohort.npz",
                    params=dict(sets=sets, hours=48))
    return build


def _rewrite_tar(transform: Callable[[list], list]) -> Callable[[Path], None]:
    return lambda path: _tar_gz(path, transform(_set_a_members()))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _bomb_tar(path: Path) -> None:  # 20 MiB of one byte: about 20 KB compressed (1000:1)
    _tar_gz(path, _set_a_members() + [(_member("set-a/132599.txt"), b"0" * (20 * 2**20))])


def _big_tar(path: Path) -> None:  # 17 MiB that does not compress: the size cap, not the ratio
    noise = np.random.default_rng(0).integers(0, 256, 17 * 2**20, dtype=np.uint8).tobytes()
    _tar_gz(path, _set_a_members() + [(_member("set-a/132599.txt"), noise)], level=1)


def _not_utf8(members):
    members[1] = (members[1][0], members[1][1] + b"01:00,HR,\xff\xfe\n")
    return members


CASES_2012 = [
    Case("2012-time-negative", _c2012(_with_lines("-01:30,HR,80")), (BAD, "'-01:30'", "negative")),
    Case("2012-time-minutes", _c2012(_with_lines("01:75,HR,80")), (BAD, "'01:75'", "00-59")),
    Case("2012-time-format", _c2012(_with_lines("1h30,HR,80")), (BAD, "'1h30'", "HH:MM")),
    Case("2012-line-fields", _c2012(_with_lines("01:30,HR")), (BAD, "3 comma-separated fields")),
    Case("2012-value-text", _c2012(_with_lines("01:30,HR,high")), (BAD, "non-numeric value 'high' for HR")),
    Case("2012-value-nonfinite", _c2012(_with_lines("01:30,HR,inf")), (BAD, "non-finite value 'inf'")),
    Case("2012-record-not-utf8", _c2012(archive=_rewrite_tar(_not_utf8)), (BAD, "not UTF-8")),
    Case("2012-recordid-twice", _c2012(_with_lines("00:00,RecordID,132777")),
         (BAD, "a second RecordID line", "132540")),
    Case("2012-recordid-missing", _c2012(_records(**{"132540": "Time,Parameter,Value\n00:00,Age,60\n"})),
         (BAD, "no RecordID line")),
    Case("2012-recordid-filename", _c2012(_records(**{"132540": record_text(132599, np.random.default_rng(2), False)})),
         (BAD, "RecordID 132599 disagrees with the file name 132540.txt")),
    Case("2012-recordid-two-files", _c2012(set_b={132540: record_text(132540, np.random.default_rng(3), False)}),
         ("set-b.tar.gz:set-b/132540.txt", "also in set-a.tar.gz:set-a/132540.txt")),
    Case("2012-descriptor-late", _c2012(_with_lines("05:00,Age,60")), (BAD, "Age recorded at 05:00", "00:00 only")),
    Case("2012-descriptor-twice", _c2012(_with_lines("00:00,Gender,1")), (BAD, "Gender recorded twice")),
    Case("2012-outcome-label", _c2012(outcomes=_outcomes(["132539,1,1,1,1,0", "132540,1,1,1,1,2", "132541,1,1,1,1,0"])),
         ("Outcomes-a.txt, line 3", "In-hospital_death '2'", "not 0 or 1")),
    Case("2012-outcome-repeated", _c2012(outcomes=_outcomes(["132539,1,1,1,1,0", "132540,1,1,1,1,1",
                                                             "132541,1,1,1,1,0", "132540,1,1,1,1,0"])),
         ("Outcomes-a.txt, line 5", "RecordID 132540 is listed twice", "line 3")),
    Case("2012-outcome-malformed", _c2012(outcomes=_outcomes(["132539,1,1,1,1,0", "13254O,1,1,1,1,1"])),
         ("Outcomes-a.txt, line 3", "malformed outcome")),
    Case("2012-outcome-header", _c2012(outcomes="RecordID,Death\n132539,0\n"),
         ("Outcomes-a.txt", "not a 2012 outcomes file")),
    Case("2012-outcome-without-record", _c2012(outcomes=_outcomes(
        ["132539,1,1,1,1,0", "132540,1,1,1,1,1", "132541,1,1,1,1,0", "132542,1,1,1,1,0"])),
        ("Outcomes-a.txt", "1 outcome rows have no record in set-a.tar.gz", "132542")),
    Case("2012-record-without-outcome", _c2012(outcomes=_outcomes(["132539,1,1,1,1,0", "132541,1,1,1,1,0"])),
         (BAD, "RecordID 132540 has no row in Outcomes-a.txt")),
    Case("2012-unknown-parameter", _c2012(_with_lines("01:00,Lactat,2.0", "02:00,,1")), (),
         skip_logged=("unknown parameters", "'Lactat': 1", "'': 1")),
    Case("tar-truncated", _c2012(archive=_truncate), ("set-a.tar.gz", "corrupt or truncated tar archive")),
    Case("tar-traversal", _c2012(archive=_rewrite_tar(lambda m: m + [(_member("set-a/../../evil.txt"), b"x")])),
         ("set-a.tar.gz", "'set-a/../../evil.txt'", "'..' path component")),
    Case("tar-absolute", _c2012(archive=_rewrite_tar(lambda m: m + [(_member("/tmp/evil.txt"), b"x")])),
         ("set-a.tar.gz", "'/tmp/evil.txt'", "absolute path")),
    Case("tar-symlink", _c2012(archive=_rewrite_tar(lambda m: m + [(_member(
        "set-a/132600.txt", type=tarfile.SYMTYPE, linkname="/etc/passwd"), None)])),
        ("set-a.tar.gz", "'set-a/132600.txt'", "symbolic link to '/etc/passwd'")),
    Case("tar-hardlink", _c2012(archive=_rewrite_tar(lambda m: m + [(_member(
        "set-a/132600.txt", type=tarfile.LNKTYPE, linkname="set-a/132539.txt"), None)])),
        ("set-a.tar.gz", "hard link")),
    Case("tar-device", _c2012(archive=_rewrite_tar(lambda m: m + [(_member(
        "set-a/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3), None)])), ("set-a.tar.gz", "device")),
    Case("tar-repeated-member", _c2012(archive=_rewrite_tar(lambda m: m + [(_member("set-a/132540.txt"), m[0][1])])),
         ("set-a.tar.gz", "'set-a/132540.txt' appears twice")),
    Case("tar-empty", _c2012(archive=lambda p: _tar_gz(p, [])), ("set-a.tar.gz", "holds no record files")),
    Case("tar-bomb-ratio", _c2012(archive=_bomb_tar), ("set-a.tar.gz", "'set-a/132599.txt'", "above the cap of 100:1"),
         extra={"peak_mib": 8}),
    Case("tar-member-size", _c2012(archive=_big_tar),
         ("set-a.tar.gz", "'set-a/132599.txt' holds 17,825,792 bytes", "above the cap of 16,777,216")),
]


# === PhysioNet/CinC 2017 ==========================================================================

def _zip_members(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def _write_zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> None:
    import warnings

    with warnings.catch_warnings():  # zipfile warns on a repeated name: that is the case under test
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members:
                archive.writestr(name, data)


def _savemat(**variables: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, format="4")
    return buffer.getvalue()


def _mat(val: np.ndarray) -> bytes:
    return _savemat(val=val.reshape(1, -1))


def _c2017(members: Callable[[list], list] | None = None, reference: Callable[[str], str] | None = None,
           labels: str = "v3", damage: Callable[[Path], None] | None = None) -> Callable:
    def build(tmp: Path) -> dict:
        published = make_challenge2017(tmp / "mirror", n_records=4)
        if members is not None:
            _write_zip(published["zip"], members(_zip_members(published["zip"])))
        if reference is not None:
            published["reference"].write_text(reference(published["reference"].read_text()))
        if damage is not None:
            damage(published["zip"])
        return dict(script="parse_challenge2017", inputs=[published["zip"], published["reference"]],
                    output="results/data/challenge2017/ecg.npz", params=dict(labels=labels))
    return build


def _replace_member(name: str, data: Callable[[bytes], bytes]) -> Callable[[list], list]:
    return lambda members: [(n, data(d) if n == name else d) for n, d in members]


def _signal_a2(transform: Callable[[np.ndarray], np.ndarray]) -> Callable[[list], list]:
    def edit(data: bytes) -> bytes:
        return _mat(transform(scipy.io.loadmat(io.BytesIO(data))["val"][0]))
    return _replace_member("training2017/A00002.mat", edit)


def _with_nan(signal):
    out = signal.astype(np.float64)
    out[10] = np.nan
    return out


def _with_value(value, dtype):
    def edit(signal):
        out = signal.astype(dtype)
        out[10] = value
        return out
    return edit


def _header_a2(**kwargs) -> Callable[[list], list]:
    def edit(members):
        signal = scipy.io.loadmat(io.BytesIO(dict(members)["training2017/A00002.mat"]))["val"][0]
        return [(n, wfdb_header("A00002", signal, **kwargs).encode() if n == "training2017/A00002.hea" else d)
                for n, d in members]
    return edit


def _zip_symlink(members):
    info = zipfile.ZipInfo("training2017/A00009.mat", date_time=(2017, 1, 1, 0, 0, 0))
    info.external_attr = (0o120777 << 16)
    return members + [(info, b"/etc/passwd")]


A2 = "training2017/A00002.mat"
CASES_2017 = [
    Case("2017-mat-nan", _c2017(_signal_a2(_with_nan)), ("training2017.zip", A2, "1 non-finite samples", "sample 10")),
    Case("2017-mat-int16-overflow", _c2017(_signal_a2(_with_value(70000, np.int32))),
         ("training2017.zip", A2, "outside int16", "70000 at sample 10")),
    Case("2017-mat-fractional", _c2017(_signal_a2(_with_value(12.5, np.float64))),
         ("training2017.zip", A2, "non-integer samples", "12.5")),
    Case("2017-mat-unreadable", _c2017(_replace_member(A2, lambda d: b"MATLAB" + bytes(range(50)))),
         ("training2017.zip", A2, "not a readable MATLAB file")),
    Case("2017-mat-no-val", _c2017(_replace_member(A2, lambda d: _savemat(ecg=np.zeros((1, 300), dtype=np.int16)))),
         ("training2017.zip", A2, "no variable 'val'", "['ecg']")),
    Case("2017-mat-two-leads", _c2017(_replace_member(A2, lambda d: _savemat(val=np.zeros((2, 300), dtype=np.int16)))),
         ("training2017.zip", A2, "shape (2, 300)", "one lead")),
    Case("2017-header-fs", _c2017(_header_a2(fs=500)), ("training2017.zip", "record A00002", "300")),
    Case("2017-header-length", _c2017(_header_a2(n_samples=5)), ("training2017.zip", "record A00002", "5")),
    Case("2017-record-unpaired", _c2017(lambda m: [x for x in m if x[0] != "training2017/A00002.hea"]),
         ("training2017.zip", "record A00002 has a .mat file but not its pair")),
    Case("2017-zip-repeated-member", _c2017(lambda m: m + [(A2, dict(m)[A2])]),
         ("training2017.zip", f"'{A2}' appears twice")),
    Case("2017-record-two-folders", _c2017(lambda m: m + [("extra/A00002.mat", dict(m)[A2])]),
         ("training2017.zip", "'extra/A00002.mat' repeats record A00002")),
    Case("2017-label-missing", _c2017(reference=lambda t: "".join(t.splitlines(True)[:1] + t.splitlines(True)[2:])),
         ("training2017.zip", "record A00002 has no label in", "REFERENCE-v3.csv")),
    Case("2017-label-twice", _c2017(reference=lambda t: t + "A00002,O\n"),
         ("REFERENCE-v3.csv, line 5", "record A00002 is labelled twice", "line 2")),
    Case("2017-label-unknown", _c2017(reference=lambda t: t.replace("A00002,A", "A00002,AF")),
         ("REFERENCE-v3.csv, line 2", "malformed reference line")),
    Case("2017-label-orphan", _c2017(reference=lambda t: t + "A09999,N\n"),
         ("REFERENCE-v3.csv", "record A09999 is labelled but absent from")),
    Case("2017-original-labels-malformed",
         _c2017(_replace_member("training2017/REFERENCE.csv", lambda d: d.replace(b"A00003,O", b"A00003,X")),
                labels="original"),
         ("training2017.zip:training2017/REFERENCE.csv, line 3", "malformed reference line")),
    Case("zip-truncated", _c2017(damage=_truncate), ("training2017.zip", "corrupt or truncated zip archive")),
    Case("zip-traversal", _c2017(lambda m: m + [("../A00009.mat", b"x")]),
         ("training2017.zip", "'../A00009.mat'", "'..' path component")),
    Case("zip-symlink", _c2017(_zip_symlink), ("training2017.zip", "'training2017/A00009.mat' is not a regular file")),
    Case("zip-bomb-ratio", _c2017(lambda m: m + [("training2017/A09999.mat", b"\0" * (10 * 2**20))]),
         ("training2017.zip", "'training2017/A09999.mat'", "above the cap of 100:1"), extra={"peak_mib": 8}),
]


# === MedMNIST ======================================================================================

FLAG = "pneumoniamnist"


@pytest.fixture(scope="module")
def medmnist_arrays(tmp_path_factory) -> dict[str, np.ndarray]:
    path = make_medmnist(tmp_path_factory.mktemp("medmnist"), flag=FLAG)
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def _npz(edit: Callable[[dict], dict | None] = lambda a: a, raw: bytes | None = None) -> Callable:
    def build(tmp: Path, arrays: dict) -> dict:
        path = tmp / "mirror" / f"{FLAG}.npz"
        path.parent.mkdir(parents=True)
        if raw is not None:
            path.write_bytes(raw)
        else:
            with open(path, "wb") as handle:
                np.savez(handle, **edit({k: v.copy() for k, v in arrays.items()}))
        return dict(script="summarize_dataset", inputs=[path], output="results/data/medmnist/summary.csv",
                    params=dict(medmnist={"size": 28, "flags": [FLAG]}), wildcards=dict(dataset="medmnist"))
    build.needs_arrays = True
    return build


def _set(key, transform):
    def edit(arrays):
        arrays[key] = transform(arrays[key])
        return arrays
    return edit


def _one_label(value):
    def change(labels):
        labels[7, 0] = value
        return labels
    return change


def _npy_bytes() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    return buffer.getvalue()


NPZ = f"{FLAG}.npz"
CASES_MEDMNIST = [
    Case("npz-label-out-of-range", _npz(_set("test_labels", _one_label(2))),
         (NPZ, "'test_labels'", "1 labels outside pneumoniamnist's classes", "0-1")),
    Case("npz-label-negative", _npz(_set("val_labels", lambda y: _one_label(-1)(y.astype(np.int64)))),
         (NPZ, "'val_labels'", "outside pneumoniamnist's classes")),
    Case("npz-label-float", _npz(_set("train_labels", lambda y: y.astype(np.float32) + 0.4)),
         (NPZ, "'train_labels'", "dtype float32", "integer class labels")),
    Case("npz-object-array", _npz(_set("train_labels", lambda y: y.astype(object))),
         (NPZ, "'train_labels'", "object (pickled) array")),
    Case("npz-missing-key", _npz(lambda a: {k: v for k, v in a.items() if k != "val_images"}),
         (NPZ, "missing key 'val_images'")),
    Case("npz-wrong-shape", _npz(_set("test_images", lambda x: x[:, :27, :27])),
         (NPZ, "'test_images' has shape (624, 27, 27)")),
    Case("npz-image-dtype", _npz(_set("test_images", lambda x: x.astype(np.float32))),
         (NPZ, "'test_images' has dtype float32", "uint8")),
    Case("npz-not-npz", _npz(raw=b"<html><body>Too many requests</body></html>"), (NPZ, "not a MedMNIST .npz file")),
    Case("npz-single-array", _npz(raw=_npy_bytes()), (NPZ, "single .npy array")),
]


# === Downloads (the fetch rules, from a file mirror) ===============================================

def _fetch(damage: Callable[[Path], None], target: str = "physionet/challenge-2012/1.0.0/Outcomes-a.txt") -> Callable:
    def build(tmp: Path) -> dict:
        mirror = tmp / "mirror"
        folder = mirror / "physionet" / "challenge-2012" / "1.0.0"
        folder.mkdir(parents=True)
        write_set(folder, "a", _records(), {rid: 0 for rid in RIDS})
        write_sha256sums(folder)
        damage(mirror)
        config = validate({}, load_schema(ROOT / "workflow" / "schemas"), environ={"MEDROBUST_MIRROR": str(mirror)})
        if not target.endswith("SHA256SUMS.txt"):  # the checksum list comes first, as in the DAG
            sums = "resources/physionet/challenge-2012/1.0.0/SHA256SUMS.txt"
            _run_rule("fetch", tmp, [], sums, config=config)
        return dict(script="fetch", inputs=[], output=f"resources/{target}", config=config)
    return build


def _flip_byte(name: str) -> Callable[[Path], None]:
    def damage(mirror: Path) -> None:
        path = next(mirror.rglob(name))
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    return damage


def _replace_file(name: str, text: str | None) -> Callable[[Path], None]:
    def damage(mirror: Path) -> None:
        path = next(mirror.rglob(name))
        path.unlink() if text is None else path.write_text(text)
    return damage


CASES_FETCH = [
    Case("fetch-bit-flip", _fetch(_flip_byte("Outcomes-a.txt")), ("Outcomes-a.txt", "sha256 mismatch")),
    Case("fetch-html-page", _fetch(_replace_file("Outcomes-a.txt", "<!DOCTYPE html><html>Error</html>\n")),
         ("Outcomes-a.txt", "sha256 mismatch", "HTML page")),
    Case("fetch-missing-file", _fetch(_replace_file("Outcomes-a.txt", None)),
         ("could not fetch physionet/challenge-2012/1.0.0/Outcomes-a.txt", "To pre-stage it")),
    Case("fetch-sums-malformed", _fetch(_replace_file("SHA256SUMS.txt", "Outcomes-a.txt abc\n"),
                                        target="physionet/challenge-2012/1.0.0/SHA256SUMS.txt"),
         ("SHA256SUMS.txt (mirror), line 1", "not a '<sha256> <file>' line")),
    Case("fetch-unlisted-file", _fetch(lambda m: (next(m.rglob("SHA256SUMS.txt")).write_text(
        "\n".join(l for l in next(m.rglob("SHA256SUMS.txt")).read_text().splitlines() if "Outcomes" not in l) + "\n"))),
        ("SHA256SUMS.txt", "lists no checksum for 'Outcomes-a.txt'")),
]


# === The cases, run ================================================================================

CASES = CASES_2012 + CASES_2017 + CASES_MEDMNIST + CASES_FETCH


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_input(case: Case, tmp_path, monkeypatch, request):
    monkeypatch.chdir(tmp_path)  # outputs are relative to the working directory, as in a run
    spec = case.build(tmp_path, request.getfixturevalue("medmnist_arrays")) \
        if getattr(case.build, "needs_arrays", False) else case.build(tmp_path)
    out_dir = tmp_path / Path(spec["output"]).parent
    before = set(out_dir.iterdir()) if out_dir.exists() else set()
    if case.skip_logged:
        out, log = _run_rule(workdir=tmp_path, **spec)
        assert out.exists()
        for part in case.skip_logged:
            assert part in log.read_text()
        return
    peak_mib = case.extra.get("peak_mib")
    if peak_mib:
        tracemalloc.start()
    try:
        with pytest.raises(case.error) as raised:
            _run_rule(workdir=tmp_path, **spec)
        if peak_mib:  # refused before the member was read into memory
            assert tracemalloc.get_traced_memory()[1] < peak_mib * 2**20
    finally:
        if peak_mib:
            tracemalloc.stop()
    message = str(raised.value)
    for part in case.expect:
        assert part in message, f"{part!r} not in {message!r}"
    left = set(out_dir.iterdir()) - before if out_dir.exists() else set()
    assert not left, f"the failed rule left {sorted(p.name for p in left)}"


# === Config: typed --config values, dotted keys, dataset flags, the mirror ==========================

SCHEMA = load_schema(ROOT / "workflow" / "schemas")
CONFIG_CASES = {
    "config-nested-number": ({"data": {"retries": "0"}}, "config key 'data.retries': 0 is less than the minimum of 1"),
    "config-dotted-key": ({"data.retries": "0"}, "config key 'data.retries': 0 is less than the minimum of 1"),
    "config-nested-wrong-type": ({"data": {"retries": "many"}}, "config key 'data.retries': 'many' is not of type 'integer'"),
    "config-unknown-dotted-key": ({"data.mirorr": "/x"}, "config key 'data.mirorr': unknown key"),
    "flag-unknown": ({"data": {"medmnist": {"flags": "[pneumonia]"}}},
                     "config key 'data.medmnist.flags.0': unknown MedMNIST flag 'pneumonia'"),
    "flag-3d": ({"data.medmnist.flags": "[organmnist3d]"}, "'organmnist3d' is a 3D MedMNIST flag"),
    "flag-multi-label": ({"fedgan.flag": "chestmnist"}, "config key 'fedgan.flag': 'chestmnist' is multi-label"),
    "mirror-missing": ({"data.mirror": "/nonexistent/mirror"},
                       "config key 'data.mirror': the mirror folder /nonexistent/mirror does not exist"),
}


@pytest.mark.parametrize("case_id", CONFIG_CASES)
def test_hostile_config(case_id):
    command_line, message = CONFIG_CASES[case_id]
    with pytest.raises(ConfigError) as raised:
        validate({}, SCHEMA, environ={}, command_line=command_line, check_paths=True)
    assert message in str(raised.value)
    assert str(raised.value).count("config key") == 1  # one message, not one per file or per key


def test_command_line_values_are_typed_as_in_a_config_file():
    config = validate({}, SCHEMA, environ={}, command_line={"data": {"retries": "5", "timeout": "2.5"},
                                                             "report.title": "2024", "seed": 3})
    assert config["data"]["retries"] == 5 and config["data"]["timeout"] == 2.5
    assert config["report"]["title"] == "2024"  # the schema takes a string there: it stays text
    assert typed_command_line({"a.b.c": "1", "a.b.d": "x"}, {}) == {"a": {"b": {"c": 1, "d": "x"}}}


def _snakemake(workdir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    environ = {k: v for k, v in os.environ.items() if k != "MEDROBUST_MIRROR"} | (env or {})
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--snakefile", str(ROOT / "Snakefile"),
               "--directory", str(workdir), *args]
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=120)


def test_snakemake_command_line_nested_values_are_typed_and_validated(tmp_path):
    result = _snakemake(tmp_path, "--config", "data={retries: 0}")
    assert result.returncode != 0
    assert "config key 'data.retries': 0 is less than the minimum of 1" in result.stdout + result.stderr


def test_make_answers_a_dotted_config_key_with_how_to_write_it():
    # Snakemake's own option parser refuses data.retries=0 before the workflow is read, with a message
    # that does not say what to write; make, the documented entry point, says it first.
    result = subprocess.run(["make", "-n", "help", "SMK_ARGS=--config data.mirror=/some/dir seed=3"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--config 'data={mirror: /some/dir}'" in result.stderr


def test_snakemake_missing_mirror_is_reported_once_up_front(tmp_path):
    result = _snakemake(tmp_path, env={"MEDROBUST_MIRROR": "/nonexistent/mirror"})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert output.count("/nonexistent/mirror does not exist") == 1
    assert "MEDROBUST_MIRROR" in output
    assert "could not fetch" not in output  # not one error per file


# === The README's table ============================================================================

def test_readme_table_lists_every_case():
    text = (ROOT / "README.md").read_text()
    table = text.split("| input | outcome | cases |", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", table))
    assert listed == {c.id for c in CASES} | set(CONFIG_CASES)
