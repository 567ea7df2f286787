"""What a fixture run's results depend on, as one hash: the code, the config and the mirror.

The test suite's smoke run (tests/test_workflow_smoke.py) copies its result CSVs to
results/test-artifacts/smoke-run/ (pytest's own temporary folders are rotated away by later pytest
sessions) and records the fingerprint in results/test-artifacts/smoke-run.json;
tests/cluster/run_slurm_smoke.sh then uses that copy as the local side of its local-versus-SLURM
comparison instead of running the same DAG again, but only when the fingerprint of what it would run is
the same. Usage: python fingerprint.py <config.yaml> <mirror-dir>
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAMP = ROOT / "results" / "test-artifacts" / "smoke-run.json"
COPY = ROOT / "results" / "test-artifacts" / "smoke-run"


def _code_state() -> str:
    """The commit plus every uncommitted change to tracked and untracked (not ignored) files."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    untracked = git("ls-files", "--others", "--exclude-standard").split()
    contents = "".join(f"{p}\n{hashlib.sha256((ROOT / p).read_bytes()).hexdigest()}\n" for p in sorted(untracked)
                       if (ROOT / p).is_file())
    return git("rev-parse", "HEAD") + git("diff", "HEAD", "--binary") + contents


def fingerprint(config: Path, mirror: Path) -> str:
    h = hashlib.sha256()
    h.update(_code_state().encode())
    h.update(config.read_bytes())
    for f in sorted(p for p in mirror.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(mirror)).encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def record(workdir: Path, config: Path, mirror: Path) -> None:
    """Copy the run's result CSVs (what the comparison reads) and stamp them with the fingerprint."""
    STAMP.unlink(missing_ok=True)  # a stale stamp never outlives a new copy
    shutil.rmtree(COPY, ignore_errors=True)
    for csv in (workdir / "results").rglob("*.csv"):
        target = COPY / csv.relative_to(workdir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(csv, target)
    STAMP.write_text(json.dumps({"workdir": str(COPY), "fingerprint": fingerprint(config, mirror)}))


def recorded_run(config: Path, mirror: Path) -> Path | None:
    """The recorded smoke run's copy if it ran exactly this code, config and mirror, else None."""
    if not STAMP.is_file():
        return None
    stamp = json.loads(STAMP.read_text())
    workdir = Path(stamp["workdir"])
    if stamp["fingerprint"] != fingerprint(config, mirror) or not any((workdir / "results").rglob("*.csv")):
        return None
    return workdir


if __name__ == "__main__":
    found = recorded_run(Path(sys.argv[1]), Path(sys.argv[2]))
    print(found or "")
