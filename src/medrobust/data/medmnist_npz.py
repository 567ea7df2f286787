"""MedMNIST v2/v3 ``.npz`` files (Yang et al., Scientific Data 2023), checked against the package's INFO.

Source: Zenodo record 10519652, ``<flag>.npz`` (28x28) and ``<flag>_{64,128,224}.npz``. Each file holds
``{train,val,test}_images`` (uint8; (n, s, s) grey or (n, s, s, 3) colour, (n, s, s, s) for the 3D
sets) and ``{train,val,test}_labels`` (n, k): k = 1 class index, or one 0/1 column per label for
the multi-label set.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SPLITS: tuple[str, ...] = ("train", "val", "test")
SIZES: tuple[int, ...] = (28, 64, 128, 224)


def medmnist_info(flag: str) -> dict:
    """The ``medmnist.INFO`` entry of ``flag`` (sample counts, channels, task, label names)."""
    # `from medmnist import INFO` works here although medmnist is installed without its dependencies:
    # the package __init__ swallows the failed import of its torch datasets. It does import torch
    # when that is installed (about 3 s), hence the import inside the function. (medmnist.info
    # cannot be imported on its own: importing the submodule runs the package __init__ first.)
    from medmnist import INFO

    if flag not in INFO:
        raise ValueError(f"unknown MedMNIST flag {flag!r}; known: {sorted(INFO)}")
    return INFO[flag]


def expected_shapes(flag: str, size: int = 28) -> dict[str, tuple[int, ...]]:
    """Array shapes that ``<flag>.npz`` at ``size`` must have, from INFO."""
    if size not in SIZES:
        raise ValueError(f"MedMNIST size must be one of {SIZES}, got {size}")
    info = medmnist_info(flag)
    if flag.endswith("3d"):
        image = (size, size, size)
    else:
        image = (size, size) if info["n_channels"] == 1 else (size, size, info["n_channels"])
    n_labels = len(info["label"]) if info["task"].startswith("multi-label") else 1
    shapes = {}
    for split in SPLITS:
        n = info["n_samples"][split]
        shapes[f"{split}_images"] = (n, *image)
        shapes[f"{split}_labels"] = (n, n_labels)
    return shapes


def load(npz_path: str | os.PathLike, flag: str, size: int = 28) -> dict[str, np.ndarray]:
    """The six arrays of a MedMNIST npz, each checked for presence, shape and (images) dtype uint8.

    Raises ValueError naming the file and the key on a missing key or a mismatch.
    """
    npz_path = Path(npz_path)
    shapes = expected_shapes(flag, size)
    with np.load(npz_path, allow_pickle=False) as data:
        missing = [key for key in shapes if key not in data.files]
        if missing:
            raise ValueError(f"{npz_path}: missing key {missing[0]!r} (MedMNIST {flag} needs {list(shapes)}; "
                             f"found {data.files})")
        arrays = {key: data[key] for key in shapes}
    for key, want in shapes.items():
        got = arrays[key].shape
        if got != want:
            raise ValueError(f"{npz_path}: key {key!r} has shape {got}, expected {want} for {flag} at {size}px")
        if key.endswith("_images") and arrays[key].dtype != np.uint8:
            raise ValueError(f"{npz_path}: key {key!r} has dtype {arrays[key].dtype}, expected uint8")
    return arrays
