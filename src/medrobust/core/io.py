"""Atomic writes: an output is either complete or absent, never half-written.

Every writer here writes to a temporary file in the destination's folder and renames it into
place (``os.replace`` is atomic on POSIX), so a killed job or a full disk never leaves a file
that a rerun would trust.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it onto ``dest`` only if the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=f".part{suffix}", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give outputs the permissions a plain open() would (shared reports).
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, dest)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            free = shutil.disk_usage(dest.parent).free
            raise OSError(exc.errno, f"{dest}: the disk is full ({free} bytes free in {dest.parent}); "
                                     f"nothing was written") from exc
        raise
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text(dest: str | os.PathLike, text: str) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(dest: str | os.PathLike, obj: Any) -> None:
    write_text(dest, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_csv(dest: str | os.PathLike, frame: pd.DataFrame) -> None:
    with atomic_path(dest) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")


def write_npz(dest: str | os.PathLike, compressed: bool = False, **arrays: np.ndarray) -> None:
    """Write arrays to ``dest`` (.npz). Object arrays are refused: they would need pickle to load."""
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(f"{dest}: array {key!r} has dtype object; store strings as fixed-width 'U' arrays")
    saver = np.savez_compressed if compressed else np.savez
    with atomic_path(dest, suffix=".npz") as tmp:
        saver(tmp, **arrays)


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of an npz without pickle (``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
