"""PhysioNet/CinC 2017 loader on a generated training2017.zip."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import scipy.io

from fixtures.publishers import make_challenge2017, wfdb_header
from medrobust.data.challenge2017 import EcgSet, crop_or_pad, parse, read_ecgset, write_ecgset


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return make_challenge2017(tmp_path_factory.mktemp("challenge2017"), n_records=6)


def _members(zip_path):
    with zipfile.ZipFile(zip_path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rezip(members, path):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_parse_reads_every_record_with_its_label(published):
    ecg = parse(published["zip"], published["reference"])
    members = _members(published["zip"])
    assert ecg.fs == 300 and ecg.n_records == 6
    assert ecg.record.tolist() == [f"A0000{i}" for i in range(1, 7)]
    assert ecg.label.tolist() == ["N", "A", "O", "~", "N", "A"]
    assert ecg.signal.dtype == np.int16 and ecg.offsets.dtype == np.int64
    assert ecg.offsets[0] == 0 and ecg.offsets[-1] == len(ecg.signal)
    for i, name in enumerate(ecg.record):
        val = scipy.io.loadmat(io.BytesIO(members[f"training2017/{name}.mat"]))["val"][0]
        np.testing.assert_array_equal(ecg.record_signal(i), val)


def _replace(published, tmp_path, name, data):
    members = _members(published["zip"])
    if data is None:
        del members[name]
    else:
        members[name] = data
    return _rezip(members, tmp_path / "training2017.zip")


def _signal(published, name):
    return scipy.io.loadmat(io.BytesIO(_members(published["zip"])[f"training2017/{name}.mat"]))["val"][0]


def test_header_sample_count_disagreeing_with_signal_is_refused(published, tmp_path):
    signal = _signal(published, "A00002")
    header = wfdb_header("A00002", signal, n_samples=len(signal) + 1)
    broken = _replace(published, tmp_path, "training2017/A00002.hea", header.encode())
    with pytest.raises(ValueError, match=rf"A00002: header has {len(signal) + 1} samples, the .mat {len(signal)}"):
        parse(broken, published["reference"])


def test_header_fs_disagreeing_is_refused(published, tmp_path):
    header = wfdb_header("A00003", _signal(published, "A00003"), fs=250)
    broken = _replace(published, tmp_path, "training2017/A00003.hea", header.encode())
    with pytest.raises(ValueError, match=r"A00003: header fs 250 Hz, expected 300 Hz"):
        parse(broken, published["reference"])


def test_mat_without_header_is_refused(published, tmp_path):
    broken = _replace(published, tmp_path, "training2017/A00004.hea", None)
    with pytest.raises(ValueError, match="A00004 has a .mat file but not its pair"):
        parse(broken, published["reference"])


def test_two_lead_mat_is_refused(published, tmp_path):
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"val": np.zeros((2, 10), np.int16)}, format="4")
    broken = _replace(published, tmp_path, "training2017/A00001.mat", buffer.getvalue())
    with pytest.raises(ValueError, match=r"A00001.mat 'val' has shape \(2, 10\)"):
        parse(broken, published["reference"])


def test_unlabelled_record_is_refused(published, tmp_path):
    lines = published["reference"].read_text().splitlines()
    reference = tmp_path / "REFERENCE-v3.csv"
    reference.write_text("\n".join(line for line in lines if not line.startswith("A00005")) + "\n")
    with pytest.raises(ValueError, match="record A00005 has no label"):
        parse(published["zip"], reference)


def test_label_without_record_is_refused(published, tmp_path):
    reference = tmp_path / "REFERENCE-v3.csv"
    reference.write_text(published["reference"].read_text() + "A09999,N\n")
    with pytest.raises(ValueError, match="record A09999 is labelled but absent"):
        parse(published["zip"], reference)


def test_unknown_label_is_refused(published, tmp_path):
    reference = tmp_path / "REFERENCE-v3.csv"
    reference.write_text(published["reference"].read_text().replace("A00001,N", "A00001,X"))
    with pytest.raises(ValueError, match="malformed reference line"):
        parse(published["zip"], reference)


def test_records_list_disagreeing_with_files_is_refused(published, tmp_path):
    members = _members(published["zip"])
    members["training2017/RECORDS"] += b"A00077\n"
    with pytest.raises(ValueError, match="RECORDS and the .mat files disagree, e.g. on record A00077"):
        parse(_rezip(members, tmp_path / "training2017.zip"), published["reference"])


def test_write_and_read_round_trip(published, tmp_path):
    ecg = parse(published["zip"], published["reference"])
    write_ecgset(tmp_path / "ecg.npz", ecg)
    back = read_ecgset(tmp_path / "ecg.npz")
    for field in ("signal", "offsets", "label", "record"):
        np.testing.assert_array_equal(getattr(back, field), getattr(ecg, field))
    assert back.fs == 300


def test_crop_or_pad():
    ecg = EcgSet(signal=np.arange(1, 9, dtype=np.int16), offsets=np.array([0, 3, 8]),
                 label=np.array(["N", "A"]), record=np.array(["A00001", "A00002"]), fs=300)
    np.testing.assert_array_equal(crop_or_pad(ecg, 4), [[1, 2, 3, 0], [4, 5, 6, 7]])
    out = crop_or_pad(ecg, 4, rng=np.random.default_rng(0))
    assert out.dtype == np.float32 and out.shape == (2, 4)
    np.testing.assert_array_equal(out[0], [1, 2, 3, 0])          # shorter: padded, never shifted
    assert out[1, 0] in (4, 5) and np.all(np.diff(out[1]) == 1)  # a contiguous window of record 2
    np.testing.assert_array_equal(out, crop_or_pad(ecg, 4, rng=np.random.default_rng(0)))


def test_ecgset_refuses_inconsistent_offsets():
    with pytest.raises(ValueError, match="offsets"):
        EcgSet(signal=np.zeros(5, np.int16), offsets=np.array([0, 3, 6]), label=np.array(["N", "A"]),
               record=np.array(["A00001", "A00002"]), fs=300)


def test_fixture_signals_look_like_ecg(published):
    """Beats stand out of the noise for N, A, O (the later ECG tests train on these)."""
    ecg = parse(published["zip"], published["reference"])
    for i, label in enumerate(ecg.label):
        x = np.convolve(ecg.record_signal(i).astype(float), np.ones(5) / 5, mode="same")
        peaks = np.sum((x[1:] > 500) & (x[:-1] <= 500))  # upward crossings of 0.5 mV
        seconds = len(x) / ecg.fs
        if label in "NAO":
            assert 0.8 * seconds < peaks < 3 * seconds, (label, peaks, seconds)
