"""The run manifest hashes the pretrained weights a study loads and lists the whole environment."""
from __future__ import annotations

import hashlib
from importlib import metadata

import pytest

from medrobust.data.fetch import Sources
from medrobust.data.manifest import build


def test_weights_are_hashed_and_every_package_is_listed(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"not really weights" * 1000)
    record = build([], Sources(offline=True), {"seed": 1}, weights={"clm": [str(weights)]})
    assert record["weights"] == [{"study": "clm", "file": str(weights), "bytes": weights.stat().st_size,
                                  "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}]
    installed = {d.metadata["Name"].lower() for d in metadata.distributions() if d.metadata["Name"]}
    listed = {entry.split("==")[0] for entry in record["environment"]}
    assert listed == installed and len(listed) > 50
    assert f"torch=={metadata.version('torch')}" in record["environment"]


def test_a_registered_weight_file_that_is_missing_stops_the_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="study clm registers the weight file .*absent.bin"):
        build([], Sources(offline=True), {}, weights={"clm": [str(tmp_path / "absent.bin")]})


def test_site_packages_paths_are_shortened(tmp_path):
    inside = tmp_path / "lib" / "site-packages" / "pkg" / "model"
    inside.mkdir(parents=True)
    (inside / "w.bin").write_bytes(b"x")
    record = build([], Sources(offline=True), {}, weights={"clm": [str(inside / "w.bin")]})
    assert record["weights"][0]["file"] == "pkg/model/w.bin"
