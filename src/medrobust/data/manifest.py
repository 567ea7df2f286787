"""The run manifest (results/manifest.json): every input's checksum, where it came from, and the software.

The manifest re-hashes each file under resources/ and checks it against the publisher's checksum
once more, so a file altered after download stops the run here instead of feeding a study.
"""
from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from medrobust.data import registry, verify
from medrobust.data.fetch import Sources, verifier_for

# The headline versions, shown in the report; "environment" lists every installed distribution.
PACKAGES = ["medrobust", "torch", "numpy", "pandas", "scikit-learn", "scipy", "snakemake",
            "adversarial-robustness-toolbox", "transformers", "torchmetrics", "medmnist", "seaborn"]
# Settings a run may carry that must never reach a shared file.
SECRET_KEYS = {"password", "username", "token", "netrc", "credentials"}


def build(resource_paths: list[str], sources: Sources, config: dict,
          weights: dict[str, list[str]] | None = None) -> dict:
    """``weights``: for each study, the pretrained weight files it loads (registered in its rule file)."""
    return {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs": [_describe_input(p, sources) for p in sorted(resource_paths)],
        "weights": [_describe_weights(study, p) for study, paths in sorted((weights or {}).items())
                    for p in sorted(paths)],
        "software": _versions(),
        "environment": _environment(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
        "config": _public(config),
        "determinism": {
            "seeds": "every job derives its seed from config 'seed' and its wildcards (sha256)",
            "torch_deterministic_algorithms": bool(config.get("deterministic", True)),
            "cpu": "byte-identical metrics between runs of the same config",
            "gpu": "cuDNN RNN and scatter/atomic kernels may differ in the last digits between runs",
        },
    }


def _describe_input(path: str, sources: Sources) -> dict:
    relpath = path.removeprefix("resources/")
    dataset = registry.dataset_of_path(relpath)
    verifier_for(relpath, Path(path), sources)(Path(path), path)  # raises VerificationError if altered
    sha = verify.file_digest(path)
    mirror_copy = sources.mirror / relpath if sources.mirror else None
    from_mirror = mirror_copy is not None and mirror_copy.is_file()
    return {
        "dataset": dataset.name, "title": dataset.title, "version": dataset.version,
        "license": dataset.license, "path": path, "sha256": sha, "bytes": os.path.getsize(path),
        "source": "mirror" if from_mirror else sources.url_for(relpath),
        "upstream_url": sources.url_for(relpath),
        "verified_against": "SHA256SUMS.txt" if dataset.checksum == "sha256sums" else "medmnist.INFO MD5",
    }


def _describe_weights(study: str, path: str) -> dict:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"manifest: study {study} registers the weight file {path}, which does not exist")
    return {"study": study, "file": _short_path(file), "sha256": verify.file_digest(file),
            "bytes": file.stat().st_size}


def _short_path(file: Path) -> str:
    """A weight file's path from its site-packages (or the full path when it lies elsewhere)."""
    parts = file.resolve().parts
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1:])
    return str(file)


def _environment() -> list[str]:
    """Every installed distribution as 'name==version' (what `pip freeze` lists), sorted."""
    found = {(d.metadata["Name"] or "").lower(): d.version for d in metadata.distributions()}
    return sorted(f"{name}=={version}" for name, version in found.items() if name)


def _versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _public(config: dict) -> dict:
    """The config without any secret-looking key; a mirror path is kept (it is not secret)."""
    return {k: (_public(v) if isinstance(v, dict) else v) for k, v in config.items()
            if k.lower() not in SECRET_KEYS}
