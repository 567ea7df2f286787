"""MedMNIST v2/v3 ``.npz`` files (Yang et al., Scientific Data 2023), checked against the package's INFO.

Source: Zenodo record 10519652, ``<flag>.npz`` (28x28) and ``<flag>_{64,128,224}.npz``. Each file holds
``{train,val,test}_images`` (uint8; (n, s, s) grey or (n, s, s, 3) colour, (n, s, s, s) for the 3D
sets) and ``{train,val,test}_labels`` (n, k): k = 1 class index, or one 0/1 column per label for
the multi-label set.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

SPLITS: tuple[str, ...] = ("train", "val", "test")
SIZES: tuple[int, ...] = (28, 64, 128, 224)


def medmnist_info(flag: str) -> dict:
    """The ``medmnist.INFO`` entry of ``flag`` (sample counts, channels, task, label names)."""
    from medrobust.data.registry import medmnist_info_table

    info = medmnist_info_table()
    if flag not in info:
        raise ValueError(f"unknown MedMNIST flag {flag!r}; known: {sorted(info)}")
    return info[flag]


def is_multi_label(flag: str) -> bool:
    return medmnist_info(flag)["task"].startswith("multi-label")


def expected_shapes(flag: str, size: int = 28) -> dict[str, tuple[int, ...]]:
    """Array shapes that ``<flag>.npz`` at ``size`` must have, from INFO."""
    if size not in SIZES:
        raise ValueError(f"MedMNIST size must be one of {SIZES}, got {size}")
    info = medmnist_info(flag)
    if flag.endswith("3d"):
        image = (size, size, size)
    else:
        image = (size, size) if info["n_channels"] == 1 else (size, size, info["n_channels"])
    n_labels = len(info["label"]) if is_multi_label(flag) else 1
    shapes = {}
    for split in SPLITS:
        n = info["n_samples"][split]
        shapes[f"{split}_images"] = (n, *image)
        shapes[f"{split}_labels"] = (n, n_labels)
    return shapes


def load(npz_path: str | os.PathLike, flag: str, size: int = 28) -> dict[str, np.ndarray]:
    """The six arrays of a MedMNIST npz, each checked for presence, shape, dtype and (labels) values.

    Images must be uint8; labels integers, each a class index of the flag (``0 <= y < classes``), or
    0/1 per finding for the multi-label flag. Raises ValueError naming the file and the key on a
    missing key, a mismatch, an object (pickled) array, or a file that is not an npz at all.
    """
    npz_path = Path(npz_path)
    shapes = expected_shapes(flag, size)
    try:
        data = np.load(npz_path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:  # numpy's message names neither file nor format
        raise ValueError(f"{npz_path}: not a MedMNIST .npz file ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{npz_path}: a single .npy array, not a MedMNIST .npz archive of named arrays")
    with data:
        missing = [key for key in shapes if key not in data.files]
        if missing:
            raise ValueError(f"{npz_path}: missing key {missing[0]!r} (MedMNIST {flag} needs {list(shapes)}; "
                             f"found {data.files})")
        arrays = {key: _read_key(data, npz_path, key) for key in shapes}
    for key, want in shapes.items():
        got = arrays[key].shape
        if got != want:
            raise ValueError(f"{npz_path}: key {key!r} has shape {got}, expected {want} for {flag} at {size}px")
        if key.endswith("_images") and arrays[key].dtype != np.uint8:
            raise ValueError(f"{npz_path}: key {key!r} has dtype {arrays[key].dtype}, expected uint8")
        if key.endswith("_labels"):
            _check_labels(npz_path, key, arrays[key], flag)
    return arrays


def _read_key(data, npz_path: Path, key: str) -> np.ndarray:
    try:
        return data[key]
    except ValueError as exc:  # numpy: "Object arrays cannot be loaded when allow_pickle=False"
        raise ValueError(f"{npz_path}: key {key!r} is an object (pickled) array, refused: MedMNIST files "
                         f"hold numeric arrays only ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{npz_path}: key {key!r} cannot be read ({type(exc).__name__}: {exc})") from None


def _check_labels(npz_path: Path, key: str, labels: np.ndarray, flag: str) -> None:
    """Integer labels within the flag's classes: a float would be truncated, a stray class miscounted."""
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{npz_path}: key {key!r} has dtype {labels.dtype}, expected integer class labels")
    info = medmnist_info(flag)
    allowed = 2 if is_multi_label(flag) else len(info["label"])
    outside = (labels < 0) | (labels >= allowed)
    if outside.any():
        values = sorted(set(np.unique(labels[outside]).tolist()))[:5]
        what = "0/1 per finding" if is_multi_label(flag) else f"a class index 0-{allowed - 1}"
        raise ValueError(f"{npz_path}: key {key!r} has {int(outside.sum())} labels outside {flag}'s classes "
                         f"(e.g. {values}); each must be {what}")
