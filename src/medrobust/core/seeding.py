"""Seeds derived from the config seed and a job's wildcards, never from execution order.

``derive_seed(base, "ehr", "gru", "poison_rate=0.02", 1)`` is the same number on every machine
and under every executor, so a job gives the same result locally and on SLURM.
"""
from __future__ import annotations

import hashlib
import os
import random

import numpy as np


def derive_seed(base: int, *keys: object) -> int:
    """A 32-bit seed from ``base`` and any keys, stable across processes and Python versions."""
    text = "\x1f".join([str(int(base)), *map(str, keys)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def make_rng(base: int, *keys: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(base, *keys))


def torch_generator(base: int, *keys: object, device: str = "cpu"):
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(derive_seed(base, *keys))
    return gen


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; on CPU, also make torch's algorithms deterministic.

    GPU kernels (cuDNN RNNs, scatter-adds) may still differ between runs; the report says so.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency of the studies only
        return
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def torch_device() -> str:
    """'cuda' when torch sees a GPU, else 'cpu'."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
