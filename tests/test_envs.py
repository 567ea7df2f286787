"""The conda environments (for --sdm conda on clusters) stay consistent with the pip lock.

They cannot be solved here (no conda channel is reachable), so this checks what can be checked:
every pin equals the lock's, and the files are exactly what envs/render_conda_envs.py renders.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

ENVS = Path(__file__).resolve().parents[1] / "envs"


def _render_module():
    spec = importlib.util.spec_from_file_location("render_conda_envs", ENVS / "render_conda_envs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RENDER = _render_module()


@pytest.mark.parametrize("group", sorted(RENDER.GROUPS))
def test_env_file_is_the_rendered_one(group):
    assert (ENVS / f"{group}.yaml").read_text() == RENDER.render(group, RENDER.GROUPS[group], RENDER.lock_pins())


@pytest.mark.parametrize("group", sorted(RENDER.GROUPS))
def test_every_pin_matches_the_lock(group):
    env = yaml.safe_load((ENVS / f"{group}.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    lock = RENDER.lock_pins()
    for line in pip:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            assert lock[match.group(1).lower()] == match.group(2), line


def test_lock_pins_the_cpu_torch_and_snakemake_9():
    lock = RENDER.lock_pins()
    assert lock["torch"] == "2.13.0"
    assert lock["snakemake"].startswith("9.")


def test_every_rule_names_an_existing_env():
    rules = Path(__file__).resolve().parents[1] / "workflow" / "rules"
    named = {m for p in rules.glob("*.smk") for m in re.findall(r'"\.\./\.\./envs/([a-z_]+)\.yaml"', p.read_text())}
    assert named and all((ENVS / f"{n}.yaml").is_file() for n in named), named


def _lock_entries(name: str) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) for each requirement of a uv-compiled, hashed lock."""
    entries, current = {}, None
    for line in (ENVS / name).read_text().splitlines():
        if line.startswith((" ", "#")) or not line.strip():
            if current and "--hash=sha256:" in line:
                version, hashes = entries[current]
                entries[current] = (version, hashes + 1)
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)( \\)?", line)
        assert match, f"envs/{name}: unexpected line {line!r}"
        current = match.group(1).lower()
        entries[current] = (match.group(2), 0)
    return entries


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-cuda.lock", "requirements-nodeps.txt"])
def test_every_locked_requirement_is_hashed(lock):
    entries = _lock_entries(lock)
    assert entries
    assert not [n for n, (_, hashes) in entries.items() if hashes == 0], "pip --require-hashes would refuse these"


def test_the_locks_hold_every_top_level_requirement():
    wanted = {re.split(r"[=<>!~\[ ]", line)[0].lower() for line in (ENVS / "requirements.in").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    for lock in ("requirements.lock", "requirements-cuda.lock"):
        assert wanted <= set(_lock_entries(lock)), (lock, wanted - set(_lock_entries(lock)))


def test_cpu_and_cuda_locks_differ_only_in_torch_and_its_gpu_libraries():
    cpu, cuda = _lock_entries("requirements.lock"), _lock_entries("requirements-cuda.lock")
    assert cpu["torch"][0] == "2.13.0+cpu" and cuda["torch"][0] == "2.13.0"
    gpu_only = {n for n in set(cuda) - set(cpu)}
    assert gpu_only and all(n.startswith("nvidia-") or n in ("triton", "cuda-bindings", "cuda-pathfinder",
                                                             "cuda-toolkit") for n in gpu_only), gpu_only
    assert set(cpu) <= set(cuda)
    assert {n: v for n, (v, _) in cpu.items() if n != "torch"} == {n: cuda[n][0] for n in cpu if n != "torch"}


def test_unused_packages_are_not_pinned():
    # wfdb: WFDB headers are parsed by medrobust.data.challenge2017, which also refuses a header whose
    # sampling rate disagrees (wfdb 4.3.1 accepts one); pyarrow and torchattacks were never imported.
    for lock in ("requirements.lock", "requirements-cuda.lock", "requirements-nodeps.txt"):
        assert not {"wfdb", "pyarrow", "torchattacks"} & set(_lock_entries(lock)), lock
