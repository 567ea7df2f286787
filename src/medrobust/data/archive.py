"""Read the publishers' archives (PhysioNet's .tar.gz and .zip) member by member, without extracting.

Nothing is written to disk: each regular file is yielded as ``(name, bytes)``. A member whose name
could escape a destination folder (absolute, or with a ``..`` component), a link or a device is refused
rather than skipped, because a downloaded archive that holds one is not the archive the publisher made.
A truncated or corrupt archive raises :class:`ArchiveError` naming the file, never a bare ``EOFError``.
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


class ArchiveError(ValueError):
    """An archive that is corrupt, truncated, or holds a member that is unsafe to read."""


def iter_tar_members(path: str | os.PathLike) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, data)`` for each regular file of a tar archive (.tar, .tar.gz, .tar.bz2), in order.

    Directories are skipped; links, devices and FIFOs are refused, as are unsafe names.
    """
    path = Path(path)
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for member in tar:  # streams: the member list is never held whole
                _check_name(path, member.name)
                if member.isdir():
                    continue
                if not member.isreg():
                    raise ArchiveError(f"{path}: member {member.name!r} is a {_tar_kind(member)}; refused")
                handle = tar.extractfile(member)
                yield member.name, handle.read() if handle is not None else b""
    except FileNotFoundError:
        raise
    except _CORRUPT as err:
        raise ArchiveError(f"{path}: corrupt or truncated tar archive ({type(err).__name__}: {err})") from err


def iter_zip_members(path: str | os.PathLike) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, data)`` for each regular file of a zip archive, in the order of its directory.

    Directories are skipped; symbolic links (Unix mode bits in the external attributes) are refused,
    as are unsafe names. Each member's CRC is checked by :mod:`zipfile` as it is read.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                _check_name(path, info.filename)
                if info.is_dir():
                    continue
                # Unix mode in the high bits; many writers set permissions only, with no file type.
                mode = info.external_attr >> 16
                if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                    raise ArchiveError(f"{path}: member {info.filename!r} is not a regular file "
                                       f"(mode {oct(mode)}); refused")
                yield info.filename, archive.read(info)
    except FileNotFoundError:
        raise
    except _CORRUPT as err:
        raise ArchiveError(f"{path}: corrupt or truncated zip archive ({type(err).__name__}: {err})") from err


def _check_name(archive: Path, name: str) -> None:
    """Refuse a member name that is absolute or climbs out with '..' (POSIX or Windows separators)."""
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise ArchiveError(f"{archive}: member {name!r} has an absolute path; refused")
    if ".." in re.split(r"[/\\]", name):
        raise ArchiveError(f"{archive}: member {name!r} has a '..' path component; refused")


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
