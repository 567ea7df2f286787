"""Provenance tracking: a hash manifest of the data as parsed, checked before anyone trains on it, the
defense Rosenblatt et al. propose against enhancement attacks (arXiv 2301.01885, Discussion: "more
robust data provenance tracking").

The trunk already verifies every download against the publisher's checksums (PhysioNet's
``SHA256SUMS.txt``; :mod:`medrobust.data.manifest`). An enhancement attack alters the data *after*
that point, in the table a collaborator shares, so this check carries the same idea one step further:
when the clean table is made from the verified download, :class:`Provenance` ``fit`` records one
SHA-256 per row (one per stay, as PhysioNet lists one per record file) and one for the whole table
(over the row digests, the row ids and the shape). Before training, ``score`` re-hashes the table it
is given: a row scores 1 if its digest differs from the manifest (or it is missing from it), else 0.

Rows are hashed as their float64 bytes in C order, so *any* change of any value, down to the last
bit, changes the digest; equal numbers stored at another precision would also differ, so the
manifest fixes float64 (``-0.0`` and ``0.0`` hash differently too: the check is exact by design).
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import numpy as np


def row_digests(x: np.ndarray) -> list[str]:
    """SHA-256 of each row's float64 bytes."""
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    return [hashlib.sha256(row.tobytes()).hexdigest() for row in x]


def table_digest(digests: list[str], ids: np.ndarray, shape: tuple[int, ...]) -> str:
    h = hashlib.sha256(repr(tuple(int(s) for s in shape)).encode())
    for rid, digest in zip(np.asarray(ids).tolist(), digests):
        h.update(f"{rid}:{digest}\n".encode())
    return h.hexdigest()


@dataclass
class Provenance:
    """Detector: ``fit(clean, ids)`` records the manifest; ``score(x, ids)`` is 1 per altered row."""

    rows: dict[str, str] = field(default_factory=dict)
    table: str = ""
    shape: tuple[int, ...] = ()
    fit_seconds: float = float("nan")

    def fit(self, clean: np.ndarray, ids: np.ndarray) -> "Provenance":
        start = time.perf_counter()
        digests = row_digests(clean)
        self.rows = {str(i): d for i, d in zip(np.asarray(ids).tolist(), digests)}
        self.shape = tuple(np.shape(clean))
        self.table = table_digest(digests, ids, self.shape)
        self.fit_seconds = time.perf_counter() - start
        return self

    def score(self, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        digests = row_digests(x)
        return np.array([float(self.rows.get(str(i)) != d) for i, d in zip(np.asarray(ids).tolist(), digests)])

    def table_altered(self, x: np.ndarray, ids: np.ndarray) -> bool:
        """The whole-table check: any altered, added, dropped or reordered row."""
        return table_digest(row_digests(x), ids, np.shape(x)) != self.table

    def to_json(self) -> dict:
        return {"algorithm": "sha256 of float64 row bytes (C order)", "shape": list(self.shape),
                "table_sha256": self.table, "rows": self.rows, "fit_seconds": self.fit_seconds}

    @classmethod
    def from_json(cls, manifest: dict) -> "Provenance":
        return cls(rows=dict(manifest["rows"]), table=manifest["table_sha256"],
                   shape=tuple(manifest["shape"]), fit_seconds=float(manifest.get("fit_seconds", float("nan"))))


def timed_check(detector: Provenance, x: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, bool, float]:
    """Per-row flags, the whole-table flag and the seconds both took (the check's cost before training)."""
    start = time.perf_counter()
    flags = detector.score(x, ids)
    altered = detector.table_altered(x, ids)
    return flags, altered, time.perf_counter() - start
