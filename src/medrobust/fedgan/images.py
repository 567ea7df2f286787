"""MedMNIST images as tensors for the federated GAN study.

Any 2D MedMNIST flag (Yang et al., Scientific Data 2023) works without code changes: grey
``(n, s, s)`` and colour ``(n, s, s, 3)`` uint8 arrays both become ``(n, c, s, s)`` float tensors
in ``[-1, 1]`` (the range of the generator's tanh), binary and multi-class labels both become one
class index per image. Multi-label flags (chestmnist) have no single class to condition the GAN on
and are refused with a ValueError; 3D flags are refused as well.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class ImageSplits:
    """Train/val/test images in ``[-1, 1]`` as ``(n, c, s, s)`` float32, labels as int64 class indices."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    n_classes: int

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def size(self) -> int:
        return int(self.train_x.shape[-1])


def check_flag(flag: str) -> None:
    """Refuse flags this study cannot condition a GAN on, naming the config key."""
    from medrobust.data.medmnist_npz import medmnist_info

    info = medmnist_info(flag)
    if flag.endswith("3d"):
        raise ValueError(f"config key 'fedgan.flag': {flag!r} is a 3D MedMNIST set; the study needs a 2D flag")
    if info["task"].startswith("multi-label"):
        raise ValueError(f"config key 'fedgan.flag': {flag!r} is multi-label ({info['task']}); the conditional "
                         "GAN needs one class per image, so multi-label flags are not supported")


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(n, s, s)`` or ``(n, s, s, 3)`` -> float32 ``(n, c, s, s)`` in ``[-1, 1]``."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div(127.5).sub(1.0)
    return x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Inverse of :func:`to_tensor`: ``(n, c, s, s)`` in ``[-1, 1]`` -> uint8 ``(n, s, s, c)``."""
    return ((x.detach().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def image_splits(arrays: dict[str, np.ndarray], flag: str) -> ImageSplits:
    """The arrays of :func:`medrobust.data.medmnist_npz.load` as tensors; refuses unsupported flags."""
    from medrobust.data.medmnist_npz import medmnist_info

    check_flag(flag)
    n_classes = len(medmnist_info(flag)["label"])
    parts = {}
    for split in ("train", "val", "test"):
        parts[f"{split}_x"] = to_tensor(arrays[f"{split}_images"])
        parts[f"{split}_y"] = torch.from_numpy(arrays[f"{split}_labels"][:, 0].astype(np.int64))
    return ImageSplits(**parts, n_classes=n_classes)
