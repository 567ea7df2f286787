"""MedMNIST npz loader: keys and shapes checked against medmnist.INFO."""
from __future__ import annotations

import numpy as np
import pytest

from fixtures.publishers import make_medmnist
from medrobust.data.medmnist_npz import expected_shapes, load


@pytest.fixture(scope="module")
def breast(tmp_path_factory):
    return make_medmnist(tmp_path_factory.mktemp("medmnist"), "breastmnist")


def test_load_returns_the_six_arrays_with_info_shapes(breast):
    data = load(breast, "breastmnist")
    assert {k: v.shape for k, v in data.items()} == {
        "train_images": (546, 28, 28), "train_labels": (546, 1),
        "val_images": (78, 28, 28), "val_labels": (78, 1),
        "test_images": (156, 28, 28), "test_labels": (156, 1)}
    assert data["train_images"].dtype == np.uint8
    assert set(np.unique(data["test_labels"])) == {0, 1}


def test_missing_key_is_refused_naming_file_and_key(breast, tmp_path):
    with np.load(breast) as data:
        arrays = {k: data[k] for k in data.files if k != "val_labels"}
    path = tmp_path / "breastmnist.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"breastmnist.npz: missing key 'val_labels'"):
        load(path, "breastmnist")


def test_wrong_shape_is_refused_naming_file_and_key(tmp_path):
    path = make_medmnist(tmp_path, "breastmnist", n=10)
    with pytest.raises(ValueError, match=r"breastmnist.npz: key 'train_images' has shape \(10, 28, 28\), "
                                         r"expected \(546, 28, 28\)"):
        load(path, "breastmnist")


def test_wrong_size_is_refused(breast):
    with pytest.raises(ValueError, match=r"key 'train_images' has shape \(546, 28, 28\), expected \(546, 64, 64\)"):
        load(breast, "breastmnist", size=64)


def test_wrong_dtype_is_refused(breast, tmp_path):
    with np.load(breast) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["test_images"] = arrays["test_images"].astype(np.float32)
    path = tmp_path / "breastmnist.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="key 'test_images' has dtype float32"):
        load(path, "breastmnist")


def test_pickled_arrays_are_not_loaded(breast, tmp_path):
    with np.load(breast) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["train_labels"] = np.array([object()] * 546, dtype=object).reshape(546, 1)
    path = tmp_path / "breastmnist.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="pickle"):
        load(path, "breastmnist")


def test_expected_shapes_follow_info():
    colour = expected_shapes("pathmnist", size=64)
    assert colour["train_images"] == (89996, 64, 64, 3) and colour["train_labels"] == (89996, 1)
    assert expected_shapes("chestmnist")["val_labels"] == (11219, 14)  # multi-label: one column per finding
    with pytest.raises(ValueError, match="unknown MedMNIST flag"):
        expected_shapes("nosuchmnist")
    with pytest.raises(ValueError, match="size must be one of"):
        expected_shapes("breastmnist", size=32)
