"""Checksums: PhysioNet's per-version ``SHA256SUMS.txt`` and MedMNIST's MD5s (``medmnist.INFO``)."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_SUMS_LINE = re.compile(r"^([0-9a-f]{64})\s+\*?(\S.*)$")


class VerificationError(ValueError):
    """A file does not match its published checksum."""


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sha256sums(path: str | os.PathLike) -> dict[str, str]:
    """``name -> sha256`` from a ``SHA256SUMS.txt``; any malformed line is an error naming it."""
    sums = {}
    for lineno, line in enumerate(Path(path).read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        match = _SUMS_LINE.match(line.strip())
        if not match:
            raise VerificationError(f"{path}, line {lineno}: not a '<sha256> <file>' line: {line[:80]!r}"
                                    f"{_html_hint(path)}")
        sums[match.group(2)] = match.group(1)
    if not sums:
        raise VerificationError(f"{path}: empty checksum list")
    return sums


def expected_sha256(sums_file: str | os.PathLike, name: str) -> str:
    sums = read_sha256sums(sums_file)
    if name not in sums:
        raise VerificationError(f"{sums_file}: lists no checksum for {name!r}")
    return sums[name]


def check_digest(path: str | os.PathLike, expected: str, algorithm: str, label: str) -> str:
    """Raise :class:`VerificationError` unless ``path`` hashes to ``expected``; return the sha256."""
    got = file_digest(path, algorithm)
    if got != expected.lower():
        size = os.path.getsize(path)
        raise VerificationError(f"{label}: {algorithm} mismatch: got {got}, expected {expected} "
                                f"({size} bytes){_html_hint(path)}")
    return got if algorithm == "sha256" else file_digest(path, "sha256")


def _html_hint(path: str | os.PathLike) -> str:
    with open(path, "rb") as fh:
        head = fh.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "; the file is an HTML page (an error or login page saved in place of the data)"
    return ""
