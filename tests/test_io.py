"""Atomic writes, safe loading, and a clear error on a full disk."""
from __future__ import annotations

import os
import pickle
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from medrobust.core.io import atomic_path, read_npz, write_csv, write_npz


class _Exploit:
    """Unpickling this would run a command: the loaders must refuse it."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/medrobust-pwned",))


def test_failed_write_leaves_nothing(tmp_path):
    dest = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(dest) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []


def test_malicious_pickle_in_npz_is_refused(tmp_path):
    path = tmp_path / "results.npz"
    np.savez(path, data=np.array([_Exploit()], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        read_npz(path)
    assert not Path("/tmp/medrobust-pwned").exists()


def test_malicious_torch_checkpoint_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    with open(path, "wb") as fh:
        pickle.dump({"weights": _Exploit()}, fh)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    assert not Path("/tmp/medrobust-pwned").exists()


def test_object_arrays_are_never_written(tmp_path):
    with pytest.raises(TypeError, match="dtype object"):
        write_npz(tmp_path / "x.npz", bad=np.array([{"a": 1}], dtype=object))


def test_library_never_loads_torch_files_without_weights_only():
    root = Path(__file__).resolve().parents[1]
    offenders = [f"{p}:{i}" for p in [*root.glob("src/**/*.py"), *root.glob("scripts/*.py")]
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if "torch.load(" in line and "weights_only=True" not in line]
    assert offenders == []


@pytest.fixture()
def tiny_disk(tmp_path):
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_full_disk_gives_a_clear_error_and_no_partial_file(tiny_disk):
    dest = tiny_disk / "results" / "big.npz"
    with pytest.raises(OSError, match=r"big\.npz: the disk is full .* nothing was written"):
        write_npz(dest, values=np.zeros(1_000_000, dtype=np.float64))
    assert list(dest.parent.iterdir()) == []
    with pytest.raises(OSError, match="the disk is full"):
        write_csv(tiny_disk / "m.csv", pd.DataFrame({"x": np.arange(200_000)}))
