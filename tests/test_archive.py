"""Safe archive reading: unsafe members and damaged archives are refused, naming the file."""
from __future__ import annotations

import io
import stat
import tarfile
import zipfile

import numpy as np
import pytest

from medrobust.data.archive import ArchiveError, iter_tar_members, iter_zip_members


def _tar(path, members):
    """members: (TarInfo, bytes or None)."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name, data=b"x"):
    return tarfile.TarInfo(name), data


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def test_tar_yields_regular_files_and_skips_directories(tmp_path):
    folder = tarfile.TarInfo("set-a")
    folder.type = tarfile.DIRTYPE
    path = _tar(tmp_path / "ok.tar.gz", [(folder, None), _file("set-a/132539.txt", b"Time,Parameter,Value\n"),
                                         _file("set-a/132540.txt", b"")])
    before = sorted(tmp_path.iterdir())
    assert list(iter_tar_members(path)) == [("set-a/132539.txt", b"Time,Parameter,Value\n"),
                                            ("set-a/132540.txt", b"")]
    assert sorted(tmp_path.iterdir()) == before  # nothing extracted


@pytest.mark.parametrize("member, why", [
    (_file("set-a/../../evil.txt"), "'..'"),
    (_file("/etc/evil.txt"), "absolute"),
    (_link("set-a/link", "../../outside"), "symbolic link"),
    (_link("set-a/hard", "set-a/132539.txt", tarfile.LNKTYPE), "hard link"),
    (_link("set-a/dev", "", tarfile.CHRTYPE), "device"),
])
def test_tar_refuses_unsafe_members(tmp_path, member, why):
    path = _tar(tmp_path / "bad.tar.gz", [_file("set-a/132539.txt"), member])
    with pytest.raises(ArchiveError) as err:
        list(iter_tar_members(path))
    message = str(err.value)
    assert str(path) in message and repr(member[0].name) in message and why in message


def test_truncated_tar_gz_is_refused_naming_the_file(tmp_path):
    noise = np.random.default_rng(0).bytes(200_000)  # incompressible, so the cut lands mid-member
    path = _tar(tmp_path / "set-a.tar.gz", [_file("set-a/1.txt", noise), _file("set-a/2.txt", noise)])
    path.write_bytes(path.read_bytes()[:150_000])
    with pytest.raises(ArchiveError, match="set-a.tar.gz.*corrupt or truncated"):
        list(iter_tar_members(path))


def test_garbage_tar_is_refused(tmp_path):
    path = tmp_path / "garbage.tar.gz"
    path.write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)
    with pytest.raises(ArchiveError, match="garbage.tar.gz"):
        list(iter_tar_members(path))


def test_missing_archive_is_not_called_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(iter_tar_members(tmp_path / "absent.tar.gz"))


def _zip(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, data)
    return path


def test_zip_yields_regular_files(tmp_path):
    path = _zip(tmp_path / "ok.zip", [("training2017/", b"", stat.S_IFDIR | 0o755),
                                      ("training2017/A00001.hea", b"A00001 1 300 9000\n", 0o644),
                                      ("training2017/RECORDS", b"A00001\n", stat.S_IFREG | 0o644)])
    assert [name for name, _ in iter_zip_members(path)] == ["training2017/A00001.hea", "training2017/RECORDS"]


@pytest.mark.parametrize("name, mode, why", [
    ("training2017/../../evil.mat", 0o644, "'..'"),
    ("..\\evil.mat", 0o644, "'..'"),
    ("/abs/evil.mat", 0o644, "absolute"),
    ("training2017/link", stat.S_IFLNK | 0o777, "not a regular file"),
])
def test_zip_refuses_unsafe_members(tmp_path, name, mode, why):
    path = _zip(tmp_path / "bad.zip", [("training2017/A00001.hea", b"x", 0o644), (name, b"../outside", mode)])
    with pytest.raises(ArchiveError) as err:
        list(iter_zip_members(path))
    assert str(path) in str(err.value) and repr(name) in str(err.value) and why in str(err.value)


def test_truncated_zip_is_refused_naming_the_file(tmp_path):
    path = _zip(tmp_path / "training2017.zip", [("training2017/A00001.mat", b"\x00" * 5000, 0o644)])
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ArchiveError, match="training2017.zip.*corrupt or truncated"):
        list(iter_zip_members(path))


def test_zip_with_bad_crc_is_refused(tmp_path):
    path = _zip(tmp_path / "crc.zip", [("training2017/A00001.mat", b"abcdefgh" * 100, 0o644)])
    raw = bytearray(path.read_bytes())
    at = raw.index(b"training2017/A00001.mat") + len("training2017/A00001.mat")
    raw[at + 5] ^= 0xFF  # flip a byte of the compressed data
    path.write_bytes(bytes(raw))
    with pytest.raises(ArchiveError, match="crc.zip"):
        list(iter_zip_members(path))
