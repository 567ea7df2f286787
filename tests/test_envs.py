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
