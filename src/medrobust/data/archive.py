"""Read the publishers' archives (PhysioNet's .tar.gz and .zip) member by member, without extracting.

Nothing is written to disk: each regular file is yielded as ``(name, bytes)``. A member whose name
could escape a destination folder (absolute, or with a ``..`` component), a link or a device is refused
rather than skipped, because a downloaded archive that holds one is not the archive the publisher made.
So is a member name that appears twice (unpacked, the second copy would silently replace the first).
A truncated or corrupt archive raises :class:`ArchiveError` naming the file, never a bare ``EOFError``.

Decompression is capped, so that a member that inflates without bound (a "zip bomb") is refused before
it is read into memory (see README, "Corrupted and hostile inputs"):
- no member may hold more than :data:`MAX_MEMBER_BYTES` (16 MiB; the largest real member is 85 KB, a
  2017 record; 2012 records are at most 24 KB);
- the data may not inflate more than :data:`MAX_RATIO` times (100:1; the real archives inflate 4-5
  times), per member for a zip and over the whole stream for a tar.gz. The ratio is checked only
  once :data:`RATIO_FLOOR` bytes have come out, since a few tiny files may compress far better.
"""
from __future__ import annotations

import os
import re
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Iterator

# What the standard library raises on a damaged archive: a truncated gzip stream gives EOFError,
# a bad deflate block zlib.error, a bad gzip magic OSError (gzip.BadGzipFile), a bad CRC BadZipFile.
_CORRUPT = (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError)

_DRIVE = re.compile(r"^[A-Za-z]:")

MAX_MEMBER_BYTES = 16 * 2**20
MAX_RATIO = 100
RATIO_FLOOR = 2**20
_CHUNK = 2**20


class ArchiveError(ValueError):
    """An archive that is corrupt, truncated, or holds a member that is unsafe to read."""


def iter_tar_members(path: str | os.PathLike, max_member_bytes: int = MAX_MEMBER_BYTES,
                     max_ratio: float = MAX_RATIO) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, data)`` for each regular file of a tar archive (.tar, .tar.gz, .tar.bz2), in order.

    Directories are skipped; links, devices, FIFOs, unsafe and repeated names are refused, and so is
    a member above the size cap or a stream that inflates beyond the ratio cap.
    """
    path = Path(path)
    packed = max(path.stat().st_size, 1)
    seen: set[str] = set()
    inflated = 0  # bytes of tar stream read so far: headers, padding and data
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for member in tar:  # streams: the member list is never held whole
                _check_name(path, member.name, seen)
                inflated = member.offset_data + member.size
                _check_ratio(path, member.name, inflated, packed, max_ratio)
                if member.isdir():
                    continue
                if not member.isreg():
                    raise ArchiveError(f"{path}: member {member.name!r} is a {_tar_kind(member)}; refused")
                _check_size(path, member.name, member.size, max_member_bytes)
                handle = tar.extractfile(member)
                yield member.name, _read_capped(handle, path, member.name, max_member_bytes) if handle else b""
    except (FileNotFoundError, ArchiveError):
        raise
    except _CORRUPT as err:
        raise ArchiveError(f"{path}: corrupt or truncated tar archive ({type(err).__name__}: {err})") from err


def iter_zip_members(path: str | os.PathLike, max_member_bytes: int = MAX_MEMBER_BYTES,
                     max_ratio: float = MAX_RATIO) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, data)`` for each regular file of a zip archive, in the order of its directory.

    Directories are skipped; symbolic links (Unix mode bits in the external attributes), unsafe and
    repeated names are refused, and so is a member above the size or ratio cap, before it is
    decompressed. Each member's CRC is checked by :mod:`zipfile` as it is read.
    """
    path = Path(path)
    seen: set[str] = set()
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                _check_name(path, info.filename, seen)
                if info.is_dir():
                    continue
                # Unix mode in the high bits; many writers set permissions only, with no file type.
                mode = info.external_attr >> 16
                if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                    raise ArchiveError(f"{path}: member {info.filename!r} is not a regular file "
                                       f"(mode {oct(mode)}); refused")
                if info.flag_bits & 0x1:
                    raise ArchiveError(f"{path}: member {info.filename!r} is encrypted; refused")
                _check_size(path, info.filename, info.file_size, max_member_bytes)
                _check_ratio(path, info.filename, info.file_size, max(info.compress_size, 1), max_ratio)
                with archive.open(info) as handle:  # the sizes above are the directory's claim: read capped
                    yield info.filename, _read_capped(handle, path, info.filename, max_member_bytes)
    except (FileNotFoundError, ArchiveError):
        raise
    except _CORRUPT as err:
        raise ArchiveError(f"{path}: corrupt or truncated zip archive ({type(err).__name__}: {err})") from err


def _check_name(archive: Path, name: str, seen: set[str]) -> None:
    """Refuse a member name that is absolute, climbs out with '..' (POSIX or Windows separators), or repeats."""
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise ArchiveError(f"{archive}: member {name!r} has an absolute path; refused")
    if ".." in re.split(r"[/\\]", name):
        raise ArchiveError(f"{archive}: member {name!r} has a '..' path component; refused")
    key = name.rstrip("/")
    if key in seen:
        raise ArchiveError(f"{archive}: member {name!r} appears twice; refused (unpacked, the second copy "
                           f"would silently replace the first)")
    seen.add(key)


def _check_size(archive: Path, name: str, size: int, cap: int) -> None:
    if size > cap:
        raise ArchiveError(f"{archive}: member {name!r} holds {size:,} bytes, above the cap of {cap:,} "
                           f"per member; refused before reading it")


def _check_ratio(archive: Path, name: str, inflated: int, packed: int, cap: float) -> None:
    if inflated > RATIO_FLOOR and inflated > cap * packed:
        raise ArchiveError(f"{archive}: member {name!r} inflates {inflated:,} bytes from {packed:,} "
                           f"compressed ({inflated / packed:,.0f}:1), above the cap of {cap:g}:1; refused")


def _read_capped(handle, archive: Path, name: str, cap: int) -> bytes:
    """Read a member in chunks, stopping as soon as it passes ``cap`` whatever its header claimed."""
    chunks, total = [], 0
    while chunk := handle.read(min(_CHUNK, cap + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            _check_size(archive, name, total, cap)
    return b"".join(chunks)


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"symbolic link to {member.linkname!r}"
    if member.islnk():
        return f"hard link to {member.linkname!r}"
    if member.ischr() or member.isblk():
        return "device"
    if member.isfifo():
        return "FIFO"
    return "non-regular member"
